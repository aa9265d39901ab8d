import { assert, describe, it } from "@effect/vitest"
import { Cause, Effect, Exit, Fiber, Queue, Stream } from "effect"
import { TestClock } from "effect/testing"
import type { JournalEntry } from "../src/domain/JournalEvent.ts"
import type { ScriptChange } from "../src/domain/ServiceFile.ts"
import { JournalMemory } from "../src/layers/JournalMemory.ts"
import { SimulatedProcesses } from "../src/layers/ProcessesSimulated.ts"
import * as TestKit from "../src/layers/TestKit.ts"
import { WatcherQueue } from "../src/layers/WatcherQueue.ts"
import { releaseMemoryWhenQuiet, supervise } from "../src/programs/daemon.ts"
import { ProcessSupervisor } from "../src/services/ProcessSupervisor.ts"
import { ServiceSpawner } from "../src/services/ServiceSpawner.ts"
import { System } from "../src/services/System.ts"
import { Control } from "../src/services/Control.ts"
import { Watcher, WatchError } from "../src/services/Watcher.ts"

const entries = JournalMemory.use((journal) => journal.entries)
const offer = (change: ScriptChange) =>
  WatcherQueue.use(({ queue }) => Queue.offer(queue, change))
const settle = TestClock.adjust(0)

const summary = (entry: JournalEntry): string => {
  switch (entry.type) {
    case "process spawned":
      return `spawned ${entry.data.file}`
    case "process exited":
      return `exited ${entry.data.file} ${entry.data.exit_code}${entry.data.error ? ` (${entry.data.error})` : ""}`
    case "process list modified":
      return `${entry.data.op} ${entry.data.file}`
    case "warning":
      return `warning ${entry.data.component}`
    default:
      return entry.type
  }
}

// What an earlier session left: pid 999, gone since; pid 1000, which ignores SIGTERM (`leaveStubborn` starts it).
const leftBehind = {
  held: [],
  notifying: [],
  uncleanSessions: 1,
  badLines: 0,
  leftovers: [
    { file: "gone", pid: 999, pgid: 999, startTime: "999", spawnedAt: 0 },
    { file: "stubborn", pid: 1000, pgid: 1000, startTime: "1000", spawnedAt: 0 }
  ]
}
const leaveStubborn = Effect.gen(function*() {
  yield* (yield* SimulatedProcesses).setBehaviour("stubborn", { ignoresSigterm: true })
  yield* (yield* ServiceSpawner).spawn("/scripts/stubborn")
})

