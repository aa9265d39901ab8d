/**
 * cronmon as a library: keep the executables of a directory running from
 * inside an Effect program.
 *
 * - `Cronmon`: the whole live daemon as a layer built from options, the
 *   daemon programs, and the previous-state reader.
 * - `Control`: restart, stop (held), start, kill, status and events of a
 *   daemon, with its errors and the status JSON schema; `ControlLocal`, in
 *   the daemon's own process.
 * - The services (`Journal`, `Watcher`, `ProcessSupervisor`, `Settings`,
 *   `ServiceLogs`, `ServiceSpawner`, `System`) and their live layers
 *   (`JournalFileLive`, `WatcherLive`, `ProcessSupervisorLive`,
 *   `ServiceLogsLive`, `ServiceSpawnerLive`, `SystemLive`).
 * - `JournalEvent`: the journal's event schemas; `PreviousState`: what
 *   earlier sessions left; `Metrics`: the supervisor's Effect metrics.
 *
 * Fakes for tests (an in-memory journal, a hand-fed watcher, simulated
 * processes) are in `cronmon/testing`.
 *
 * @example
 * ```ts
 * import { Cronmon, ProcessSupervisor } from "cronmon"
 * import { Effect } from "effect"
 *
 * const program = Effect.gen(function*() {
 *   yield* Effect.sleep("1 second")
 *   console.log(yield* (yield* ProcessSupervisor).supervised)
 * }).pipe(Effect.provide(Cronmon.layer({ scripts: "./scripts", journal: "./journal.json", logs: "./logs" })))
 * ```
 * @since 0.1.0
 */

import type { Layer } from "effect"
import * as ControlLocalLayer from "./layers/ControlLocal.ts"
import * as JournalFile from "./layers/JournalFile.ts"
import * as NotifySocketLinux from "./layers/NotifySocketLinux.ts"
import * as ProcessSupervisorLayers from "./layers/ProcessSupervisorSpawner.ts"
import * as ServiceLogsFile from "./layers/ServiceLogsFile.ts"
import * as ServiceSpawnerNode from "./layers/ServiceSpawnerNode.ts"
import * as SystemLinux from "./layers/SystemLinux.ts"
import * as WatcherChokidar from "./layers/WatcherChokidar.ts"
import type { Control } from "./services/Control.ts"
import type { Journal, JournalLocked, JournalUnavailable } from "./services/Journal.ts"
import type { NotifySocket, NotifySocketError } from "./services/NotifySocket.ts"
import type { ProcessSupervisor } from "./services/ProcessSupervisor.ts"
import type { ServiceLogs } from "./services/ServiceLogs.ts"
import type { ServiceSpawner } from "./services/ServiceSpawner.ts"
import type { Settings } from "./services/Settings.ts"
import type { System } from "./services/System.ts"
import type { Watcher } from "./services/Watcher.ts"

/**
 * The whole live daemon from options (`Cronmon.layer`), the daemon programs
 * (`Cronmon.supervise`, `Cronmon.superviseUntilSignal`) and `Cronmon.readPreviousState`.
 *
 * @example
 * ```ts
 * Layer.launch(Cronmon.layer({ scripts: "./scripts", journal: "./journal.json", logs: "./logs" }))
 * ```
 * @since 0.1.0
 */
export * as Cronmon from "./Cronmon.ts"

/**
 * The journal service and its errors.
 *
 * @example
 * ```ts
 * const journal = yield* Journal
 * yield* journal.append(JournalEvent.Events.warning("my-app", "something to note"))
 * ```
 * @since 0.1.0
 */
export { Journal, JournalLocked, JournalUnavailable } from "./services/Journal.ts"

/**
 * The scripts directory as a stream of changes, and its error.
 *
 * @example
 * ```ts
 * yield* Stream.runForEach((yield* Watcher).changes, (change) => Effect.log(change._tag, change.name))
 * ```
 * @since 0.1.0
 */
export { Watcher, WatchError } from "./services/Watcher.ts"

