/**
 * Golden output of `status` and `journal` on fixed journals (one written by
 * the Go original), at a fixed now, with the live processes simulated.
 * `UPDATE_GOLDEN=1 vitest run test/status.test.ts` rewrites the golden files
 * (and fails where one changed, showing the change; the next run passes).
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer, Option } from "effect"
import { TestClock } from "effect/testing"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { randomAccess } from "../src/internal/Files.ts"
import { renderLine, selectLines } from "../src/programs/journal.ts"
import { plain, styleFor } from "../src/internal/Terminal.ts"
import type { LockState } from "../src/internal/LockCheck.ts"
import { type StatusReport, statusJsonOf } from "../src/domain/Status.ts"
import { statusExitCode, statusJson, statusReport, statusText } from "../src/programs/status.ts"
import { type ProcessIdentity, System } from "../src/services/System.ts"

const FIXTURES = path.join(import.meta.dirname, "fixtures")
const GOLDEN = path.join(FIXTURES, "golden")
const CRONMON_JOURNAL = path.join(FIXTURES, "cronmon-journal.json")
const GO_JOURNAL = path.join(FIXTURES, "go-original-journal.json")
const NOW = Date.parse("2026-11-23T21:00:00.000Z")

/**
 * Compares `output` with `golden/NAME`. With UPDATE_GOLDEN set, the file is
 * rewritten with `output` too, and the comparison is with what it held
 * before: an update fails once where the output changed, showing the change.
 */
const golden = (name: string, output: string) => {
  // Stable wherever the repository is checked out.
  const actual = output.replaceAll(GO_JOURNAL, "<go-fixtures>/go-original-journal.json").replaceAll(FIXTURES, "<fixtures>")
  const file = path.join(GOLDEN, name)
  const expected = fs.existsSync(file) ? fs.readFileSync(file, "utf8") : undefined
  const updating = process.env["UPDATE_GOLDEN"] !== undefined
  if (updating) fs.writeFileSync(file, actual)
  assert.strictEqual(actual, expected, updating ? `golden/${name} differed: rewritten` : `golden/${name}`)
}

const textOf = (r: StatusReport) => statusText(statusJsonOf(r), plain, r.found)

const unused = () => Effect.die("not used by status")

/** A System whose only live processes are `table`'s. */
const systemWith = (table: Readonly<Record<number, ProcessIdentity>>) =>
  Layer.succeed(
    System,
    System.of({
      identify: (pid) => Effect.succeed(Option.fromUndefinedOr(table[pid])),
      tryLockExclusive: unused,
      kill: unused,
      parentDeathSignal: [],
      checkExecutable: unused,
      becomeSubreaper: unused(),
      bootedAt: unused(),
      groupMembers: unused,
      groupUsage: unused,
      children: unused(),
      reap: unused,
      marked: unused,
      releaseMemory: unused()
    })
  )

const daemon4410: ProcessIdentity = { pgid: 4410, startTime: "90900", startedAt: Date.parse("2026-11-23T19:59:59.500Z") }
const web4458: ProcessIdentity = { pgid: 4458, startTime: "91000", startedAt: Date.parse("2026-11-23T20:00:00.020Z") }
const api4470: ProcessIdentity = { pgid: 4470, startTime: "99700", startedAt: Date.parse("2026-11-23T20:59:58.010Z") }

const report = (journal: string, table: Readonly<Record<number, ProcessIdentity>>, lock: LockState = "unknown") =>
  Effect.gen(function*() {
    yield* TestClock.setTime(NOW)
    return yield* statusReport(journal, lock)
  }).pipe(Effect.provide(systemWith(table)))

const copyWithout = (from: string, drop: (line: string) => boolean) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "cronmon-status-"))
  const file = path.join(dir, "journal.json")
  fs.writeFileSync(file, fs.readFileSync(from, "utf8").split("\n").filter((line) => !drop(line)).join("\n"))
  return file
}

