/**
 * The whole live daemon as one layer, built from settings.
 *
 * @since 0.1.0
 */
import { Effect, Layer } from "effect"
import { errorMessage } from "../domain/Errors.ts"
import type { Control } from "../services/Control.ts"
import type { Journal, JournalLocked, JournalUnavailable } from "../services/Journal.ts"
import type { ProcessSupervisor } from "../services/ProcessSupervisor.ts"
import { Settings, type SettingsShape } from "../services/Settings.ts"
import type { System } from "../services/System.ts"
import { type Watcher, WatchError } from "../services/Watcher.ts"
import * as ControlLocal from "./ControlLocal.ts"
import { prepareScriptsDirectory } from "../internal/Directories.ts"
import * as JournalFile from "./JournalFile.ts"
import * as ProcessSupervisorSpawner from "./ProcessSupervisorSpawner.ts"
import * as ServiceLogsFile from "./ServiceLogsFile.ts"
import * as ServiceSpawnerNode from "./ServiceSpawnerNode.ts"
import * as SystemLinux from "./SystemLinux.ts"
import * as WatcherChokidar from "./WatcherChokidar.ts"

/**
 * Everything the daemon program needs, live (what `Cronmon.services` is).
 * First a missing scripts directory is created (a scripts path that is not a
 * directory fails with `WatchError`); then the journal is opened and locked:
 * when another daemon holds it, nothing else is built. Journal events are
 * shown on the `HumanLog` in context.
 *
 * @example
 * ```ts
 * supervise(Effect.never).pipe(Effect.provide(Live.layer(settings)), Effect.provide(HumanLogConsole.layer))
 * ```
 * @since 0.1.0
 */
export const layer = (settings: SettingsShape): Layer.Layer<
  Control | Journal | ProcessSupervisor | Watcher | Settings | System,
  JournalLocked | JournalUnavailable | WatchError
> => {
  const scriptsDirectory = Layer.effectDiscard(Effect.try({
    try: () => prepareScriptsDirectory(settings.scriptsDir),
    catch: (error) => new WatchError({ path: settings.scriptsDir, reason: errorMessage(error) })
  }))
  const base = Layer.mergeAll(Layer.succeed(Settings, settings), SystemLinux.layer).pipe(Layer.provideMerge(scriptsDirectory))
  const journal = JournalFile.layer({
    path: settings.journalPath,
    maxBytes: settings.journalMaxBytes,
    restartPolicy: { delays: settings.restartDelays, stableRun: settings.stableRun }
  }).pipe(Layer.provideMerge(base))
  const supervisor = ProcessSupervisorSpawner.layer.pipe(
    Layer.provide(Layer.mergeAll(ServiceLogsFile.layer, ServiceSpawnerNode.layer)),
    Layer.provideMerge(journal)
  )
  return Layer.mergeAll(ControlLocal.layer, WatcherChokidar.layer).pipe(Layer.provideMerge(supervisor))
}