/**
 * Starts, restarts and stops services by name.
 *
 * @example
 * ```ts
 * const supervisor = yield* ProcessSupervisor
 * yield* supervisor.start("web")
 * const names = yield* supervisor.supervised // ["web"]
 * ```
 * @since 0.1.0
 */
export { type Notice, ProcessSupervisor, type RequestError, type RequestOptions } from "./services/ProcessSupervisor.ts"

/**
 * Acting on a daemon: restart, stop (held down), start, kill, its status
 * and its events; the errors, options and the status JSON schema. The same
 * interface in the daemon's process (`ControlLocal`, which `Cronmon.layer`
 * provides) and over the control socket.
 *
 * @example
 * ```ts
 * const control = yield* Control
 * const { pid } = yield* control.restart("web")
 * ```
 * @since 0.1.0
 */
export {
  ActionDone,
  ActionError,
  ActionFailed,
  ActionOptions,
  Control,
  DaemonStopping,
  InvalidServiceName,
  InvalidSignal,
  NoDaemon,
  NoSuchService,
  NotifyError,
  NotifyRefused,
  NotifyRequest,
  NotReady,
  PermissionDenied,
  ReadError
} from "./services/Control.ts"

/**
 * The status as `status --json` prints it and `Control.status` answers it,
 * and what a running service uses (`System.groupUsage`).
 *
 * @example
 * ```ts
 * const json = Schema.encodeSync(StatusJson)(yield* (yield* Control).status)
 * ```
 * @since 0.1.0
 */
export { LastExitJson, type ResourceUsage, ServiceStatusJson, StatusJson } from "./domain/Status.ts"

/**
 * The settings every program runs with, their defaults, and a constructor.
 *
 * @example
 * ```ts
 * const settings = makeSettings({ scriptsDir: "/srv/scripts", journalPath: "/srv/journal.json", logsDir: "/srv/logs" })
 * const layer = Layer.succeed(Settings, settings)
 * ```
 * @since 0.1.0
 */
export { defaultSettings, makeSettings, Settings, type SettingsShape } from "./services/Settings.ts"

/**
 * Where the output of services goes.
 *
 * @example
 * ```ts
 * const logs = Layer.succeed(ServiceLogs, ServiceLogs.of({ write: (_name, output) => Stream.runDrain(output).pipe(Effect.ignore) }))
 * ```
 * @since 0.1.0
 */
export { LogsUnavailable, ServiceLogs } from "./services/ServiceLogs.ts"

/**
 * Starts a service's file as a process of its own, and its errors.
 *
 * @example
 * ```ts
 * const child = yield* (yield* ServiceSpawner).spawn("/srv/scripts/web")
 * ```
 * @since 0.1.0
 */
export {
  ServiceOutputError,
  type ServiceProcess,
  ServiceSpawner,
  type SpawnOptions,
  SpawnError
} from "./services/ServiceSpawner.ts"

/**
 * The kernel facilities behind a service (flock, kill, /proc), and its types.
 *
 * @example
 * ```ts
 * const alive = yield* (yield* System).kill(pid, 0)
 * ```
 * @since 0.1.0
 */
export {
  type Child,
  type ProcessIdentity,
  type SpawnRefusal,
  System,
  SystemCallError
} from "./services/System.ts"

/**
 * systemd's readiness protocol, received: the address services get as
 * `NOTIFY_SOCKET`, and each datagram with its sender as the kernel vouches
 * for it.
 *
 * @example
 * ```ts
 * const everyone = (yield* NotifySocket).notifications(() => true)
 * yield* Stream.runForEach(everyone, (n) => Effect.log(n.pid, n.fields.get("READY")))
 * ```
 * @since 0.1.0
 */
export { type Notification, NotifySocket, NotifySocketError, type Sender } from "./services/NotifySocket.ts"

/**
 * What one notification datagram says: `parseNotifyMessage` (its
 * `KEY=value` lines) and `notifyMeaning` (the keys of `sd_notify(3)`).
 *
 * @example
 * ```ts
 * NotifyMessage.notifyMeaning(notification.fields).ready
 * ```
 * @since 0.1.0
 */