describe("status", () => {
  it.effect("a running daemon: running (ready), starting, waiting, failing and gone services", () =>
    Effect.gen(function*() {
      const r = yield* report(CRONMON_JOURNAL, { 4410: daemon4410, 4458: web4458, 4470: api4470 })
      assert.strictEqual(statusExitCode(r), 0)
      golden("status-running.txt", textOf(r) + "\n")
      golden("status-running.json", statusJson(statusJsonOf(r)) + "\n")
    }))

  it.effect("a service name with a newline stays on one row", () =>
    Effect.gen(function*() {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), "cronmon-status-"))
      const file = path.join(dir, "journal.json")
      const line = (type: string, data: object) =>
        JSON.stringify({ time: "2026-11-23T20:00:00.000Z", type, data }) + "\n"
      fs.writeFileSync(
        file,
        line("acquired lock", { journal_id: "x" }) + line("process list modified", { op: "add", file: "new\nline" }) +
          line("process spawn error", { file: "new\nline", reason: "bad\nreason" })
      )
      const text = textOf(yield* report(file, {}))
      assert.include(text, "new\\nline")
      assert.include(text, "bad\\nreason")
      assert.isFalse(text.split("\n").some((row) => row === "line" || row.startsWith("line ")))
    }))

  it.effect("a crashed daemon: the stale journal is said, exit 3", () =>
    Effect.gen(function*() {
      // The daemon's pid now belongs to a process started after the lock was taken.
      const reused = { ...daemon4410, startedAt: Date.parse("2026-11-23T20:40:00.000Z") }
      const r = yield* report(CRONMON_JOURNAL, { 4410: reused })
      assert.strictEqual(r.daemon.state, "crashed")
      assert.strictEqual(statusExitCode(r), 3)
      golden("status-crashed.txt", textOf(r) + "\n")
    }))

  it.effect("the Go original's journal, cleanly stopped: exit 3", () =>
    Effect.gen(function*() {
      const r = yield* report(GO_JOURNAL, {})
      assert.strictEqual(statusExitCode(r), 3)
      golden("status-go.txt", textOf(r) + "\n")
    }))

  it.effect("the Go original's journal without its monitor quit: unknown, exit 4", () =>
    Effect.gen(function*() {
      const r = yield* report(copyWithout(GO_JOURNAL, (line) => line.includes("monitor quit")), {})
      assert.strictEqual(r.daemon.state, "unknown")
      assert.strictEqual(statusExitCode(r), 4)
    }))

  it.effect("no journal: not running, exit 3", () =>
    Effect.gen(function*() {
      const r = yield* report("/nonexistent/cronmon/journal.json", {})
      assert.strictEqual(r.daemon.state, "absent")
      assert.strictEqual(statusExitCode(r), 3)
    }))

  it.effect("no journal: says there is none, not that it has no events", () =>
    Effect.gen(function*() {
      const r = yield* report("/nonexistent/cronmon/journal.json", {}, "unknown")
      assert.strictEqual(
        textOf(r).split("\n")[0],
        "cronmon is not running: no journal at /nonexistent/cronmon/journal.json (cronmon has not run with it)"
      )
    }))

  it.effect("a journal that is a directory: one line saying so", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(report(os.tmpdir(), {}))
      assert.strictEqual(error._tag, "StatusUnknown")
      assert.strictEqual(error.message, `the journal ${os.tmpdir()} is a directory`)
    }))

  // The lock decides whether the daemon runs; the journal says the rest.
  it.effect("a journal truncated under a running daemon: running (the lock is held), exit 0", () =>
    Effect.gen(function*() {
      const empty = copyWithout(CRONMON_JOURNAL, () => true)
      const r = yield* report(empty, {}, "held")
      assert.strictEqual(r.daemon.state, "running")
      assert.strictEqual(r.daemon.pid, null)
      assert.strictEqual(statusExitCode(r), 0)
      assert.match(textOf(r), /^cronmon is running: it holds the journal's lock/)
      // Only the last events left, of a session that ended: not the running daemon's.
      const ended = yield* report(GO_JOURNAL, {}, "held")
      assert.strictEqual(ended.daemon.state, "running")
      assert.deepStrictEqual(ended.services, [])
    }))

  it.effect("a session that did not end, with the lock free: crashed, exit 3, whatever runs under its pid", () =>
    Effect.gen(function*() {
      const r = yield* report(CRONMON_JOURNAL, { 4410: daemon4410, 4458: web4458 }, "free")
      assert.strictEqual(r.daemon.state, "crashed")
      assert.strictEqual(statusExitCode(r), 3)
      const go = yield* report(copyWithout(GO_JOURNAL, (line) => line.includes("monitor quit")), {}, "free")
      assert.strictEqual(go.daemon.state, "crashed")
      assert.strictEqual(statusExitCode(go), 3)
    }))

  it.effect("the Go original running (lock held, no pid recorded): running since its lock, exit 0", () =>
    Effect.gen(function*() {
      const r = yield* report(copyWithout(GO_JOURNAL, (line) => line.includes("monitor quit")), {}, "held")
      assert.strictEqual(r.daemon.state, "running")
      assert.strictEqual(r.daemon.pid, null)
      assert.notStrictEqual(r.daemon.since, null)
      assert.match(textOf(r), /^cronmon is running: pid not recorded, up /)
      assert.strictEqual(statusExitCode(r), 0)
    }))

  it("aligns and colours only on a terminal, and never colours with NO_COLOR", () => {
    assert.strictEqual(styleFor(false, {}), plain)
    assert.strictEqual(styleFor(true, { NO_COLOR: "1" }).colour("red", "x"), "x")
    assert.strictEqual(styleFor(true, { NO_COLOR: "1" }).aligned, true)
    assert.strictEqual(styleFor(true, {}).colour("red", "x"), "\u001b[31mx\u001b[0m")
  })
})

describe("journal", () => {
  const render = (journal: string, filter: Parameters<typeof renderLine>[1]) => {
    const fd = fs.openSync(journal, "r")
    try {
      const file = randomAccess(fd)
      return selectLines(file, file.size, filter.since).flatMap((line) => {
        const out = renderLine(line, filter)
        return out === undefined ? [] : [out]
      }).join("\n") + "\n"
    } finally {
      fs.closeSync(fd)
    }
  }

  it("the Go original's journal, readable", () => {
    golden("journal-go.txt", render(GO_JOURNAL, {}))
  })

  it("one service since a time, bad lines and unknown types skipped", () => {
    golden("journal-worker-since.txt", render(CRONMON_JOURNAL, { service: "worker", since: NOW - 60_000 }))
    golden("journal-all.txt", render(CRONMON_JOURNAL, {}))
  })

  it("--json prints the raw lines", () => {
    assert.strictEqual(render(CRONMON_JOURNAL, { json: true }), fs.readFileSync(CRONMON_JOURNAL, "utf8"))
  })
})
