/**
 * cronmon inside an Effect program: the whole live daemon as a layer built
 * from plain options, the daemon programs, and the reader of what earlier
 * sessions left in a journal.
 *
 * @example
 * ```ts
 * import { Cronmon } from "cronmon"
 * import { Layer } from "effect"
 * import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
 *
 * // Supervises ./scripts for as long as the program runs.
 * Layer.launch(Cronmon.layer({ scripts: "./scripts", journal: "./journal.json", logs: "./logs" }))
 *   .pipe(NodeRuntime.runMain)
 * ```
 * @since 0.1.0
 */
import { Deferred, Duration, Effect, Layer } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { errorMessage } from "./domain/Errors.ts"
import { Events } from "./domain/JournalEvent.ts"
import { linesBackward } from "./domain/LinesBackward.ts"
import { type PreviousState, previousStateOf } from "./domain/PreviousState.ts"
import { openRegularFile, randomAccess } from "./internal/Files.ts"
import { Hurry } from "./internal/Termination.ts"
import * as ControlServer from "./layers/ControlServer.ts"
import * as HumanLogConsole from "./layers/HumanLogConsole.ts"
import * as Live from "./layers/Live.ts"
import * as Daemon from "./programs/daemon.ts"
import { Journal, type JournalLocked, JournalUnavailable } from "./services/Journal.ts"
import type { ProcessSupervisor } from "./services/ProcessSupervisor.ts"
import type { Control } from "./services/Control.ts"
import type { LogsUnavailable } from "./services/ServiceLogs.ts"
import { defaultSettings, makeSettings, type Settings, type SettingsShape } from "./services/Settings.ts"
import type { System } from "./services/System.ts"
import type { Watcher, WatchError } from "./services/Watcher.ts"

/**
 * What to supervise and how: the CLI's flags as options. Paths are resolved
 * against the working directory; every other option has the CLI's default.
 *
 * @example
 * ```ts
 * const options: Cronmon.Options = {
 *   scripts: "/srv/scripts",
 *   journal: "/srv/journal.json",
 *   logs: "/srv/logs",
 *   stopTimeout: "5 seconds",
 *   restartDelays: ["1 second", "10 seconds"],
 *   stableRun: "2 minutes"
 * }
 * ```
 * @since 0.1.0
 */
export interface Options {
  /** The scripts directory: every executable file in it is a service. */
  readonly scripts: string
  /** The journal file; also the lock that keeps one daemon per journal. */
  readonly journal: string
  /** The directory of the services' output, `NAME.log` each. */
  readonly logs: string
  /** SIGTERM to SIGKILL when stopping a service (default 3 s). */
  readonly stopTimeout?: Duration.Input | undefined
  /** Delays between an exit and the next start; the last repeats (default 0, 5 s, 15 s, 60 s). */
  readonly restartDelays?: ReadonlyArray<Duration.Input> | undefined
  /** A run at least this long resets the delays (default 60 s). */
  readonly stableRun?: Duration.Input | undefined
  /** Quiet time after a file event before acting on it (default 30 ms). */
  readonly settleTime?: Duration.Input | undefined
  /** Refuse scripts writable by group or others or owned by another user (default true). */
  readonly strictModes?: boolean | undefined
  /** Keep the journal under this many bytes (default 16 MiB). */
  readonly journalMaxBytes?: number | undefined
  /** Rotate a service's log at this many bytes (default 10 MiB). */
  readonly logMaxBytes?: number | undefined
  /** Rotated logs kept per service (default 5). */
  readonly logKeep?: number | undefined
  /** Prefix each line of a service's output with the time it was read (default false). */
  readonly logTimestamps?: boolean | undefined
  /** Receives every journal event as a readable line (the CLI writes them to stderr). */
  readonly echo?: ((line: string) => void) | undefined
}

/**
 * The settings that `options` stand for: paths made absolute, durations
 * decoded, the rest defaulted.
 *
 * @example
 * ```ts
 * const settings = Cronmon.settings({ scripts: "scripts", journal: "j.json", logs: "logs", stopTimeout: "1 second" })
 * // settings.scriptsDir === path.resolve("scripts")
 * ```
 * @since 0.1.0
 */