export * as NotifyMessage from "./domain/NotifyMessage.ts"

/**
 * A change of the set of services: `Add`, `Update` or `Remove` of a name.
 *
 * @example
 * ```ts
 * const change: ScriptChange = { _tag: "Add", name: "web" }
 * ```
 * @since 0.1.0
 */
export type { ScriptChange, WatcherEvent } from "./domain/ServiceFile.ts"

/**
 * The journal's event schemas (`JournalEntry`, `JournalLine`, one schema per
 * event type), the `Events` constructors, `decodeLine`, `encodeLine` and
 * `formatHuman`.
 *
 * @example
 * ```ts
 * const entry = Result.getOrThrow(JournalEvent.decodeLine(line))
 * if (entry.type === "process spawned") console.log(entry.data.file, entry.data.pid)
 * ```
 * @since 0.1.0
 */
export * as JournalEvent from "./domain/JournalEvent.ts"

/**
 * What earlier sessions left behind: `previousStateOf` folds journal lines
 * given newest first (`Cronmon.readPreviousState` reads a file).
 *
 * @example
 * ```ts
 * const state = PreviousState.previousStateOf(linesNewestFirst)
 * state.leftovers // [{ file: "web", pid: 4242, ... }]
 * ```
 * @since 0.1.0
 */
export * as PreviousState from "./domain/PreviousState.ts"

/**
 * The restart policy as an Effect `Schedule`, and its defaults.
 *
 * @example
 * ```ts
 * Effect.repeat(Effect.map(Effect.timed(run), ([ranFor]) => ranFor), Backoff.restartBackoff(Backoff.DEFAULT_DELAYS, Backoff.DEFAULT_STABLE_RUN))
 * ```
 * @since 0.1.0
 */
export * as Backoff from "./domain/Backoff.ts"

/**
 * The supervisor's metrics per service: spawns, exits, restarts, spawn
 * errors, running.
 *
 * @example
 * ```ts
 * const table = yield* Metrics.byService
 * ```
 * @since 0.1.0
 */
export * as Metrics from "./domain/Metrics.ts"

/**
 * The live `Journal`: the journal file, created (0600) when missing, locked
 * (`flock`) for the life of the layer, torn last line repaired.
 *
 * @example
 * ```ts
 * const journal = JournalFileLive({ path: "/srv/journal.json" }).pipe(Layer.provide(SystemLive))
 * ```
 * @since 0.1.0
 */
export const JournalFileLive: (
  options: JournalFile.Options
) => Layer.Layer<Journal, JournalLocked | JournalUnavailable, System> = JournalFile.layer

/**
 * The live `Watcher`: the scripts directory watched with chokidar.
 *
 * @example
 * ```ts
 * const watcher = WatcherLive.pipe(Layer.provide(Layer.succeed(Settings, settings)), Layer.provide(journal))
 * ```
 * @since 0.1.0
 */
export const WatcherLive: Layer.Layer<Watcher, never, Settings | Journal> = WatcherChokidar.layer

/**
 * The live `ProcessSupervisor`: real processes through the
 * `ServiceSpawner` (`ServiceSpawnerLive`), one fiber per service,
 * restarts on the backoff `Schedule`, stops graceful then forced,
 * readiness from the `NotifySocket`.
 *
 * @example
 * ```ts
 * const supervisor = ProcessSupervisorLive.pipe(
 *   Layer.provide(Layer.mergeAll(ServiceLogsLive, ServiceSpawnerLive, NotifySocketLive({ path })))
 * )
 * ```
 * @since 0.1.0
 */
export const ProcessSupervisorLive: Layer.Layer<
  ProcessSupervisor,
  never,
  ServiceSpawner | Journal | ServiceLogs | Settings | System | NotifySocket
> = ProcessSupervisorLayers.layer

/**
 * The live `ServiceLogs`: each service's output appended to `NAME.log` in
 * the logs directory, rotated by size.
 *
 * @example
 * ```ts
 * const logs = ServiceLogsLive.pipe(Layer.provide(Layer.succeed(Settings, settings)), Layer.provide(journal))
 * ```
 * @since 0.1.0
 */
