/**
 * The journal writer's guarantees: an append never waits for the disk, lines
 * are written in the order appended, `flush` waits for them, every event is
 * shown on the human log when appended; and what the journal refuses.
 */
import { assert, describe, it } from "@effect/vitest"
import { vi } from "vitest"
import { Context, Effect, Exit, Layer } from "effect"
import { TestConsole } from "effect/testing"
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import nodeFs from "node:fs"
import { syncBuiltinESMExports } from "node:module"
import * as os from "node:os"
import * as path from "node:path"
import { Events, formatHuman } from "../src/domain/JournalEvent.ts"
import * as HumanLogConsole from "../src/layers/HumanLogConsole.ts"
import * as JournalFile from "../src/layers/JournalFile.ts"
import * as SystemLinux from "../src/layers/SystemLinux.ts"
import { Journal } from "../src/services/Journal.ts"

const tempFile = () => path.join(fs.mkdtempSync(path.join(os.tmpdir(), "cronmon-writer-")), "journal.json")

const journalLayer = (file: string) => JournalFile.layer({ path: file }).pipe(Layer.provide(SystemLinux.layer))

const openJournal = <E>(layer: Layer.Layer<Journal, E>) => Effect.map(Layer.build(layer), (context) => Context.get(context, Journal))

const shownOnStderr = (file: string) => journalLayer(file).pipe(Layer.provide(HumanLogConsole.layer))

/** Counts the calls of a `node:fs` function, through its module's exports, for the scope. */
const spyOnFs = (name: "statSync" | "write") =>
  Effect.acquireRelease(
    Effect.sync(() => {
      const spy = vi.spyOn(nodeFs, name)
      syncBuiltinESMExports()
      return spy
    }),
    (spy) =>
      Effect.sync(() => {
        spy.mockRestore()
        syncBuiltinESMExports()
      })
  )

const lines = (file: string) => fs.readFileSync(file, "utf8").split("\n").filter((line) => line !== "")

// Occupies every thread of libuv's pool with an `open(2)` of a FIFO that
// blocks until a writer comes: meanwhile no asynchronous write can run.
// Returns what frees them, which the scope also does (before what was
// opened earlier in it closes).
const blockThreadPool = (dir: string) => {
  const size = Number(process.env["UV_THREADPOOL_SIZE"] ?? 4)
  const fifos = Array.from({ length: size }, (_, i) => path.join(dir, `fifo${i}`))
  for (const fifo of fifos) {
    execFileSync("mkfifo", [fifo])
    fs.open(fifo, "r", (error, fd) => error === null && fs.close(fd, () => {}))
  }
  const release = Effect.sync(() => {
    for (const fifo of fifos.splice(0)) {
      // ENXIO until the reader's open has started in the pool.
      for (;;) {
        try {
          fs.closeSync(fs.openSync(fifo, fs.constants.O_WRONLY | fs.constants.O_NONBLOCK))
          break
        } catch {
          execFileSync("sleep", ["0.01"])
        }
      }
    }
  })
  return Effect.as(Effect.addFinalizer(() => release), release)
}