export const settings = (options: Options): SettingsShape => {
  const duration = (input: Duration.Input | undefined, fallback: Duration.Duration) =>
    input === undefined ? fallback : Duration.fromInputUnsafe(input)
  return makeSettings({
    scriptsDir: path.resolve(options.scripts),
    journalPath: path.resolve(options.journal),
    logsDir: path.resolve(options.logs),
    stopTimeout: duration(options.stopTimeout, defaultSettings.stopTimeout),
    restartDelays: options.restartDelays?.map(Duration.fromInputUnsafe) ?? defaultSettings.restartDelays,
    stableRun: duration(options.stableRun, defaultSettings.stableRun),
    settleTime: duration(options.settleTime, defaultSettings.settleTime),
    strictModes: options.strictModes ?? defaultSettings.strictModes,
    journalMaxBytes: options.journalMaxBytes ?? defaultSettings.journalMaxBytes,
    logMaxBytes: options.logMaxBytes ?? defaultSettings.logMaxBytes,
    logKeep: options.logKeep ?? defaultSettings.logKeep,
    logTimestamps: options.logTimestamps ?? defaultSettings.logTimestamps
  })
}

/**
 * The services the daemon is made of.
 *
 * @example
 * ```ts
 * const supervised: Effect.Effect<ReadonlyArray<string>, never, Cronmon.Services> =
 *   ProcessSupervisor.use((supervisor) => supervisor.supervised)
 * ```
 * @since 0.1.0
 */
export type Services = Control | Journal | ProcessSupervisor | Watcher | Settings | System

/**
 * The daemon's services, live, without supervision started: the journal
 * opened and locked, the chokidar watcher, the process supervisor on real
 * processes and `Control` on it, service logs in files, Linux's process
 * facilities. The scripts and logs directories are created when missing.
 * Fails with `JournalLocked` when another daemon holds the journal,
 * `WatchError` when the scripts path is not a directory, `LogsUnavailable`
 * when the logs path is not one (or cannot be written).
 *
 * @example
 * ```ts
 * Cronmon.supervise(Effect.never).pipe(Effect.provide(Cronmon.services(options)))
 * ```
 * @since 0.1.0
 */
export const services = (options: Options): Layer.Layer<Services, JournalLocked | JournalUnavailable | WatchError | LogsUnavailable> =>
  Layer.provide(Live.layer(settings(options)), HumanLogConsole.layerEchoOption(options.echo))

/**
 * Supervision in the background for the life of the layer, on whichever
 * services it is given (live ones, or the test kit's). Releasing the layer
 * stops every service, terminates what they left behind and writes
 * `monitor quit`. With `hurry`, the release sends SIGKILL at once rather
 * than waiting out the stop timeout: under `TestClock` that timeout passes
 * only when the test moves the clock, so a service ignoring SIGTERM would
 * hold the release up for good.
 *
 * @example
 * ```ts
 * // the test kit's simulated services, supervised (what `CronmonTest.layer` is)
 * const daemon = Cronmon.supervision({ hurry: true }).pipe(Layer.provideMerge(CronmonTest.services()))
 * ```
 * @since 0.1.0
 */
export const supervision = (options: { readonly hurry?: boolean } = {}): Layer.Layer<never, never, Services> =>
  Layer.effectDiscard(Effect.gen(function*() {
    const released = yield* Deferred.make<void>()
    const hurry = options.hurry === true ? Deferred.await(released) : Effect.never
    yield* Effect.forkScoped(Daemon.supervise(Effect.never).pipe(Effect.provideService(Hurry, hurry)))
    // Added last, run first: before the supervision's interruption waits for its stops.
    yield* Effect.addFinalizer(() => Deferred.succeed(released, undefined))
  }))

/**
 * The whole live daemon from options: supervision runs while the layer is
 * in use, and the layer provides its services (`Control` to restart, stop,
 * start or signal a service and read the status; `ProcessSupervisor` for
 * what runs). `Layer.launch` it, or merge it into an application's layer.
 *
 * @example
 * ```ts
 * const program = Effect.gen(function*() {
 *   yield* Effect.sleep("1 second")
 *   return yield* (yield* ProcessSupervisor).supervised
 * })
 * program.pipe(Effect.provide(Cronmon.layer({ scripts: "./scripts", journal: "./journal.json", logs: "./logs" })))
 * ```
 * @since 0.1.0
 */
