/**
 * The whole live daemon as one layer, built from settings.
 *
 * @since 0.1.0
 */
import { Layer } from "effect"
import type { Journal, JournalLocked, JournalUnavailable } from "../services/Journal.ts"
import type { ProcessSupervisor } from "../services/ProcessSupervisor.ts"
import { Settings, type SettingsShape } from "../services/Settings.ts"
import type { System } from "../services/System.ts"
import type { Watcher } from "../services/Watcher.ts"
import * as JournalFile from "./JournalFile.ts"
import * as ProcessSupervisorLive from "./ProcessSupervisorLive.ts"
import * as ServiceLogsFile from "./ServiceLogsFile.ts"
import * as ServiceSpawner from "./ServiceSpawner.ts"
import * as SystemLinux from "./SystemLinux.ts"
import * as WatcherChokidar from "./WatcherChokidar.ts"

/**
 * Everything the daemon program needs, live. The journal is opened (and
 * locked) first: when another daemon holds it, nothing else is built. Its
 * events are shown on the `HumanLog` in context (the CLI's is stderr).
 *
 * @example
 * ```ts
 * daemon.pipe(Effect.provide(Live.layer(settings)), Effect.provide(HumanLogConsole.layer))
 * ```
 * @since 0.1.0
 */
export const layer = (settings: SettingsShape): Layer.Layer<
  Journal | ProcessSupervisor | Watcher | Settings | System,
  JournalLocked | JournalUnavailable
> => {
  const base = Layer.mergeAll(Layer.succeed(Settings, settings), SystemLinux.layer)
  const journal = JournalFile.layer({
    path: settings.journalPath,
    maxBytes: settings.journalMaxBytes
  }).pipe(Layer.provideMerge(base))
  return Layer.mergeAll(ProcessSupervisorLive.layer, WatcherChokidar.layer).pipe(
    Layer.provide(Layer.mergeAll(ServiceLogsFile.layer, ServiceSpawner.layer)),
    Layer.provideMerge(journal)
  )
}
