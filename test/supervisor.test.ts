import { assert, describe, it } from "@effect/vitest"
import { Clock, Duration, Effect, Fiber } from "effect"
import { TestClock } from "effect/testing"
import type { JournalEntry } from "../src/domain/JournalEvent.ts"
import { JournalMemory } from "../src/layers/JournalMemory.ts"
import { SimulatedProcesses } from "../src/layers/ProcessesSimulated.ts"
import * as TestKit from "../src/layers/TestKit.ts"
import { ProcessSupervisor } from "../src/services/ProcessSupervisor.ts"

const entries = JournalMemory.use((journal) => journal.entries)

/** The journal without `acquired lock`, as `[seconds, type, details]`. */
const timeline = Effect.map(entries, (all) =>
  all.filter((e) => e.type !== "acquired lock").map((e: JournalEntry) => {
    const seconds = e.time / 1000
    switch (e.type) {
      case "process spawned":
        return [seconds, "spawned", e.data.file, e.data.pid] as const
      case "process exited":
        return [seconds, "exited", e.data.file, e.data.exit_code, e.data.signal ?? null] as const
      case "process spawn error":
        return [seconds, "spawn error", e.data.file, e.data.reason] as const
      default:
        return [seconds, e.type] as const
    }
  }))

const spawnTimes = (name: string) =>
  Effect.map(entries, (all) =>
    all.flatMap((e) => e.type === "process spawned" && e.data.file === name ? [e.time / 1000] : []))

// Lets forked fibers run up to their next wait without moving the clock.
const settle = TestClock.adjust(0)

/** Runs `stop` while the clock moves `by` (a stop may wait for the stop timeout). */
const whileClockMoves = <A, E, R>(stop: Effect.Effect<A, E, R>, by: Duration.Input) =>
  Effect.gen(function*() {
    const stopping = yield* Effect.forkChild(stop, { startImmediately: true })
    yield* TestClock.adjust(by)
    return yield* Fiber.join(stopping)
  })

// The test clock, with every sleep asked of it written down in `sleeps`.
const writingSleepsDown = (clock: Clock.Clock, sleeps: Array<number>): Clock.Clock =>
  new Proxy(clock, {
    get: (target, key) => {
      if (key === "sleep") {
        return (duration: Duration.Duration) => {
          sleeps.push(Duration.toMillis(duration))
          return target.sleep(duration)
        }
      }
      const value: unknown = Reflect.get(target, key, target)
      return typeof value === "function" ? value.bind(target) : value
    }
  })

