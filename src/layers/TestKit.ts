/**
 * Everything the daemon needs, simulated: an in-memory journal, a hand-fed
 * watcher, simulated processes, a hand-fed notify socket, the real
 * supervisor and `Control` on it, for deterministic tests under `TestClock`.
 *
 * @since 0.1.0
 */
import { Effect, Layer, Stream } from "effect"
import type { PreviousState } from "../domain/PreviousState.ts"
import type { Control } from "../services/Control.ts"
import type { Journal } from "../services/Journal.ts"
import type { ProcessSupervisor } from "../services/ProcessSupervisor.ts"
import type { ServiceSpawner } from "../services/ServiceSpawner.ts"
import { ServiceLogs } from "../services/ServiceLogs.ts"
import { makeSettings, Settings, type SettingsShape } from "../services/Settings.ts"
import type { System } from "../services/System.ts"
import type { Watcher } from "../services/Watcher.ts"
import * as ControlLocal from "./ControlLocal.ts"
import * as JournalMemory from "./JournalMemory.ts"
import * as NotifySocketSimulated from "./NotifySocketSimulated.ts"
import * as ProcessesSimulated from "./ProcessesSimulated.ts"
import * as ProcessSupervisorSpawner from "./ProcessSupervisorSpawner.ts"
import * as WatcherQueue from "./WatcherQueue.ts"

/**
 * The settings tests start from: the original's timings.
 *
 * @since 0.1.0
 */
export const testSettings: SettingsShape = makeSettings({
  scriptsDir: "/scripts",
  journalPath: "/journal.json",
  logsDir: "/logs"
})

/**
 * Service output, discarded.
 *
 * @since 0.1.0
 */
export const discardLogs: Layer.Layer<ServiceLogs> = Layer.succeed(
  ServiceLogs,
  ServiceLogs.of({ write: (_name, output) => Effect.ignore(Stream.runDrain(output)) })
)

/**
 * The simulated daemon environment.
 *
 * @example
 * ```ts
 * it.effect("restarts", () => program.pipe(Effect.provide(TestKit.layer())))
 * ```
 * @since 0.1.0
 */
export const layer = (
  settings: Partial<SettingsShape> = {},
  previousState?: PreviousState
): Layer.Layer<
  | Control
  | ProcessSupervisor
  | Journal
  | JournalMemory.JournalMemory
  | Watcher
  | WatcherQueue.WatcherQueue
  | ServiceSpawner
  | System
  | ProcessesSimulated.SimulatedProcesses
  | NotifySocketSimulated.NotifySimulation
  | Settings
> =>
  ControlLocal.layer.pipe(
    Layer.provideMerge(ProcessSupervisorSpawner.layer),
    Layer.provide(discardLogs),
    Layer.provideMerge(Layer.mergeAll(
      JournalMemory.layer(previousState),
      ProcessesSimulated.layer,
      NotifySocketSimulated.layer(),
      WatcherQueue.layer,
      Layer.succeed(Settings, { ...testSettings, ...settings })
    ))
  )
