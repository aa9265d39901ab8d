/**
 * The whole live daemon as one layer, built from settings.
 *
 * @since 0.1.0
 */
import { Effect, Layer } from "effect"
import { errorMessage } from "../domain/Errors.ts"
import { Events } from "../domain/JournalEvent.ts"
import { notifySocketPath } from "../domain/NotifySocketPath.ts"
import type { Control } from "../services/Control.ts"
import { Journal, type JournalLocked, type JournalUnavailable } from "../services/Journal.ts"
import type { NotifySocket } from "../services/NotifySocket.ts"
import type { ProcessSupervisor } from "../services/ProcessSupervisor.ts"
import { LogsUnavailable } from "../services/ServiceLogs.ts"
import { Settings, type SettingsShape } from "../services/Settings.ts"
import type { System } from "../services/System.ts"
import { type Watcher, WatchError } from "../services/Watcher.ts"
import * as ControlLocal from "./ControlLocal.ts"
import { prepareDirectory } from "../internal/Directories.ts"
import * as JournalFile from "./JournalFile.ts"
import * as NotifySocketLinux from "./NotifySocketLinux.ts"
import * as ProcessSupervisorSpawner from "./ProcessSupervisorSpawner.ts"
import * as ServiceLogsFile from "./ServiceLogsFile.ts"
import * as ServiceSpawnerNode from "./ServiceSpawnerNode.ts"
import * as SystemLinux from "./SystemLinux.ts"
import * as WatcherChokidar from "./WatcherChokidar.ts"

/**
 * The daemon's notify socket (`notifySocketPath`), for the life of the
 * layer. Built after the journal is locked: only the lock's holder replaces
 * a socket left by a daemon that crashed. One that cannot be set up is a
 * journal warning, and services run without `NOTIFY_SOCKET` (each ready as
 * soon as it is spawned).
 *
 * @example
 * ```ts
 * ProcessSupervisorSpawner.layer.pipe(Layer.provide(Live.notifySocket(settings)))
 * ```
 * @since 0.1.0
 */
export const notifySocket = (settings: SettingsShape): Layer.Layer<NotifySocket, never, Journal> =>
  NotifySocketLinux.layer({ path: notifySocketPath(settings.journalPath, process.getuid?.() ?? 0) }).pipe(
    Layer.catchTag("NotifySocketError", (error) =>
      Layer.merge(
        NotifySocketLinux.unsupported,
        Layer.effectDiscard(Journal.use((journal) =>
          journal.append(Events.warning(
            "notify",
            `${error.message}: services run without NOTIFY_SOCKET (each counts as ready once spawned)`
          ))
        ))
      ))
  )

/**
 * Everything the daemon program needs, live (what `Cronmon.services` is).
 * First the scripts and logs directories are made ready (created when
 * missing; a path that is not a directory, or that cannot be made or used
 * as one, fails with `WatchError` or `LogsUnavailable`); then the journal is
 * opened and locked: when another daemon holds it, nothing else is built. A
 * scripts directory created now is said once in the journal (a mistyped
 * `-s` supervises nothing). Journal events are shown on the `HumanLog` in
 * context.
 *
 * @example
 * ```ts
 * supervise(Effect.never).pipe(Effect.provide(Live.layer(settings)), Effect.provide(HumanLogConsole.layer))
 * ```
 * @since 0.1.0
 */
export const layer = (settings: SettingsShape): Layer.Layer<
  Control | Journal | ProcessSupervisor | Watcher | Settings | System,
  JournalLocked | JournalUnavailable | WatchError | LogsUnavailable
> =>
  Layer.unwrap(Effect.gen(function*() {
    const created = yield* Effect.try({
      try: () => prepareDirectory("scripts", settings.scriptsDir, "read"),
      catch: (error) => new WatchError({ path: settings.scriptsDir, reason: errorMessage(error) })
    })
    yield* Effect.try({
      try: () => prepareDirectory("logs", settings.logsDir, "write"),
      catch: (error) => new LogsUnavailable({ path: settings.logsDir, reason: errorMessage(error) })
    })
    const journal = JournalFile.layer({
      path: settings.journalPath,
      maxBytes: settings.journalMaxBytes,
      restartPolicy: { delays: settings.restartDelays, stableRun: settings.stableRun },
      scriptsDir: settings.scriptsDir
    }).pipe(Layer.provideMerge(Layer.mergeAll(Layer.succeed(Settings, settings), SystemLinux.layer)))
    const announced = Layer.effectDiscard(Effect.flatMap(Journal, (opened) =>
      created
        ? opened.append(Events.warning(
          "scripts",
          `created the scripts directory ${settings.scriptsDir}; put executables in it`
        ))
        : Effect.void
    ))
    const supervisor = ProcessSupervisorSpawner.layer.pipe(
      Layer.provide(Layer.mergeAll(ServiceLogsFile.layer, ServiceSpawnerNode.layer, notifySocket(settings))),
      Layer.provideMerge(journal)
    )
    return Layer.mergeAll(ControlLocal.layer, WatcherChokidar.layer, announced).pipe(Layer.provideMerge(supervisor))
  }))
