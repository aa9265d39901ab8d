import { assert, describe, it } from "@effect/vitest"
import { Deferred, Duration, Effect, Fiber } from "effect"
import { TestClock } from "effect/testing"
import { JournalMemory } from "../src/layers/JournalMemory.ts"
import { Hurry, type Terminable, terminate, untilGone } from "../src/internal/Termination.ts"
import { SimulatedProcesses } from "../src/layers/ProcessesSimulated.ts"
import * as TestKit from "../src/layers/TestKit.ts"
import { ProcessSupervisor } from "../src/services/ProcessSupervisor.ts"
import { ServiceSpawner } from "../src/services/ServiceSpawner.ts"
import { System } from "../src/services/System.ts"

const settle = TestClock.adjust(0)

/** Every signal sent so far, as `pid signal millis`. */
const signals = Effect.map(
  SimulatedProcesses.use((sim) => sim.happenings),
  (happenings) => happenings.flatMap((h) => h._tag === "Signalled" ? [`${h.pid} ${h.signal} ${h.at}`] : [])
)

/** A simulated process group as a termination's target. */
const group = (pgid: number) =>
  System.use((system) => Effect.succeed<Terminable>({
    signal: (signal) => system.kill(-pgid, signal),
    gone: untilGone(system.kill(-pgid, 0))
  }))

/** Runs `effect` in the background while the clock moves `by`, and returns its result. */
const whileClockMoves = <A, E>(effect: Effect.Effect<A, E>, by: Duration.Input) =>
  Effect.flatMap(Effect.forkChild(effect, { startImmediately: true }), (fiber) =>
    Effect.andThen(TestClock.adjust(by), Fiber.join(fiber)))

describe("terminate", () => {
  it.effect("a group that goes on SIGTERM gets nothing else", () =>
    Effect.gen(function*() {
      const { pid } = yield* (yield* ServiceSpawner).spawn("/scripts/web")
      const sent = yield* terminate(yield* group(pid), Duration.seconds(3))
      assert.strictEqual(sent, "SIGTERM")
      assert.deepStrictEqual(yield* signals, ["1000 SIGTERM 0"])
    }).pipe(Effect.provide(TestKit.layer())))

  it.effect("SIGTERM reaches every member of the group; SIGKILL, exactly at the stop timeout, what is left", () =>
    Effect.gen(function*() {
      yield* (yield* SimulatedProcesses).setBehaviour("web", { children: [{}, { ignoresSigterm: true }] })
      const { pid } = yield* (yield* ServiceSpawner).spawn("/scripts/web")
      const target = yield* group(pid)
      const sent = yield* whileClockMoves(terminate(target, Duration.millis(2500)), "10 seconds")
      assert.strictEqual(sent, "SIGKILL")
      assert.deepStrictEqual(yield* signals, ["1000 SIGTERM 0", "1001 SIGTERM 0", "1002 SIGTERM 0", "1002 SIGKILL 2500"])
    }).pipe(Effect.provide(TestKit.layer())))

  it.effect("hurried, it sends SIGKILL at once to what ignores SIGTERM, and does not wait in later stops", () =>
    Effect.gen(function*() {
      yield* (yield* SimulatedProcesses).setBehaviour("web", { ignoresSigterm: true })
      const hurry = yield* Deferred.make<void>()
      const hurried = <A, R>(effect: Effect.Effect<A, never, R>) => Effect.provideService(effect, Hurry, Deferred.await(hurry))
      const first = yield* (yield* ServiceSpawner).spawn("/scripts/web")
      const stopping = yield* Effect.forkChild(hurried(terminate(yield* group(first.pid), Duration.hours(1))), { startImmediately: true })
      yield* TestClock.adjust("10 seconds")
      assert.isUndefined(stopping.pollUnsafe(), "waiting out its stop timeout")
      yield* Deferred.succeed(hurry, undefined)
      // Without the clock moving: the SIGKILL, at 10 s.
      assert.strictEqual(yield* Fiber.join(stopping), "SIGKILL")
      const second = yield* (yield* ServiceSpawner).spawn("/scripts/web")
      assert.strictEqual(yield* hurried(terminate(yield* group(second.pid), Duration.hours(1))), "SIGKILL")
      assert.deepStrictEqual(yield* signals, [
        "1000 SIGTERM 0",
        "1000 SIGKILL 10000",
        `${second.pid} SIGTERM 10000`,
        `${second.pid} SIGKILL 10000`
      ])
    }).pipe(Effect.provide(TestKit.layer())))

  it.effect("waits a bounded grace after SIGKILL for a target that does not go", () =>
    Effect.gen(function*() {
      const sent: Array<string> = []
      const unkillable: Terminable = {
        signal: (signal) => Effect.sync(() => sent.push(signal)),
        gone: Effect.never
      }
      const fiber = yield* Effect.forkChild(terminate(unkillable, Duration.seconds(3)), { startImmediately: true })
      yield* TestClock.adjust("3999 millis")
      assert.isUndefined(fiber.pollUnsafe(), "still waiting within the grace")
      yield* TestClock.adjust("1 millis")
      assert.strictEqual(yield* Fiber.join(fiber), "SIGKILL")
      assert.deepStrictEqual(sent, ["SIGTERM", "SIGKILL"])
    }))
})