export const ServiceLogsLive: Layer.Layer<ServiceLogs, never, Journal | Settings> = ServiceLogsFile.layer

/**
 * The live `System` on Linux: flock, kill, `/proc`, the subreaper.
 *
 * @example
 * ```ts
 * const alive = yield* System.use((system) => system.kill(pid, 0)).pipe(Effect.provide(SystemLive))
 * ```
 * @since 0.1.0
 */
export const SystemLive: Layer.Layer<System> = SystemLinux.layer

/**
 * The live `ServiceSpawner`, through `posix_spawn` on Linux (on SIGCHLD it
 * collects the exits of what it started; an app that waits for any child
 * itself, `waitpid(-1)`, would take them) and `node:child_process`
 * elsewhere: each service gets one pipe for both stdout and stderr, so its
 * output keeps its order in the log.
 *
 * @example
 * ```ts
 * const supervisor = ProcessSupervisorLive.pipe(Layer.provide(ServiceSpawnerLive), Layer.provide(SystemLive))
 * ```
 * @since 0.1.0
 */
export const ServiceSpawnerLive: Layer.Layer<ServiceSpawner, never, System> = ServiceSpawnerNode.layer

/**
 * The live `ServiceSpawner` through `node:child_process` alone: for an app
 * that collects children it did not start (`waitpid(-1)`), where
 * `ServiceSpawnerLive`'s collection on SIGCHLD would miss their exits.
 *
 * @since 0.1.0
 */
export const ServiceSpawnerChildProcess: Layer.Layer<ServiceSpawner, never, System> = ServiceSpawnerNode.layerChildProcess

/**
 * `Control` in the daemon's own process, on its supervisor, journal,
 * settings and system (`Cronmon.layer` and `Cronmon.services` include it).
 *
 * @example
 * ```ts
 * const control = ControlLocal.pipe(Layer.provide(Cronmon.services(options)))
 * ```
 * @since 0.1.0
 */
export const ControlLocal: Layer.Layer<Control, never, ProcessSupervisor | Journal | Settings | System> =
  ControlLocalLayer.layer

/**
 * The live `NotifySocket`: a datagram socket at `path` (in a directory only
 * the user can enter) read on the event loop through koffi; off Linux, no
 * readiness (no address, nothing arrives).
 *
 * @example
 * ```ts
 * const notify = NotifySocketLive({ path: "/home/me/.local/state/cronmon/run/notify" })
 * ```
 * @since 0.1.0
 */
export const NotifySocketLive: (
  options: NotifySocketLinux.Options
) => Layer.Layer<NotifySocket, NotifySocketError> = NotifySocketLinux.layer

/**
 * The control channel's requests as an Effect RPC group (`ControlRpcs`):
 * what a daemon serves on its control socket, for clients in any language
 * that speaks Effect RPC over newline-delimited JSON.
 *
 * @example
 * ```ts
 * const client = yield* RpcClient.make(ControlRpc.ControlRpcs)
 * ```
 * @since 0.1.0
 */
export * as ControlRpc from "./domain/ControlRpc.ts"

/**
 * `Control` over the control socket of a running daemon, chosen by its
 * journal: `ControlClient.layer(journal)`, or `ControlClient.make(journal)`
 * for the client itself.
 *
 * @example
 * ```ts
 * const { pid } = yield* Control.use((control) => control.restart("web")).pipe(
 *   Effect.provide(ControlClient.layer("/srv/journal.json"))
 * )
 * ```
 * @since 0.1.0
 */
export * as ControlClient from "./layers/ControlClient.ts"

/**
 * The daemon's side of the control socket: serves a `Control` for the life
 * of the layer (the `cronmon` daemon runs it).
 *
 * @example
 * ```ts
 * const served = ControlServer.layer().pipe(Layer.provide(Cronmon.services(options)))
 * ```
 * @since 0.1.0
 */
export * as ControlServer from "./layers/ControlServer.ts"
