import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { encodeLine, Events, type JournalEvent } from "../src/domain/JournalEvent.ts"
import { previousStateOf } from "../src/domain/PreviousState.ts"
import * as Running from "../src/domain/Running.ts"
import { sessionStatusOf } from "../src/domain/Status.ts"
import * as JournalFile from "../src/layers/JournalFile.ts"
import * as SystemLinux from "../src/layers/SystemLinux.ts"
import { Journal } from "../src/services/Journal.ts"

const fixture = fs.readFileSync(new URL("fixtures/go-original-journal.json", import.meta.url), "utf8")

const fold = (...events: Array<JournalEvent>) => Running.fold(events.map((event, time) => ({ time, ...event })))
const lines = (...events: Array<JournalEvent>) => events.map((event, time) => encodeLine({ time, ...event }))
const previousOf = (text: string) => previousStateOf(text.trim().split("\n").reverse())

const tempFile = () => path.join(fs.mkdtempSync(path.join(os.tmpdir(), "cronmon-holds-")), "journal.json")
const journalLayer = (file: string, maxBytes?: number) =>
  JournalFile.layer({ path: file, maxBytes }).pipe(Layer.provide(SystemLinux.layer))
const withJournal = <A>(file: string, use: (journal: Journal["Service"]) => Effect.Effect<A>, maxBytes?: number) =>
  Journal.use(use).pipe(Effect.provide(journalLayer(file, maxBytes)))

/** Waits, polling up to a deadline, for `check` to hold. */
const eventually = (check: () => boolean, what: string) =>
  Effect.gen(function*() {
    for (let i = 0; i < 100; i++) {
      if (check()) return
      yield* Effect.sleep("20 millis")
    }
    assert.fail(`not seen within 2 s: ${what}`)
  })

describe("holds in the Running fold", () => {
  it("a stop request holds; start, restart, the file's removal and a clean quit release", () => {
    assert.deepStrictEqual(fold(Events.listModified("add", "web"), Events.requested("stop", "web")).held, ["web"])
    for (const release of [
      Events.requested("start", "web"),
      Events.requested("restart", "web"),
      Events.listModified("remove", "web"),
      Events.monitorQuit()
    ]) {
      assert.deepStrictEqual(fold(Events.requested("stop", "web"), release).held, [], JSON.stringify(release))
    }
    const kept = [Events.listModified("update", "web"), Events.listModified("add", "web"), Events.requested("kill", "web")]
    for (const other of kept) assert.deepStrictEqual(fold(Events.requested("stop", "web"), other).held, ["web"])
    assert.deepStrictEqual(fold(Events.requested("stop", "web")).services, [], "a request does not add a service")
  })

  it("previous state reads a hold back over a chain of crashed sessions, and not past a clean quit", () => {
    const crashed = lines(
      Events.acquiredLock("x"),
      Events.listModified("add", "web"),
      Events.requested("stop", "web", { by: "cli" }),
      Events.acquiredLock("x"), // killed: another daemon
      Events.requested("stop", "web", { restored: true })
    )
    assert.deepStrictEqual(previousOf(fixture + crashed.join("\n")).held, ["web"])
    const ended = [...crashed, encodeLine({ time: 9, ...Events.monitorQuit() }), ...lines(Events.acquiredLock("x"))]
    assert.deepStrictEqual(previousOf(fixture + ended.join("\n")).held, [], "a clean stop ends every hold")
  })

  it("the status of a session says held, until the session ends cleanly", () => {
    const session = lines(
      Events.acquiredLock("x"),
      Events.listModified("add", "web"),
      Events.spawned("web", 100),
      Events.requested("stop", "web"),
      Events.exited("web", 100, { code: null, signal: "SIGTERM" })
    )
    const [held] = sessionStatusOf([...session].reverse(), 10).services
    assert.deepStrictEqual([held?.state, held?.held, held?.nextStartAt], ["stopped", true, null])
    const quit = [...session, encodeLine({ time: 6, ...Events.monitorQuit() })]
    assert.deepStrictEqual(sessionStatusOf(quit.reverse(), 10).services[0]?.held, false)
  })
})

describe("holds in the journal file", () => {
  it.effect("the next daemon reads a hold back from an unclean session", () =>
    Effect.gen(function*() {
      const file = tempFile()
      fs.writeFileSync(file, fixture + lines(Events.acquiredLock("x"), Events.requested("stop", "web")).join("\n") + "\n")
      const previous = yield* withJournal(file, (journal) => Effect.succeed(journal.previousState))
      assert.deepStrictEqual(previous.held, ["web"])
    }))

  it.live("a session that begins the journal again carries the holds", () =>
    Effect.gen(function*() {
      const file = tempFile()
      fs.writeFileSync(file, lines(Events.acquiredLock("x"), Events.requested("stop", "old")).join("\n") + "\n")
      yield* withJournal(file, (journal) =>
        Effect.gen(function*() {
          yield* journal.append(Events.listModified("add", "web"))
          yield* journal.append(Events.requested("stop", "web"))
          for (let i = 0; i < 60; i++) yield* journal.append(Events.spawnError("loop", `no such file ${i}`))
          yield* journal.flush
        }), 2_000)
      const text = fs.readFileSync(file, "utf8")
      assert.include(text, "begins again")
      assert.deepStrictEqual(previousOf(text).held, ["old", "web"])
    }))

  it.live("a journal moved away is carried to a new file with its holds", () =>
    Effect.gen(function*() {
      const file = tempFile()
      yield* withJournal(file, (journal) =>
        Effect.gen(function*() {
          yield* journal.append(Events.listModified("add", "web"))
          yield* journal.append(Events.requested("stop", "web"))
          yield* journal.flush
          fs.renameSync(file, `${file}.moved`)
          yield* eventually(() => fs.existsSync(file), "a new journal at the path")
          yield* journal.append(Events.warning("test", "after the move"))
          yield* journal.flush
        }))
      const text = fs.readFileSync(file, "utf8")
      assert.include(text, "continuing in a new file")
      assert.deepStrictEqual(previousOf(text).held, ["web"])
    }))
})
