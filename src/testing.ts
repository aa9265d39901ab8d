/**
 * `cronmon/testing`: test a supervision policy without real processes or
 * real time. The simulated daemon is the real supervisor and daemon program
 * on fakes: an in-memory journal, a hand-fed watcher, and simulated
 * processes that a test makes exit, crash, ignore SIGTERM or fail to spawn.
 * With `TestClock` every scenario is deterministic.
 *
 * @example
 * ```ts
 * import * as CronmonTest from "cronmon/testing"
 * import { Effect } from "effect"
 * import { TestClock } from "effect/testing"
 *
 * const scenario = Effect.gen(function*() {
 *   yield* CronmonTest.behave("web", { runFor: "10 seconds", exitCode: 1 })
 *   yield* CronmonTest.add("web")
 *   yield* TestClock.adjust("1 minute")
 *   return yield* CronmonTest.spawnTimes("web") // [0, 10, 25, 50]
 * }).pipe(Effect.provide(CronmonTest.layer()))
 * ```
 * @since 0.1.0
 */
import { Effect, Layer, Metric, Queue } from "effect"
import * as Cronmon from "./Cronmon.ts"
import { TestClock } from "effect/testing"
import type { JournalEntry } from "./domain/JournalEvent.ts"
import type { PreviousState } from "./domain/PreviousState.ts"
import type { ScriptChange } from "./domain/ServiceFile.ts"
import * as HumanLogConsole from "./layers/HumanLogConsole.ts"
import { JournalMemory } from "./layers/JournalMemory.ts"
import * as NotifySocketSimulated from "./layers/NotifySocketSimulated.ts"
import { type Behaviour, SimulatedProcesses } from "./layers/ProcessesSimulated.ts"
import * as TestKit from "./layers/TestKit.ts"
import { WatcherQueue } from "./layers/WatcherQueue.ts"
import type { NotifySocket } from "./services/NotifySocket.ts"
import type { ServiceSpawner } from "./services/ServiceSpawner.ts"
import type { SettingsShape } from "./services/Settings.ts"

/**
 * The in-memory journal's reader, the hand-fed watcher's queue, the
 * simulation's control and its types.
 *
 * @example
 * ```ts
 * const sim = yield* SimulatedProcesses
 * yield* sim.setBehaviour("stubborn", { ignoresSigterm: true })
 * ```
 * @since 0.1.0
 */
export { JournalMemory } from "./layers/JournalMemory.ts"

/**
 * The hand-fed watcher's queue: offer `ScriptChange`s to it.
 *
 * @example
 * ```ts
 * yield* Queue.offer((yield* WatcherQueue).queue, { _tag: "Add", name: "web" })
 * ```
 * @since 0.1.0
 */
export { WatcherQueue } from "./layers/WatcherQueue.ts"

/**
 * The hand of the simulated notify socket, and who sends.
 *
 * @example
 * ```ts
 * yield* (yield* NotifySimulation).send({ pid: 4242 }, "READY=1")
 * ```
 * @since 0.1.0
 */
export { NotifySimulation, type SimulatedSender } from "./layers/NotifySocketSimulated.ts"

/**
 * A `NotifySocket` whose datagrams are what the test sends through
 * `NotifySimulation`.
 *
 * @example
 * ```ts
 * program.pipe(Effect.provide(CronmonTest.notifySocket()))
 * ```
 * @since 0.1.0
 */
export const notifySocket: (address?: string) => Layer.Layer<NotifySocket | NotifySocketSimulated.NotifySimulation> =
  NotifySocketSimulated.layer

/**
 * The control of the simulated processes, how a file behaves when spawned,
 * and what happened to the processes.
 *
 * @example
 * ```ts
 * const happenings = yield* (yield* SimulatedProcesses).happenings
 * ```
 * @since 0.1.0
 */
export { type Behaviour, type Happening, SimulatedProcesses } from "./layers/ProcessesSimulated.ts"

