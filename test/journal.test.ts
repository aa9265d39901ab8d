import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Layer, Result } from "effect"
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { decodeLine, encodeLine, Events, type JournalEvent } from "../src/domain/JournalEvent.ts"
import { linesBackward, type RandomAccess } from "../src/domain/LinesBackward.ts"
import { previousStateOf } from "../src/domain/PreviousState.ts"
import * as JournalFile from "../src/layers/JournalFile.ts"
import * as SystemLinux from "../src/layers/SystemLinux.ts"
import { Journal } from "../src/services/Journal.ts"

const fixture = fs.readFileSync(new URL("fixtures/go-original-journal.json", import.meta.url), "utf8")

const tempDir = () => fs.mkdtempSync(path.join(os.tmpdir(), "cronmon-journal-"))

const journalLayer = (file: string) => JournalFile.layer({ path: file }).pipe(Layer.provide(SystemLinux.layer))

const withJournal = <A>(file: string, use: (journal: Journal["Service"]) => Effect.Effect<A>) =>
  Journal.use(use).pipe(Effect.provide(journalLayer(file)))

const openJournal = (file: string) => Effect.scoped(Effect.asVoid(Layer.build(journalLayer(file))))

const types = (file: string) =>
  fs.readFileSync(file, "utf8").split("\n").filter((l) => l !== "").map((l) => {
    const r = decodeLine(l)
    return Result.isSuccess(r) ? r.success.type : `BAD: ${l}`
  })

const lineOf = (time: number, event: JournalEvent) => encodeLine({ time, ...event }) + "\n"