describe("daemon", () => {
  it.effect("applies the watcher's changes and, when stopped, stops everything and writes monitor quit last", () =>
    Effect.gen(function*() {
      const sim = yield* SimulatedProcesses
      const daemon = yield* Effect.forkChild(supervise(Effect.never), { startImmediately: true })
      yield* offer({ _tag: "Add", name: "a" })
      yield* offer({ _tag: "Add", name: "b" })
      yield* settle
      assert.deepStrictEqual((yield* sim.running).map((p) => p.name).sort(), ["a", "b"])
      yield* offer({ _tag: "Update", name: "a" })
      yield* settle
      yield* offer({ _tag: "Remove", name: "b" })
      yield* settle
      assert.deepStrictEqual((yield* sim.running).map((p) => p.name), ["a"])
      yield* Fiber.interrupt(daemon)
      assert.deepStrictEqual((yield* entries).map(summary), [
        "acquired lock",
        "add a",
        "spawned a",
        "add b",
        "spawned b",
        "update a",
        "exited a -1",
        "spawned a",
        "remove b",
        "exited b -1",
        "exited a -1",
        "monitor quit"
      ])
      assert.deepStrictEqual(yield* sim.running, [])
    }).pipe(Effect.provide(TestKit.layer())))

  it.effect("a failing watcher is journaled and the services found keep running", () =>
    Effect.gen(function*() {
      const sim = yield* SimulatedProcesses
      const { queue } = yield* WatcherQueue
      const daemon = yield* Effect.forkChild(supervise(Effect.never), { startImmediately: true })
      yield* Queue.offer(queue, { _tag: "Add", name: "a" })
      yield* Queue.failCause(queue, Cause.fail(new WatchError({ path: "/scripts", reason: "ENOSPC" })))
      yield* settle
      yield* TestClock.adjust("1 hour")
      assert.deepStrictEqual((yield* sim.running).map((p) => p.name), ["a"])
      const warnings = (yield* entries).filter((e) => e.type === "warning")
      assert.deepStrictEqual(warnings.map((w) => w.data), [{
        component: "watcher",
        error: "cannot watch /scripts: ENOSPC; services already found keep running"
      }])
      yield* Fiber.interrupt(daemon)
    }).pipe(Effect.provide(TestKit.layer())))

  it.effect("terminates what an earlier session left, before any service starts", () =>
    Effect.gen(function*() {
      const sim = yield* SimulatedProcesses
      const supervisor = yield* ProcessSupervisor
      yield* leaveStubborn
      const daemon = yield* Effect.forkChild(supervise(Effect.never), { startImmediately: true })
      yield* offer({ _tag: "Add", name: "web" })
      yield* settle
      assert.deepStrictEqual(yield* supervisor.supervised, [], "no service starts during the cleanup")
      yield* TestClock.adjust("3 seconds") // the leftover's stop timeout
      yield* settle
      assert.deepStrictEqual((yield* entries).map(summary), [
        "acquired lock",
        "exited gone -1 (exit not seen: cronmon was not running)",
        "warning previous state",
        "exited stubborn -1 (left running by an earlier session)",
        "add web",
        "spawned web"
      ])
      const signals = (yield* sim.happenings).flatMap((h) => h._tag === "Signalled" ? [`${h.pid} ${h.signal} ${h.at}`] : [])
      assert.deepStrictEqual(signals, ["1000 SIGTERM 0", "1000 SIGKILL 3000"])
      assert.deepStrictEqual(yield* supervisor.supervised, ["web"])
      yield* Fiber.interrupt(daemon)
    }).pipe(Effect.provide(TestKit.layer({}, leftBehind))))

  it.effect("a request made while it cleans up waits for the first scan, and does not answer no such service", () =>
    Effect.gen(function*() {
      yield* leaveStubborn
      const daemon = yield* Effect.forkChild(supervise(Effect.never), { startImmediately: true })
      const starting = yield* Effect.forkChild((yield* Control).start("web"), { startImmediately: true })
      yield* TestClock.adjust("2 seconds")
      assert.isUndefined(starting.pollUnsafe(), "answered during the cleanup")
      yield* TestClock.adjust("1 second") // the leftover's stop timeout: then the scan
      assert.deepStrictEqual(yield* Fiber.await(starting), Exit.succeed({ name: "web", pid: 1001 }))
      yield* Fiber.interrupt(daemon)
    }).pipe(
      // The scan finds web; the watch goes on.
      Effect.provideService(Watcher, Watcher.of({
        changes: Stream.concat(Stream.make({ _tag: "Add", name: "web" }, { _tag: "Scanned" }), Stream.never)
      })),
      Effect.provide(TestKit.layer({}, leftBehind))
    ))

  it.effect("never signals a leftover from before the last boot, whatever has its PID now", () =>
    Effect.gen(function*() {
      const sim = yield* SimulatedProcesses
      const spawner = yield* ServiceSpawner
      yield* spawner.spawn("/usr/bin/unrelated") // pid 1000, same start time as recorded
      yield* sim.setBootedAt(5_000)
      const daemon = yield* Effect.forkChild(supervise(Effect.never), { startImmediately: true })
      yield* settle
      assert.deepStrictEqual((yield* entries).map(summary), [
        "acquired lock",
        "exited web -1 (exit not seen: cronmon was not running)"
      ])
      assert.deepStrictEqual((yield* sim.happenings).filter((h) => h._tag === "Signalled"), [])
      yield* Fiber.interrupt(daemon)
    }).pipe(Effect.provide(TestKit.layer({}, {
      held: [],
      notifying: [],
      uncleanSessions: 1,
      badLines: 0,
      leftovers: [{ file: "web", pid: 1000, pgid: 1000, startTime: "1000", spawnedAt: 4_000 }]
    }))))

  it.effect("without setpriv, warns once and spawns services directly", () =>
    Effect.gen(function*() {
      const sim = yield* SimulatedProcesses
      const daemon = yield* Effect.forkChild(supervise(Effect.never), { startImmediately: true })
      yield* offer({ _tag: "Add", name: "a" })
      yield* offer({ _tag: "Add", name: "b" })
      yield* settle
      assert.deepStrictEqual((yield* sim.running).map((p) => p.name).sort(), ["a", "b"])
      const warnings = (yield* entries).filter((e) => e.type === "warning")
      assert.strictEqual(warnings.length, 1)
      assert.match(JSON.stringify(warnings[0]?.data), /setpriv \(util-linux\) not found/)
      yield* Fiber.interrupt(daemon)
    }).pipe(
      // Only the daemon sees no setpriv; the simulated spawner ignores it anyway.
      Effect.updateService(System, (system) => System.of({ ...system, parentDeathSignal: [] })),
      Effect.provide(TestKit.layer())
    ))

  it.effect("a refused file is warned about and stopped, never spawned", () =>
    Effect.gen(function*() {
      const sim = yield* SimulatedProcesses
      const daemon = yield* Effect.forkChild(supervise(Effect.never), { startImmediately: true })
      yield* offer({ _tag: "Add", name: "a" })
      yield* settle
      yield* offer({ _tag: "Refuse", name: "a", reason: "/scripts/a is writable by group or others" })
      yield* offer({ _tag: "Refuse", name: "b", reason: "/scripts/b is writable by group or others" })
      yield* settle
      yield* TestClock.adjust("1 hour")
      assert.deepStrictEqual(yield* sim.running, [])
      assert.deepStrictEqual((yield* entries).map(summary), [
        "acquired lock",
        "add a",
        "spawned a",
        "warning strict modes",
        "remove a",
        "exited a -1",
        "warning strict modes"
      ])
      yield* Fiber.interrupt(daemon)
    }).pipe(Effect.provide(TestKit.layer())))

  it.effect("gives memory back once quiet: a second after start-up or the last event, at most every five seconds", () =>
    Effect.gen(function*() {
      const sim = yield* SimulatedProcesses
      const released = Effect.map(sim.happenings, (all) => all.flatMap((h) => h._tag === "MemoryReleased" ? [h.at] : []))
      // As the executable runs it: beside supervision.
      const daemon = yield* Effect.forkChild(Effect.all([supervise(Effect.never), releaseMemoryWhenQuiet], { concurrency: 2 }), {
        startImmediately: true
      })
      yield* offer({ _tag: "Add", name: "a" })
      yield* settle
      yield* TestClock.adjust("900 millis")
      assert.deepStrictEqual(yield* released, [])
      yield* TestClock.adjust("100 millis")
      assert.deepStrictEqual(yield* released, [1000])
      // Busy (an event every half second): nothing until a second passes without one.
      for (let i = 0; i < 6; i++) {
        yield* offer({ _tag: "Update", name: "a" })
        yield* settle
        yield* TestClock.adjust("500 millis")
      }
      assert.deepStrictEqual(yield* released, [1000])
      yield* TestClock.adjust("500 millis") // quiet since 3500: due at 4500, spaced to 6000
      assert.deepStrictEqual(yield* released, [1000])
      yield* TestClock.adjust("1499 millis")
      assert.deepStrictEqual(yield* released, [1000])
      yield* TestClock.adjust("1 millis")
      assert.deepStrictEqual(yield* released, [1000, 6000])
      // Quiet: nothing more.
      yield* TestClock.adjust("1 hour")
      assert.deepStrictEqual(yield* released, [1000, 6000])
      yield* Fiber.interrupt(daemon)
    }).pipe(Effect.provide(TestKit.layer())))
})