/**
 * The settings the simulation starts from (the CLI's timings, paths under `/`),
 * and a `ServiceLogs` that discards output.
 *
 * @example
 * ```ts
 * CronmonTest.layer({ stopTimeout: Duration.millis(500) }) // testSettings with a shorter stop timeout
 * ```
 * @since 0.1.0
 */
export { discardLogs, testSettings } from "./layers/TestKit.ts"

/**
 * What the simulated daemon provides: the daemon's services, the controls of
 * the fakes (the notify socket's too), and the simulated `ServiceSpawner`.
 *
 * @example
 * ```ts
 * const scenario: Effect.Effect<void, never, CronmonTest.TestServices> = CronmonTest.add("web")
 * ```
 * @since 0.1.0
 */
export type TestServices =
  | Cronmon.Services
  | JournalMemory
  | WatcherQueue
  | SimulatedProcesses
  | NotifySocketSimulated.NotifySimulation
  | ServiceSpawner

/**
 * The test kit's settings from the options `Cronmon.layer` takes (so one
 * policy object serves both): paths under `/` unless given, durations as
 * any `Duration` input (`"5 seconds"`, `Duration.seconds(5)`).
 *
 * @example
 * ```ts
 * CronmonTest.settingsOf({ stopTimeout: "2 seconds" }).stopTimeout // Duration.seconds(2)
 * ```
 * @since 0.1.0
 */
export const settingsOf = (options: Partial<Cronmon.Options> = {}): SettingsShape =>
  Cronmon.settings({
    scripts: TestKit.testSettings.scriptsDir,
    journal: TestKit.testSettings.journalPath,
    logs: TestKit.testSettings.logsDir,
    ...options
  })

/**
 * The daemon's services, simulated (`Cronmon.services`' twin, from the same
 * options, `echo` included), with the real `ProcessSupervisor`, and an
 * Effect `MetricRegistry` of its own (so each test reads only its own
 * metrics). Supervision is not started: drive the supervisor yourself, or
 * use `layer`.
 *
 * @example
 * ```ts
 * Effect.gen(function*() {
 *   yield* (yield* ProcessSupervisor).start("web")
 * }).pipe(Effect.provide(CronmonTest.services()))
 * ```
 * @since 0.1.0
 */
export const services = (options: Partial<Cronmon.Options> = {}, previousState?: PreviousState): Layer.Layer<TestServices> =>
  Layer.merge(TestKit.layer(settingsOf(options), previousState), Layer.sync(Metric.MetricRegistry, () => new Map())).pipe(
    Layer.provide(HumanLogConsole.layerEchoOption(options.echo))
  )

/**
 * The whole simulated daemon (`Cronmon.layer`'s twin, from the same
 * options): `services` supervised in the background, as `cronmon` does.
 * Changes fed to the watcher start, restart and stop services, and so do
 * requests to its `Control`; releasing the layer stops everything (a
 * service that ignores SIGTERM gets SIGKILL at once: the test's clock need
 * not move) and writes `monitor quit`.
 *
 * @example
 * ```ts
 * Effect.gen(function*() {
 *   yield* CronmonTest.add("web")
 *   yield* TestClock.adjust("1 minute")
 * }).pipe(Effect.provide(CronmonTest.layer({ restartDelays: ["1 second", "10 seconds"] })))
 * ```
 * @since 0.1.0
 */
export const layer = (options: Partial<Cronmon.Options> = {}, previousState?: PreviousState): Layer.Layer<TestServices> =>
  Cronmon.supervision({ hurry: true }).pipe(Layer.provideMerge(services(options, previousState)))

/**
 * Feeds one change to the hand-fed watcher, then lets the daemon act on it
 * (`settle`: under `TestClock`, without moving the clock).
 *
 * @example
 * ```ts
 * yield* CronmonTest.change({ _tag: "Update", name: "web" })
 * ```
 * @since 0.1.0
 */