describe("JournalFile", () => {
  it.effect("creates its directory (0750) and file (0600), and starts with acquired lock", () =>
    Effect.gen(function*() {
      const dir = tempDir()
      const file = path.join(dir, "a", "b", "journal.json")
      yield* openJournal(file)
      assert.strictEqual(fs.statSync(path.join(dir, "a", "b")).mode & 0o777, 0o750)
      assert.strictEqual(fs.statSync(file).mode & 0o777, 0o600)
      assert.deepStrictEqual(types(file), ["acquired lock"])
    }))

  it.effect("holds an exclusive lock: a second opening fails with JournalLocked until the first closes", () =>
    Effect.gen(function*() {
      const file = path.join(tempDir(), "journal.json")
      const second = yield* Effect.scoped(Effect.gen(function*() {
        yield* Layer.build(journalLayer(file))
        return yield* Effect.exit(openJournal(file))
      }))
      assert.isTrue(Exit.isFailure(second))
      if (Exit.isFailure(second)) assert.include(String(second.cause), "JournalLocked")
      // released with the first: a third opening succeeds
      yield* openJournal(file)
      assert.deepStrictEqual(types(file), ["acquired lock", "acquired lock"])
    }))

  it.effect("appends events after what is there, keeping a Go original's journal byte for byte", () =>
    Effect.gen(function*() {
      const file = path.join(tempDir(), "journal.json")
      fs.writeFileSync(file, fixture)
      yield* withJournal(file, (journal) => journal.append(Events.spawned("web", 12)))
      const text = fs.readFileSync(file, "utf8")
      assert.isTrue(text.startsWith(fixture))
      assert.deepStrictEqual(types(file).slice(-2), ["acquired lock", "process spawned"])
    }))

  it.effect("cuts a torn last line and reports it with log truncated, losing nothing before it", () =>
    Effect.gen(function*() {
      const file = path.join(tempDir(), "journal.json")
      fs.writeFileSync(file, fixture + `{"time":"2026-11-23T19:20:05Z","type":"process spa`)
      yield* openJournal(file)
      const text = fs.readFileSync(file, "utf8")
      assert.isTrue(text.startsWith(fixture))
      assert.deepStrictEqual(types(file).slice(-2), ["acquired lock", "log truncated"])
      assert.notInclude(text, "process spa\n")
    }))

  it.effect("keeps a whole last event whose newline was not written, adding the newline", () =>
    Effect.gen(function*() {
      const file = path.join(tempDir(), "journal.json")
      fs.writeFileSync(file, fixture.trimEnd()) // ends with monitor quit, no newline
      yield* openJournal(file)
      assert.isTrue(fs.readFileSync(file, "utf8").startsWith(fixture))
      assert.deepStrictEqual(types(file).slice(-2), ["monitor quit", "acquired lock"])
    }))

  it.effect("refuses a journal that is not a regular file (a FIFO would hang the open)", () =>
    Effect.gen(function*() {
      const file = path.join(tempDir(), "fifo")
      execFileSync("mkfifo", [file])
      const exit = yield* Effect.exit(openJournal(file))
      assert.isTrue(Exit.isFailure(exit))
      if (Exit.isFailure(exit)) assert.include(String(exit.cause), "not a regular file")
    }))

  it.effect("cuts a last line that is not JSON (garbage after a crash)", () =>
    Effect.gen(function*() {
      const file = path.join(tempDir(), "journal.json")
      fs.writeFileSync(file, fixture + "\u0000\u0000\u0000garbage\n")
      yield* openJournal(file)
      assert.isTrue(fs.readFileSync(file, "utf8").startsWith(fixture))
      assert.deepStrictEqual(types(file).filter((t) => t.startsWith("BAD")), [])
      assert.deepStrictEqual(types(file).slice(-2), ["acquired lock", "log truncated"])
    }))

  it.live("truncated under it (`: > journal`), writes again the services known and the processes running", () =>
    Effect.gen(function*() {
      const file = path.join(tempDir(), "journal.json")
      yield* withJournal(file, (journal) =>
        Effect.gen(function*() {
          yield* journal.append(Events.listModified("add", "web"))
          yield* journal.append(Events.listModified("add", "broken"))
          yield* journal.append(Events.spawned("web", 4242))
          fs.truncateSync(file, 0)
          yield* journal.append(Events.spawnError("broken", "no such file"))
        }))
      const text = fs.readFileSync(file, "utf8")
      assert.deepStrictEqual(types(file), [
        "acquired lock",
        "warning",
        "process list modified",
        "process list modified",
        "process spawned",
        "process spawn error"
      ])
      assert.include(text, "the journal was truncated")
      assert.include(text, `"pid":4242`)
      assert.notInclude(text, "\u0000", "no hole where the old end was")
      // The next start still finds the running service.
      assert.deepStrictEqual(
        previousStateOf(text.trim().split("\n").reverse()).leftovers.map((l) => l.pid),
        [4242]
      )
    }))

  it.effect("finds the processes an unclean session left", () =>
    Effect.gen(function*() {
      const file = path.join(tempDir(), "journal.json")
      fs.writeFileSync(
        file,
        fixture +
          lineOf(1, Events.acquiredLock("x")) +
          lineOf(2, Events.spawned("web", 100, { pgid: 100, start_time: "5" })) +
          lineOf(3, Events.spawned("job", 101)) +
          lineOf(4, Events.exited("job", 101, { code: 0, signal: null }))
      )
      const state = yield* withJournal(file, (journal) => Effect.succeed(journal.previousState))
      assert.deepStrictEqual(state.leftovers, [
        { file: "web", pid: 100, pgid: 100, startTime: "5", spawnedAt: 2 }
      ])
      assert.strictEqual(state.uncleanSessions, 1)
    }))
})

