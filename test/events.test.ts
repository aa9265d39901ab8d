import { assert, describe, it } from "@effect/vitest"
import { Result } from "effect"
import { readFileSync } from "node:fs"
import {
  decodeLine,
  encodeLine,
  Events,
  formatHuman,
  type JournalEntry,
  parseRfc3339
} from "../src/domain/JournalEvent.ts"

const fixture = new URL("fixtures/go-original-journal.json", import.meta.url)

const decoded = (line: string): JournalEntry => {
  const result = decodeLine(line)
  if (Result.isFailure(result)) throw new Error(`did not decode: ${line}: ${result.failure.message}`)
  return result.success
}

const T = Date.UTC(2026, 10, 23, 19, 3, 38, 123)

describe("journal events", () => {
  it("encode to exactly the JSON of DESIGN.md, field for field", () => {
    const lines = [
      Events.warning("watcher", "ENOSPC"),
      Events.acquiredLock("file:/j.json+stderr"),
      Events.acquiredLock("file:/j.json+stderr", 4000),
      Events.monitorQuit(),
      Events.logTruncated("torn"),
      Events.spawnError("web", "spawn /s/web: permission denied (EACCES)"),
      Events.spawned("web", 4242),
      Events.exited("web", 4242, { code: 0, signal: null }),
      Events.exited("web", 4242, { code: null, signal: "SIGKILL" }, "stop timeout"),
      Events.listModified("update", "web")
    ].map((event) => encodeLine({ time: T, ...event }))
    const time = `{"time":"2026-11-23T19:03:38.123Z"`
    assert.deepStrictEqual(lines, [
      `${time},"type":"warning","data":{"component":"watcher","error":"ENOSPC"}}`,
      `${time},"type":"acquired lock","data":{"journal_id":"file:/j.json+stderr"}}`,
      `${time},"type":"acquired lock","data":{"journal_id":"file:/j.json+stderr","pid":4000}}`,
      `${time},"type":"monitor quit","data":{}}`,
      `${time},"type":"log truncated","data":{"reason":"torn"}}`,
      `${time},"type":"process spawn error","data":{"file":"web","reason":"spawn /s/web: permission denied (EACCES)"}}`,
      `${time},"type":"process spawned","data":{"file":"web","pid":4242}}`,
      `${time},"type":"process exited","data":{"file":"web","pid":4242,"exit_code":0}}`,
      `${time},"type":"process exited","data":{"file":"web","pid":4242,"error":"stop timeout","exit_code":-1,"signal":"SIGKILL"}}`,
      `${time},"type":"process list modified","data":{"op":"update","file":"web"}}`
    ])
  })

  it("round-trip: every encoded event decodes to itself", () => {
    const entries: ReadonlyArray<JournalEntry> = [
      { time: T, ...Events.spawned("a b", 1, { pgid: 1, start_time: "123" }) },
      { time: T, ...Events.exited("x", 2, { code: 3, signal: null }) },
      { time: T, ...Events.listModified("remove", "ü&<>\"") }
    ]
    for (const entry of entries) assert.deepStrictEqual(decoded(encodeLine(entry)), entry)
  })

  it("decodes every line the Go original wrote", () => {
    const lines = readFileSync(fixture, "utf8").split("\n").filter((l) => l !== "")
    const entries = lines.map(decoded)
    assert.strictEqual(entries.length, lines.length)
    assert.deepStrictEqual(entries[0], {
      time: Date.UTC(2026, 10, 23, 19, 19, 42, 784),
      type: "acquired lock",
      data: { journal_id: "file:/home/user/cm/gg/journal.json+stderr" }
    })
    assert.deepStrictEqual(entries.at(-1)?.type, "monitor quit")
  })

  it("decodes the Go original's shapes: local offsets with nanoseconds, \\u0026 escapes, error omitted", () => {
    const exited = decoded(
      `{"time":"2026-11-23T20:19:42.784254203+01:00","type":"process exited","data":{"file":"a\\u0026b","pid":7,"exit_code":0}}`
    )
    assert.deepStrictEqual(exited, {
      time: Date.UTC(2026, 10, 23, 19, 19, 42, 784),
      type: "process exited",
      data: { file: "a&b", pid: 7, exit_code: 0 }
    })
    const errored = decoded(
      `{"time":"2026-11-23T14:19:42-05:00","type":"process exited","data":{"file":"w","pid":7,"error":"signal: killed","exit_code":-1}}`
    )
    assert.deepStrictEqual(errored.time, Date.UTC(2026, 10, 23, 19, 19, 42))
    assert.deepStrictEqual(errored.data, { file: "w", pid: 7, error: "signal: killed", exit_code: -1 })
  })

  it("ignores unknown fields of data (a newer writer's facts)", () => {
    const entry = decoded(
      `{"time":"2026-11-23T19:03:38Z","type":"process spawned","data":{"file":"w","pid":1,"cgroup":"x"}}`
    )
    assert.deepStrictEqual(entry.data, { file: "w", pid: 1 })
  })

  it("reports unknown types, bad JSON, bad times and missing fields as failures, never throws", () => {
    for (
      const line of [
        `{"time":"2026-11-23T19:03:38Z","type":"process teleported","data":{}}`,
        `{"time":"2026-11-23T19:03:38Z","type":"process spawned","data":{"file":"w"}}`,
        `{"time":"yesterday","type":"monitor quit","data":{}}`,
        `{"time":"2026-11-23T19:03:38Z","type":"monitor quit"`,
        `not json`,
        ``
      ]
    ) {
      assert.isTrue(Result.isFailure(decodeLine(line)), line)
    }
  })

  it("RFC 3339: 0 to 9 fractional digits, Z or any offset", () => {
    const base = Date.UTC(2026, 0, 2, 3, 4, 5)
    assert.strictEqual(parseRfc3339("2026-01-02T03:04:05Z"), base)
    assert.strictEqual(parseRfc3339("2026-01-02T03:04:05.1Z"), base + 100)
    assert.strictEqual(parseRfc3339("2026-01-02T03:04:05.123456789Z"), base + 123)
    assert.strictEqual(parseRfc3339("2026-01-02T05:34:05+02:30"), base)
    assert.strictEqual(parseRfc3339("2026-01-01T23:04:05.5-04:00"), base + 500)
    assert.strictEqual(parseRfc3339("2026-01-02t03:04:05z"), base)
    assert.isUndefined(parseRfc3339("2026-01-02T03:04:05"))
    assert.isUndefined(parseRfc3339("2026-01-02T03:04:05.1234567890Z"))
    assert.isUndefined(parseRfc3339("2026-01-02"))
  })

  it("formats one line per event, whatever a file name holds", () => {
    assert.strictEqual(
      formatHuman({ time: T, ...Events.spawned("new\nline\u0007", 9) }),
      "2026-11-23T19:03:38.123Z new\\nline\\u0007: started, pid 9"
    )
  })

  it("formats a readable line for humans", () => {
    assert.strictEqual(
      formatHuman({ time: T, ...Events.exited("web", 9, { code: null, signal: "SIGKILL" }) }),
      "2026-11-23T19:03:38.123Z web: pid 9 killed by SIGKILL"
    )
    assert.strictEqual(
      formatHuman({ time: T, ...Events.exited("web", 9, { code: 2, signal: null }) }),
      "2026-11-23T19:03:38.123Z web: pid 9 exited with code 2"
    )
  })

  it("says a service whose file lost its execute bit is no longer executable, not removed", () => {
    assert.strictEqual(
      formatHuman({ time: T, ...Events.listModified("remove", "web", "not executable") }),
      "2026-11-23T19:03:38.123Z web: no longer executable in the scripts directory"
    )
    assert.strictEqual(
      formatHuman({ time: T, ...Events.listModified("remove", "web") }),
      "2026-11-23T19:03:38.123Z web: removed in the scripts directory"
    )
    // The Go original reads the line: the reason is an extra field of its data.
    assert.strictEqual(
      encodeLine({ time: T, ...Events.listModified("remove", "web", "not executable") }),
      `{"time":"2026-11-23T19:03:38.123Z","type":"process list modified","data":{"op":"remove","file":"web","reason":"not executable"}}`
    )
  })

  it("requests are process list modified with optional fields: the Go original's op, and facts it ignores", () => {
    const time = `{"time":"2026-11-23T19:03:38.123Z"`
    const requests = [
      Events.requested("restart", "web", { by: "cli pid 7" }),
      Events.requested("stop", "web"),
      Events.requested("start", "web"),
      Events.requested("kill", "web", { signal: "SIGHUP" }),
      Events.requested("stop", "web", { restored: true })
    ].map((event) => ({ time: T, ...event }))
    assert.deepStrictEqual(requests.map(encodeLine), [
      `${time},"type":"process list modified","data":{"op":"update","file":"web","request":"restart","by":"cli pid 7"}}`,
      `${time},"type":"process list modified","data":{"op":"remove","file":"web","request":"stop"}}`,
      `${time},"type":"process list modified","data":{"op":"add","file":"web","request":"start"}}`,
      `${time},"type":"process list modified","data":{"op":"update","file":"web","request":"kill","signal":"SIGHUP"}}`,
      `${time},"type":"process list modified","data":{"op":"remove","file":"web","request":"stop","restored":true}}`
    ])
    for (const entry of requests) assert.deepStrictEqual(decoded(encodeLine(entry)), entry)
    assert.deepStrictEqual(requests.map((entry) => formatHuman(entry).slice(25)), [
      "web: restarted on request by cli pid 7",
      "web: stopped and held down on request",
      "web: started on request",
      "web: sent SIGHUP on request",
      "web: still held down (stopped on request before cronmon restarted)"
    ])
  })

  it("readiness: a spawn that says its service notifies, and `ready` on a process list modified, both as the Go original reads them", () => {
    const time = `{"time":"2026-11-23T19:03:38.123Z"`
    const entries = [
      Events.spawned("web", 4242, { pgid: 4242, start_time: "91000" }, true),
      Events.ready("web", 4242)
    ].map((event) => ({ time: T, ...event }))
    const lines = entries.map(encodeLine)
    assert.deepStrictEqual(lines, [
      `${time},"type":"process spawned","data":{"file":"web","pid":4242,"pgid":4242,"start_time":"91000","notifies":true}}`,
      `${time},"type":"process list modified","data":{"op":"update","file":"web","ready":4242}}`
    ])
    for (const entry of entries) assert.deepStrictEqual(decoded(encodeLine(entry)), entry)
    assert.deepStrictEqual(entries.map((entry) => formatHuman(entry).slice(25)), [
      "web: started, pid 4242, not ready yet",
      "web: ready, pid 4242"
    ])
    // What the Go original's reader needs of each line: one of its eight
    // types, and its own fields with their types (encoding/json ignores the rest).
    const GO_FIELDS: Readonly<Record<string, Readonly<Record<string, "string" | "number">>>> = {
      "process spawned": { file: "string", pid: "number" },
      "process list modified": { op: "string", file: "string" }
    }
    for (const line of lines) {
      const { type, data } = JSON.parse(line)
      const fields = GO_FIELDS[type]
      assert.isDefined(fields, type)
      for (const [field, kind] of Object.entries(fields ?? {})) assert.strictEqual(typeof data[field], kind, `${type}: ${field}`)
      assert.include(["add", "remove", "update", undefined], data.op)
    }
  })
})