describe("simulated processes", () => {
  it.effect("a signal to a pid reaches that process alone; to -pgid, its whole group", () =>
    Effect.gen(function*() {
      const system = yield* System
      const sim = yield* SimulatedProcesses
      yield* sim.setBehaviour("web", { children: [{}] })
      const { pid } = yield* (yield* ServiceSpawner).spawn("/scripts/web")
      assert.deepStrictEqual((yield* system.groupMembers(pid)).map((member) => member.pid), [1000, 1001])
      assert.isTrue(yield* system.kill(pid + 1, "SIGTERM"))
      assert.deepStrictEqual((yield* sim.running).map((p) => p.pid), [1000])
      yield* system.kill(-pid, "SIGTERM")
      assert.deepStrictEqual(yield* sim.running, [])
      assert.isFalse(yield* system.kill(-pid, 0), "the group is gone")
    }).pipe(Effect.provide(TestKit.layer())))

  it.effect("exits when its time is up, on SIGTERM with its own code, or fails to spawn with the usual reason", () =>
    Effect.gen(function*() {
      const sim = yield* SimulatedProcesses
      const spawner = yield* ServiceSpawner
      yield* sim.setBehaviour("job", { runFor: "2 seconds", exitCode: 3 })
      yield* sim.setBehaviour("trap", { sigtermExitCode: 143 })
      yield* sim.setBehaviour("broken", { spawnError: "ENOENT" })
      const job = yield* spawner.spawn("/scripts/job")
      const trap = yield* spawner.spawn("/scripts/trap")
      yield* TestClock.adjust("2 seconds")
      assert.deepStrictEqual(yield* job.exit, { code: 3, signal: null })
      yield* (yield* System).kill(-trap.pid, "SIGTERM")
      assert.deepStrictEqual(yield* trap.exit, { code: 143, signal: null })
      const error = yield* Effect.flip(spawner.spawn("/scripts/broken"))
      assert.strictEqual(error.reason, "spawn /scripts/broken: no such file, or its interpreter is missing (ENOENT)")
    }).pipe(Effect.provide(TestKit.layer())))
})

const timeline = JournalMemory.use((journal) =>
  Effect.map(journal.entries, (entries) =>
    entries.flatMap((e) =>
      e.type === "process spawned"
        ? [`${e.time} spawned ${e.data.pid}`]
        : e.type === "process exited"
        ? [`${e.time} exited ${e.data.pid} ${e.data.exit_code} ${e.data.signal ?? ""}`.trim()]
        : []
    )))

describe("the supervisor's stops", () => {
  it.effect("a stop sends SIGTERM to every member of the service's group with its leader", () =>
    Effect.gen(function*() {
      const supervisor = yield* ProcessSupervisor
      yield* (yield* SimulatedProcesses).setBehaviour("web", { children: [{}, { ignoresSigterm: true }] })
      yield* supervisor.start("web")
      yield* settle
      yield* whileClockMoves(supervisor.stop("web"), "5 seconds")
      assert.deepStrictEqual(yield* signals, ["1000 SIGTERM 0", "1001 SIGTERM 0", "1002 SIGTERM 0", "1002 SIGKILL 3000"])
      assert.deepStrictEqual(yield* timeline, ["0 spawned 1000", "3000 exited 1000 -1 SIGTERM"])
    }).pipe(Effect.provide(TestKit.layer())))

  it.effect("a service that exits on SIGTERM with a code is journaled with that code", () =>
    Effect.gen(function*() {
      const supervisor = yield* ProcessSupervisor
      yield* (yield* SimulatedProcesses).setBehaviour("trap", { sigtermExitCode: 143 })
      yield* supervisor.start("trap")
      yield* TestClock.adjust("1 second")
      yield* supervisor.stop("trap")
      assert.deepStrictEqual(yield* signals, ["1000 SIGTERM 1000"])
      assert.deepStrictEqual(yield* timeline, ["0 spawned 1000", "1000 exited 1000 143"])
    }).pipe(Effect.provide(TestKit.layer())))

  it.effect("what a service's group holds when the service exits alone is stopped before it starts again", () =>
    Effect.gen(function*() {
      const supervisor = yield* ProcessSupervisor
      const sim = yield* SimulatedProcesses
      yield* sim.setBehaviour("web", { runFor: "1 second", exitCode: 1, children: [{ ignoresSigterm: true }] })
      yield* supervisor.start("web")
      yield* sim.setBehaviour("web", {})
      yield* TestClock.adjust("10 seconds")
      assert.deepStrictEqual(yield* signals, ["1001 SIGTERM 1000", "1001 SIGKILL 4000"])
      assert.deepStrictEqual(yield* timeline, ["0 spawned 1000", "1000 exited 1000 1", "4000 spawned 1002"])
      assert.deepStrictEqual(yield* supervisor.pids, new Map([["web", 1002]]))
      yield* supervisor.stop("web")
    }).pipe(Effect.provide(TestKit.layer())))
})