describe("previous state", () => {
  const newestFirst = (...events: Array<JournalEvent>) =>
    events.map((event, i) => encodeLine({ time: i, ...event })).reverse()

  it("a journal that ends with monitor quit left nothing", () => {
    assert.deepStrictEqual(previousStateOf(fixture.split("\n").filter((l) => l !== "").reverse()), {
      leftovers: [],
      held: [],
      notifying: [],
      uncleanSessions: 0,
      badLines: 0
    })
  })

  it("reaches back over a chain of crashed sessions to the last clean quit", () => {
    const state = previousStateOf(newestFirst(
      Events.acquiredLock("1"),
      Events.spawned("old", 50), // before a clean quit: not a leftover
      Events.monitorQuit(),
      Events.acquiredLock("2"),
      Events.spawned("a", 100),
      Events.spawned("b", 101),
      // killed; session 3 starts cleaning up and is killed after one
      Events.acquiredLock("3"),
      Events.exited("a", 100, { code: null, signal: "SIGTERM" }),
      Events.spawned("c", 200),
      // killed again; session 4 crashed at once
      Events.acquiredLock("4")
    ))
    assert.deepStrictEqual(state.leftovers.map((l) => [l.file, l.pid]), [["b", 101], ["c", 200]])
    assert.strictEqual(state.uncleanSessions, 3)
  })

  it("knows the services that announced readiness in the unclean sessions, not before the last clean quit", () => {
    const state = previousStateOf(newestFirst(
      Events.acquiredLock("1"),
      Events.spawned("before", 50),
      Events.ready("before", 50),
      Events.monitorQuit(),
      Events.acquiredLock("2"),
      Events.spawned("web", 100),
      Events.ready("web", 100),
      Events.acquiredLock("3"),
      Events.spawned("api", 200, {}, true)
    ))
    assert.deepStrictEqual(state.notifying, ["web", "api"])
  })

  it("a PID spawned twice counts once, by its latest spawn", () => {
    const state = previousStateOf(newestFirst(
      Events.acquiredLock("1"),
      Events.spawned("a", 100),
      Events.acquiredLock("2"),
      Events.spawned("a", 100)
    ))
    assert.deepStrictEqual(state.leftovers.map((l) => [l.file, l.pid, l.spawnedAt]), [["a", 100, 3]])
  })

  it("skips and counts bad lines", () => {
    const lines = newestFirst(Events.acquiredLock("1"), Events.spawned("a", 1))
    const state = previousStateOf([lines[0]!, "garbage", `{"type":"unknown"}`, lines[1]!])
    assert.strictEqual(state.badLines, 2)
    assert.strictEqual(state.leftovers.length, 1)
  })

  it("reads only the tail: a large journal's last session costs what that session weighs", () => {
    const file = path.join(tempDir(), "journal.json")
    const session = fixture // one clean session of the Go original, ~4 KiB
    const fd = fs.openSync(file, "w+")
    for (let i = 0; i < 2_500; i++) fs.writeSync(fd, session) // ~10 MiB of clean sessions
    const tail = lineOf(1, Events.acquiredLock("x")) + lineOf(2, Events.spawned("web", 100))
    fs.writeSync(fd, tail)
    const size = fs.fstatSync(fd).size
    let bytesRead = 0
    const counting: RandomAccess = {
      size,
      read: (position, length) => {
        const buffer = Buffer.alloc(length)
        bytesRead += fs.readSync(fd, buffer, 0, length, position)
        return buffer
      }
    }
    const state = previousStateOf(linesBackward(counting))
    fs.closeSync(fd)
    assert.deepStrictEqual(state.leftovers.map((l) => l.file), ["web"])
    assert.isAbove(size, 10_000_000)
    assert.isAtMost(bytesRead, 64 * 1024, `read ${bytesRead} of ${size} bytes`)
  })
})

describe("linesBackward", () => {
  const over = (text: string): RandomAccess => {
    const bytes = Buffer.from(text)
    return { size: bytes.length, read: (position, length) => bytes.subarray(position, position + length) }
  }

  it("yields complete lines newest first, across chunk boundaries and multi-byte characters", () => {
    const text = "first\nsécond\n\nthird line is longer\nlast"
    for (const chunk of [1, 2, 3, 5, 64]) {
      assert.deepStrictEqual(
        [...linesBackward(over(text), Buffer.byteLength(text), chunk)],
        ["last", "third line is longer", "sécond", "first"]
      )
    }
  })
})