export const change = (scriptChange: ScriptChange): Effect.Effect<void, never, WatcherQueue> =>
  WatcherQueue.use(({ queue }) => Queue.offer(queue, scriptChange)).pipe(Effect.andThen(settle))

/**
 * A script appears in the scripts directory.
 *
 * @example
 * ```ts
 * yield* CronmonTest.add("web")
 * ```
 * @since 0.1.0
 */
export const add = (name: string): Effect.Effect<void, never, WatcherQueue> => change({ _tag: "Add", name })

/**
 * A script's file changes.
 *
 * @example
 * ```ts
 * yield* CronmonTest.update("web")
 * ```
 * @since 0.1.0
 */
export const update = (name: string): Effect.Effect<void, never, WatcherQueue> => change({ _tag: "Update", name })

/**
 * A script is removed from the scripts directory.
 *
 * @example
 * ```ts
 * yield* CronmonTest.remove("web")
 * ```
 * @since 0.1.0
 */
export const remove = (name: string): Effect.Effect<void, never, WatcherQueue> => change({ _tag: "Remove", name })

/**
 * Says how a script behaves from its next spawn on: run until signalled
 * (`{}`), exit after a while (`runFor`, `exitCode`), ignore SIGTERM, or fail
 * to spawn (`spawnError: "ENOENT"`).
 *
 * @example
 * ```ts
 * yield* CronmonTest.behave("crashy", { runFor: "2 seconds", exitCode: 1 })
 * ```
 * @since 0.1.0
 */
export const behave = (name: string, behaviour: Behaviour): Effect.Effect<void, never, SimulatedProcesses> =>
  SimulatedProcesses.use((sim) => sim.setBehaviour(name, behaviour))

/**
 * A datagram reaches the simulated notify socket from `sender` (a pid, and
 * its group when it does not lead one), then the daemon acts on it
 * (`settle`).
 *
 * @example
 * ```ts
 * yield* CronmonTest.notify({ pid: 1000 }, "READY=1\nSTATUS=serving")
 * ```
 * @since 0.1.0
 */
export const notify = (
  sender: NotifySocketSimulated.SimulatedSender,
  message: string
): Effect.Effect<void, never, NotifySocketSimulated.NotifySimulation> =>
  NotifySocketSimulated.NotifySimulation.use((simulation) => simulation.send(sender, message)).pipe(Effect.andThen(settle))

/**
 * The names of the scripts whose simulated process runs now, sorted.
 *
 * @example
 * ```ts
 * assert.deepStrictEqual(yield* CronmonTest.runningNames, ["web"])
 * ```
 * @since 0.1.0
 */
export const runningNames: Effect.Effect<ReadonlyArray<string>, never, SimulatedProcesses> = SimulatedProcesses.use(
  (sim) => Effect.map(sim.running, (processes) => processes.map((p) => p.name).sort())
)

/**
 * Everything journaled so far, stamped by the (test) clock.
 *
 * @example
 * ```ts
 * const types = (yield* CronmonTest.journal).map((entry) => entry.type)
 * ```
 * @since 0.1.0
 */
export const journal: Effect.Effect<ReadonlyArray<JournalEntry>, never, JournalMemory> = JournalMemory.use(
  (memory) => memory.entries
)

/**
 * When a script was spawned, in seconds of the (test) clock.
 *
 * @example
 * ```ts
 * assert.deepStrictEqual(yield* CronmonTest.spawnTimes("web"), [0, 5, 20])
 * ```
 * @since 0.1.0
 */
export const spawnTimes = (name: string): Effect.Effect<ReadonlyArray<number>, never, JournalMemory> =>
  Effect.map(journal, (entries) =>
    entries.flatMap((entry) => entry.type === "process spawned" && entry.data.file === name ? [entry.time / 1000] : []))

/**
 * Under `TestClock`: lets every fiber that can run do so, without moving
 * the clock.
 *
 * @example
 * ```ts
 * yield* CronmonTest.settle
 * ```
 * @since 0.1.0
 */
export const settle: Effect.Effect<void> = TestClock.adjust(0)