export const layer = (options: Options): Layer.Layer<Services, JournalLocked | JournalUnavailable | WatchError | LogsUnavailable> =>
  supervision().pipe(Layer.provideMerge(services(options)))

/**
 * Supervises until `until` completes (or the fiber is interrupted, or the
 * journal is taken over by another daemon), then stops every service and
 * writes `monitor quit`.
 *
 * @example
 * ```ts
 * // supervise for one minute
 * yield* Cronmon.supervise(Effect.sleep("1 minute"))
 * ```
 * @since 0.1.0
 */
export const supervise: <E, R>(until: Effect.Effect<unknown, E, R>) => Effect.Effect<void, E, R | Services> =
  Daemon.supervise

/**
 * Supervises until SIGINT, SIGTERM or SIGHUP, as the `cronmon` command does:
 * a stop that waits on services says so, and a second SIGINT or SIGTERM
 * while they stop sends them SIGKILL at once (it never kills the process
 * before its services are down).
 *
 * @example
 * ```ts
 * Cronmon.superviseUntilSignal.pipe(Effect.provide(Cronmon.services(options)), NodeRuntime.runMain)
 * ```
 * @since 0.1.0
 */
export const superviseUntilSignal: Effect.Effect<void, never, Services> = Daemon.superviseUntilSignal

/**
 * Gives memory back to the system once the daemon is quiet (a full GC when
 * Node runs with `--expose-gc`, then glibc's `malloc_trim(0)`): a second
 * after it starts or after the last journal event, at most every five
 * seconds. The `cronmon` executable runs it beside supervision; it acts on
 * the whole process, so an app that embeds the daemon forks it only if it
 * wants that.
 *
 * @example
 * ```ts
 * yield* Effect.forkScoped(Cronmon.releaseMemoryWhenQuiet)
 * ```
 * @since 0.1.0
 */
export const releaseMemoryWhenQuiet: Effect.Effect<void, never, Journal | System> = Daemon.releaseMemoryWhenQuiet

/**
 * What earlier sessions recorded in a journal file left behind: processes
 * spawned and never seen to exit, services held down, sessions that did
 * not end cleanly, lines that could not be read. Reads the file backwards from its end, without the
 * lock, so it works while a daemon runs.
 *
 * @example
 * ```ts
 * const { leftovers } = yield* Cronmon.readPreviousState("/srv/journal.json")
 * ```
 * @since 0.1.0
 */
export const readPreviousState = (journal: string): Effect.Effect<PreviousState, JournalUnavailable> =>
  Effect.try({
    try: () => {
      const fd = openRegularFile(journal)
      try {
        return previousStateOf(linesBackward(randomAccess(fd)))
      } finally {
        fs.closeSync(fd)
      }
    },
    catch: (error) => new JournalUnavailable({ path: journal, reason: errorMessage(error) })
  })

/**
 * The daemon's control socket, for the life of the layer: its `Control`
 * served beside the journal, for `cronmon restart`, `stop`, `start`, `kill`
 * and `status`, and for `ControlClient`. A socket that cannot be set up (a
 * file that is not a socket in the way, a private directory refused) is a
 * journal warning, and the daemon runs without one.
 *
 * @example
 * ```ts
 * Cronmon.superviseUntilSignal.pipe(Effect.provide(Cronmon.controlSocket), Effect.provide(Cronmon.services(options)))
 * ```
 * @since 0.1.0
 */
export const controlSocket: Layer.Layer<never, never, Control | Journal | Settings> = ControlServer.layer().pipe(
  Layer.catchTag("ControlSocketError", (error) =>
    Layer.effectDiscard(Journal.use((journal) =>
      journal.append(Events.warning(
        "control",
        `${error.message}: cronmon restart, stop, start and kill cannot reach this daemon`
      ))))
  )
)
