import { assert, describe, it } from "@effect/vitest"
import * as fs from "node:fs"
import { encodeLine, Events, type JournalEvent } from "../src/domain/JournalEvent.ts"
import { notAJournal, tailCut } from "../src/domain/JournalShape.ts"
import type { RandomAccess } from "../src/domain/LinesBackward.ts"
import * as Running from "../src/domain/Running.ts"
import { sessionStatusOf } from "../src/domain/Status.ts"

const fixture = fs.readFileSync(new URL("fixtures/go-original-journal.json", import.meta.url), "utf8")
const ours = fs.readFileSync(new URL("fixtures/cronmon-journal.json", import.meta.url), "utf8")

const fold = (...events: Array<JournalEvent>) => Running.fold(events.map((event, time) => ({ time, ...event })))
const pids = (running: Running.Running) => running.processes.map(({ data }) => [data.file, data.pid])

const over = (content: string | Uint8Array): RandomAccess => {
  const bytes = Buffer.from(content)
  return { size: bytes.length, read: (position, length) => bytes.subarray(position, position + length) }
}

describe("Running", () => {
  it("holds the spawns not followed by an exit of the same file and pid, oldest first", () => {
    const running = fold(
      Events.spawned("a", 100),
      Events.spawned("b", 101),
      Events.exited("b", 100, { code: 0, signal: null }), // another file's pid: not a's exit
      Events.spawned("c", 102),
      Events.exited("c", 102, { code: 1, signal: null })
    )
    assert.deepStrictEqual(pids(running), [["a", 100], ["b", 101]])
  })

  it("counts a pid spawned again once, by its latest spawn", () => {
    const running = fold(Events.spawned("a", 100), Events.spawned("b", 101), Events.spawned("a", 100))
    assert.deepStrictEqual(running.processes.map(({ data, time }) => [data.file, time]), [["b", 1], ["a", 2]])
    assert.strictEqual(Running.processOf(running, "a")?.time, 2)
    assert.isUndefined(Running.processOf(running, "c"))
  })

  it("knows the services added or updated and not removed since, in the order they came", () => {
    const running = fold(
      Events.listModified("add", "web"),
      Events.listModified("add", "db"),
      Events.listModified("update", "web"),
      Events.listModified("remove", "db"),
      Events.listModified("update", "cache"),
      Events.warning("x", "y")
    )
    assert.deepStrictEqual(running.services, ["web", "cache"])
  })

  it("knows the services that announced readiness, or whose spawn said so, until their file is removed; a readiness is no file change", () => {
    const running = fold(
      Events.listModified("add", "web"),
      Events.spawned("web", 100),
      Events.ready("web", 100),
      Events.spawned("api", 101, {}, true),
      Events.spawned("db", 102),
      Events.listModified("add", "old"),
      Events.ready("old", 103),
      Events.listModified("remove", "old")
    )
    assert.deepStrictEqual(running.notifying, ["web", "api"])
    assert.deepStrictEqual(running.services, ["web"])
  })

  it("continues a fold from a given state", () => {
    const first = fold(Events.spawned("a", 1))
    const next = Running.fold([{ time: 5, ...Events.exited("a", 1, { code: 0, signal: null }) }], first)
    assert.deepStrictEqual(next.processes, [])
    assert.strictEqual(first.processes.length, 1, "the state folded from is left as it was")
  })
})

describe("status, from the same fold", () => {
  it("a late exit of an older run leaves the service running with its current process", () => {
    const newestFirst = [
      Events.acquiredLock("x"),
      Events.spawned("web", 100, { start_time: "1" }),
      Events.spawned("web", 200, { start_time: "2" }), // 100's exit not yet journaled
      Events.exited("web", 100, { code: 0, signal: null })
    ].map((event, time) => encodeLine({ time, ...event })).reverse()
    const [web] = sessionStatusOf(newestFirst, 10).services
    assert.deepStrictEqual([web?.state, web?.pid, web?.startTime, web?.lastExit?.pid], ["running", 200, "2", 100])
  })

  it("a leftover's exit (spawned in an earlier session) is its last exit, and no restart is due", () => {
    const newestFirst = [
      Events.acquiredLock("x"),
      Events.exited("old", 100, { code: null, signal: "SIGTERM" }) // written by the clean-up of leftovers
    ].map((event, time) => encodeLine({ time, ...event })).reverse()
    const [old] = sessionStatusOf(newestFirst, 10).services
    assert.deepStrictEqual([old?.state, old?.nextStartAt, old?.lastExit?.pid], ["stopped", null, 100])
  })
})

describe("notAJournal", () => {
  it("accepts an empty file, journals of the Go original and of cronmon, and a first line torn by a crash", () => {
    for (const text of ["", fixture, ours, fixture.slice(0, 20), `{"ti`, "\u0000\u0000\u0000", fixture.trimEnd()]) {
      assert.isUndefined(notAJournal(over(text)), JSON.stringify(text.slice(0, 30)))
    }
  })

  it("refuses text, random bytes and JSON that is not an event", () => {
    const random = Buffer.from(Array.from({ length: 3000 }, (_, i) => (i * 7919 + 13) % 256))
    for (const content of ["# notes\n" + fixture, "hello", '{"name":"web"}\n', "[1,2]\n", random]) {
      assert.include(notAJournal(over(content)), "its first line is not a JSON event")
    }
  })
})

describe("tailCut", () => {
  it("cuts a torn or corrupt last line, and nothing of a whole journal", () => {
    assert.isUndefined(tailCut(over(fixture)))
    assert.isUndefined(tailCut(over(fixture.trimEnd())), "a whole event without its newline")
    assert.deepStrictEqual(tailCut(over(fixture + `{"time":"2026`)), {
      at: fixture.length,
      reason: "the last line was torn: 13 bytes cut off"
    })
    assert.deepStrictEqual(tailCut(over(fixture + "garbage\n")), {
      at: fixture.length,
      reason: "the last line was corrupt: 8 bytes cut off"
    })
  })
})