describe("the journal writer", () => {
  it.effect("an append returns at once, shown on stderr, written later in the order appended; flush waits for it", () =>
    Effect.gen(function*() {
      const file = tempFile()
      const journal = yield* openJournal(shownOnStderr(file))
      yield* journal.flush
      const before = lines(file)
      const release = yield* blockThreadPool(path.dirname(file))
      const events = [Events.exited("web", 1, { code: 0, signal: null }), Events.spawned("web", 2), Events.spawned("db", 3)]
      for (const event of events) yield* journal.append(event)
      // The writer has its turn, and waits for the pool, not the event loop.
      for (let i = 0; i < 10; i++) yield* Effect.yieldNow
      // Shown when appended, written by no one yet: no disk was waited for.
      const shown = yield* TestConsole.errorLines
      assert.deepStrictEqual(shown.slice(-3), events.map((event) => formatHuman({ time: 0, ...event })))
      assert.deepStrictEqual(lines(file), before)
      yield* release
      yield* journal.flush
      const written = lines(file).slice(before.length).map((line) => JSON.parse(line).type)
      assert.deepStrictEqual(written, ["process exited", "process spawned", "process spawned"])
      assert.include(lines(file).at(-1), `"file":"db"`)
    }).pipe(Effect.scoped))

  it.live("its own appends do not each queue a look at whether its path still leads to it: one is queued at a time", () =>
    Effect.gen(function*() {
      const file = tempFile()
      const journal = yield* openJournal(journalLayer(file))
      yield* journal.flush
      // Each look stats the path: counted through node:fs's exports.
      const stat = yield* spyOnFs("statSync")
      for (let i = 0; i < 100; i++) yield* journal.append(Events.spawned("web", 100 + i))
      yield* journal.flush
      // The watch's events of the last writes arrive, and their look runs.
      yield* Effect.sleep("300 millis")
      yield* journal.flush
      const looks = stat.mock.calls.filter(([path]) => path === file).length
      assert.isAtLeast(looks, 1, "the path is still watched")
      assert.isAtMost(looks, 5, `${looks} looks for 100 appends`)
      assert.strictEqual(lines(file).length, 101)
    }).pipe(Effect.scoped))

  it.live("the lines appended while it writes go in one write(2), in the order appended (a group commit)", () =>
    Effect.gen(function*() {
      const file = tempFile()
      const journal = yield* openJournal(journalLayer(file))
      yield* journal.flush
      const write = yield* spyOnFs("write")
      // Appended without a pause: the writer finds them all queued.
      for (let i = 0; i < 100; i++) yield* journal.append(Events.spawned("web", 100 + i))
      yield* journal.flush
      assert.isAtMost(write.mock.calls.length, 10, `${write.mock.calls.length} writes for 100 lines`)
      assert.deepStrictEqual(
        lines(file).slice(1).map((line) => JSON.parse(line).data.pid),
        Array.from({ length: 100 }, (_, i) => 100 + i)
      )
    }).pipe(Effect.scoped))

  it.effect("names the human log in its id: +stderr when events are shown", () =>
    Effect.gen(function*() {
      const shown = yield* openJournal(shownOnStderr(tempFile()))
      const file = tempFile()
      const quiet = yield* openJournal(journalLayer(file))
      assert.match(shown.id, /\+stderr$/)
      assert.strictEqual(quiet.id, `file:${file}`)
      yield* quiet.append(Events.spawned("web", 1))
      assert.strictEqual((yield* TestConsole.errorLines).length, 1, "the quiet journal shows nothing")
    }).pipe(Effect.scoped))

  it.effect("closing it writes what was appended before the lock is released", () =>
    Effect.gen(function*() {
      const file = tempFile()
      yield* Effect.scoped(Effect.gen(function*() {
        const journal = yield* openJournal(journalLayer(file))
        for (let i = 0; i < 50; i++) yield* journal.append(Events.spawned("web", 100 + i))
        yield* journal.append(Events.monitorQuit())
      }))
      assert.strictEqual(lines(file).length, 52)
      assert.include(lines(file).at(-1), "monitor quit")
    }))

  it.effect("an event that cannot be encoded is said on stderr, and the writer goes on", () =>
    Effect.gen(function*() {
      const file = tempFile()
      const journal = yield* openJournal(journalLayer(file))
      yield* journal.append(Events.spawned("web", 1.5)) // not an integer pid
      yield* journal.append(Events.spawned("web", 2))
      yield* journal.flush
      assert.include(lines(file).at(-1), `"pid":2`)
      assert.strictEqual((yield* TestConsole.errorLines).length, 1)
    }).pipe(Effect.scoped))

  it.effect("refuses a file that is not a journal, leaving its bytes as they were", () =>
    Effect.gen(function*() {
      const file = tempFile()
      const text = "# My notes\n\nsome text\nthe last line"
      fs.writeFileSync(file, text)
      const exit = yield* Effect.exit(Effect.scoped(openJournal(journalLayer(file))))
      assert.isTrue(Exit.isFailure(exit))
      assert.include(String(exit), "not a cronmon journal (its first line is not a JSON event): left untouched")
      assert.strictEqual(fs.readFileSync(file, "utf8"), text)
    }))

  it.effect("a journal that cannot be written at open is JournalUnavailable, not an outage", () =>
    Effect.gen(function*() {
      // Open and locked even by root, but every write fails (EIO).
      const exit = yield* Effect.exit(Effect.scoped(openJournal(journalLayer("/proc/version"))))
      assert.isTrue(Exit.isFailure(exit))
      assert.include(String(exit), "JournalUnavailable")
      assert.deepStrictEqual(yield* TestConsole.errorLines, [], "no notice of an outage")
    }))
})