describe("ProcessSupervisor", () => {
  it.effect("graceful stop: SIGTERM ends the process, which is journaled as exited", () =>
    Effect.gen(function*() {
      const supervisor = yield* ProcessSupervisor
      yield* supervisor.start("web")
      yield* settle
      yield* TestClock.adjust("10 seconds")
      yield* supervisor.stop("web")
      assert.deepStrictEqual(yield* timeline, [
        [0, "spawned", "web", 1000],
        [10, "exited", "web", -1, "SIGTERM"]
      ])
      assert.deepStrictEqual(yield* supervisor.supervised, [])
    }).pipe(Effect.provide(TestKit.layer())))

  it.effect("a process that exits on SIGTERM with a code is journaled with that code", () =>
    Effect.gen(function*() {
      const supervisor = yield* ProcessSupervisor
      const sim = yield* SimulatedProcesses
      // Left running by SIGTERM, so that the test answers it as the process would.
      yield* sim.setBehaviour("graceful", { ignoresSigterm: true })
      yield* supervisor.start("graceful")
      yield* settle
      const [service] = yield* sim.running
      const stopping = yield* Effect.forkChild(supervisor.stop("graceful"), { startImmediately: true })
      yield* settle
      const signals = (yield* sim.happenings).flatMap((h) => h._tag === "Signalled" ? [h.signal] : [])
      assert.deepStrictEqual(signals, ["SIGTERM"], "the stop sent SIGTERM")
      // The process's answer: a clean-up, then exit 3.
      yield* sim.end(service!.pid, { code: 3, signal: null })
      yield* Fiber.join(stopping)
      assert.deepStrictEqual(yield* timeline, [
        [0, "spawned", "graceful", 1000],
        [0, "exited", "graceful", 3, null]
      ])
      const after = (yield* sim.happenings).flatMap((h) => h._tag === "Signalled" ? [h.signal] : [])
      assert.deepStrictEqual(after, ["SIGTERM"], "no SIGKILL after the exit")
    }).pipe(Effect.provide(TestKit.layer())))

  it.effect("stop timeout: a process ignoring SIGTERM is killed exactly when the timeout passes; both signals go to its group", () =>
    Effect.gen(function*() {
      const supervisor = yield* ProcessSupervisor
      const sim = yield* SimulatedProcesses
      yield* sim.setBehaviour("stubborn", { ignoresSigterm: true })
      yield* supervisor.start("stubborn")
      yield* settle
      const stopping = yield* Effect.forkChild(supervisor.stop("stubborn"), { startImmediately: true })
      yield* settle
      yield* TestClock.adjust(Duration.millis(2_999))
      assert.deepStrictEqual((yield* sim.running).map((p) => p.name), ["stubborn"], "alive just before the timeout")
      yield* TestClock.adjust(Duration.millis(1))
      yield* Fiber.join(stopping)
      assert.deepStrictEqual(yield* sim.running, [])
      const signals = (yield* sim.happenings).flatMap((h) => h._tag === "Signalled" ? [[h.signal, h.at, h.group]] : [])
      // To the group (kill(-pid)), not the leader alone: what the service started stops with it.
      assert.deepStrictEqual(signals, [["SIGTERM", 0, true], ["SIGKILL", 3000, true]])
      assert.deepStrictEqual((yield* timeline).at(-1), [3, "exited", "stubborn", -1, "SIGKILL"])
    }).pipe(Effect.provide(TestKit.layer())))

  it.effect("the stop timeout is the configured one", () =>
    Effect.gen(function*() {
      const supervisor = yield* ProcessSupervisor
      const sim = yield* SimulatedProcesses
      yield* sim.setBehaviour("stubborn", { ignoresSigterm: true })
      yield* supervisor.start("stubborn")
      yield* settle
      yield* whileClockMoves(supervisor.stop("stubborn"), "10 seconds")
      assert.deepStrictEqual((yield* timeline).at(-1), [0.5, "exited", "stubborn", -1, "SIGKILL"])
    }).pipe(Effect.provide(TestKit.layer({ stopTimeout: Duration.millis(500) }))))

  it.effect("backoff: the delays between attempts are exactly 0, 5, 15, 60, 60 s", () =>
    Effect.gen(function*() {
      const supervisor = yield* ProcessSupervisor
      const sim = yield* SimulatedProcesses
      yield* sim.setBehaviour("crash", { runFor: 0, exitCode: 1 })
      yield* supervisor.start("crash")
      yield* TestClock.adjust("200 seconds")
      assert.deepStrictEqual(yield* spawnTimes("crash"), [0, 0, 5, 20, 80, 140, 200])
      yield* supervisor.stop("crash")
    }).pipe(Effect.provide(TestKit.layer())))

  it.effect("a restart due now is spawned at once, not after a zero sleep (on a real clock, a timer)", () =>
    Effect.gen(function*() {
      const supervisor = yield* ProcessSupervisor
      const sim = yield* SimulatedProcesses
      const sleeps: Array<number> = []
      const spy = writingSleepsDown(yield* Clock.Clock, sleeps)
      yield* sim.setBehaviour("crash", { runFor: 0, exitCode: 1 })
      yield* supervisor.start("crash").pipe(Effect.provideService(Clock.Clock, spy))
      yield* settle
      assert.deepStrictEqual(yield* spawnTimes("crash"), [0, 0])
      // The second failure waits its 5 s; the first restart waited for nothing.
      assert.deepStrictEqual(sleeps, [5000])
      yield* supervisor.stop("crash")
    }).pipe(Effect.provide(TestKit.layer())))

  it.effect("a spawn that fails at once, under zero delays only, is retried after a timer each time, not in a loop", () =>
    Effect.gen(function*() {
      const supervisor = yield* ProcessSupervisor
      const sim = yield* SimulatedProcesses
      const sleeps: Array<number> = []
      const spy = writingSleepsDown(yield* Clock.Clock, sleeps)
      yield* sim.setBehaviour("broken", { spawnError: "EACCES" })
      yield* supervisor.start("broken").pipe(Effect.provideService(Clock.Clock, spy))
      for (let i = 0; i < 5; i++) yield* Effect.yieldNow
      yield* supervisor.stop("broken")
      const errors = (yield* timeline).filter((e) => e[1] === "spawn error").length
      assert.isAbove(errors, 1)
      // A test clock's zero sleep returns at once; a real one waits for a timer.
      assert.isAtLeast(sleeps.filter((ms) => ms === 0).length, errors - 1)
    }).pipe(Effect.provide(TestKit.layer({ restartDelays: [Duration.zero] }))))

  it.effect("backoff: a run of at least the stable time resets the delays", () =>
    Effect.gen(function*() {
      const supervisor = yield* ProcessSupervisor
      const sim = yield* SimulatedProcesses
      yield* sim.setBehaviour("flaky", { runFor: 0, exitCode: 1 })
      yield* supervisor.start("flaky")
      yield* TestClock.adjust("10 seconds") // spawns at 0, 0, 5
      yield* sim.setBehaviour("flaky", { runFor: "60 seconds", exitCode: 1 }) // the 20 s run lasts 60 s
      yield* TestClock.adjust("11 seconds")
      yield* sim.setBehaviour("flaky", { runFor: 0, exitCode: 1 })
      yield* TestClock.adjust("100 seconds")
      // after the stable run (20 s to 80 s): delays 0, 5, 15, 60 again
      assert.deepStrictEqual(yield* spawnTimes("flaky"), [0, 0, 5, 20, 80, 85, 100])
      yield* supervisor.stop("flaky")
    }).pipe(Effect.provide(TestKit.layer())))

  it.effect("a run just short of the stable time does not reset the delays", () =>
    Effect.gen(function*() {
      const supervisor = yield* ProcessSupervisor
      const sim = yield* SimulatedProcesses
      yield* sim.setBehaviour("flaky", { runFor: "59999 millis", exitCode: 1 })
      yield* supervisor.start("flaky")
      yield* TestClock.adjust("200 seconds")
      // runs of 59.999 s: delays 0, 5, 15, 60 between them
      const times = yield* spawnTimes("flaky")
      const gaps = times.slice(1).map((t, i) => Math.round((t - times[i]! - 59.999) * 1000) / 1000)
      assert.deepStrictEqual(gaps, [0, 5, 15])
      yield* supervisor.stop("flaky")
    }).pipe(Effect.provide(TestKit.layer())))

  it.effect("spawn failures follow the same delays and are journaled", () =>
    Effect.gen(function*() {
      const supervisor = yield* ProcessSupervisor
      const sim = yield* SimulatedProcesses
      yield* sim.setBehaviour("broken", { spawnError: "EACCES" })
      yield* supervisor.start("broken")
      yield* TestClock.adjust("30 seconds")
      const errors = (yield* timeline).filter((e) => e[1] === "spawn error")
      assert.deepStrictEqual(errors.map((e) => e[0]), [0, 0, 5, 20])
      assert.strictEqual(errors[0]![3], "spawn /scripts/broken: permission denied (EACCES)")
      yield* supervisor.stop("broken")
    }).pipe(Effect.provide(TestKit.layer())))

  it.effect("autorestart: five exit cycles, each journaled as spawned then exited", () =>
    Effect.gen(function*() {
      const supervisor = yield* ProcessSupervisor
      const sim = yield* SimulatedProcesses
      yield* sim.setBehaviour("job", { runFor: "2 minutes", exitCode: 0 })
      yield* supervisor.start("job")
      yield* TestClock.adjust("10 minutes")
      const cycles = (yield* timeline).filter((e) => e[1] !== "process list modified")
      const expected = [0, 1, 2, 3, 4].flatMap((i) => [
        [i * 120, "spawned", "job", 1000 + i],
        [(i + 1) * 120, "exited", "job", 0, null]
      ])
      assert.deepStrictEqual<ReadonlyArray<ReadonlyArray<unknown>>>(cycles.slice(0, 10), expected)
      yield* supervisor.stop("job")
    }).pipe(Effect.provide(TestKit.layer())))

  it.effect("an exit is journaled before the next spawned, and before a restart's delay", () =>
    Effect.gen(function*() {
      const supervisor = yield* ProcessSupervisor
      const sim = yield* SimulatedProcesses
      yield* sim.setBehaviour("crash", { runFor: "1 second", exitCode: 3 })
      yield* supervisor.start("crash")
      // Spawned at 0, exits at 1, restarted at once, exits at 2: now waiting 5 s.
      yield* TestClock.adjust("3 seconds")
      assert.deepStrictEqual(yield* timeline, [
        [0, "spawned", "crash", 1000],
        [1, "exited", "crash", 3, null],
        [1, "spawned", "crash", 1001],
        [2, "exited", "crash", 3, null]
      ])
      yield* supervisor.stop("crash")
      assert.strictEqual((yield* timeline).length, 4)
    }).pipe(Effect.provide(TestKit.layer())))

  it.effect("restart never overlaps two instances, even when the old one ignores SIGTERM", () =>
    Effect.gen(function*() {
      const supervisor = yield* ProcessSupervisor
      const sim = yield* SimulatedProcesses
      yield* sim.setBehaviour("svc", { ignoresSigterm: true })
      yield* supervisor.start("svc")
      yield* settle
      // three updates in a row: the first stops the old instance (3 s, it
      // ignores SIGTERM); the two made meanwhile wait, together, for one more
      const restarts = yield* Effect.forkChild(
        Effect.all([supervisor.start("svc"), supervisor.start("svc"), supervisor.start("svc")], {
          concurrency: "unbounded"
        }),
        { startImmediately: true }
      )
      yield* TestClock.adjust("10 seconds")
      yield* Fiber.join(restarts)
      let alive = 0
      let maxAlive = 0
      for (const h of yield* sim.happenings) {
        if (h._tag === "Spawned") alive++
        if (h._tag === "Exited") alive--
        maxAlive = Math.max(maxAlive, alive)
      }
      assert.strictEqual(maxAlive, 1)
      assert.strictEqual(alive, 1)
      assert.deepStrictEqual(yield* spawnTimes("svc"), [0, 3, 6])
      yield* whileClockMoves(supervisor.stop("svc"), "3 seconds")
    }).pipe(Effect.provide(TestKit.layer())))

  it.effect("stopAll stops every service in parallel: one stop timeout in all", () =>
    Effect.gen(function*() {
      const supervisor = yield* ProcessSupervisor
      const sim = yield* SimulatedProcesses
      const names = Array.from({ length: 50 }, (_, i) => `s${i}`)
      yield* Effect.forEach(names, (name) => sim.setBehaviour(name, { ignoresSigterm: true }))
      yield* Effect.forEach(names, supervisor.start)
      yield* settle
      yield* whileClockMoves(supervisor.stopAll, "3 seconds")
      assert.deepStrictEqual(yield* sim.running, [])
      const exits = (yield* timeline).filter((e) => e[1] === "exited")
      assert.strictEqual(exits.length, 50)
      assert.isTrue(exits.every((e) => e[0] === 3))
    }).pipe(Effect.provide(TestKit.layer())))

  it.effect("a service that is stopped while waiting to restart is not started again", () =>
    Effect.gen(function*() {
      const supervisor = yield* ProcessSupervisor
      const sim = yield* SimulatedProcesses
      yield* sim.setBehaviour("crash", { runFor: 0, exitCode: 2 })
      yield* supervisor.start("crash")
      yield* TestClock.adjust("1 second") // spawns at 0 and 0; now waiting 5 s
      yield* supervisor.stop("crash")
      yield* TestClock.adjust("5 minutes")
      assert.deepStrictEqual(yield* spawnTimes("crash"), [0, 0])
      assert.deepStrictEqual(yield* supervisor.supervised, [])
    }).pipe(Effect.provide(TestKit.layer())))
})
