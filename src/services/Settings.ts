/**
 * The resolved settings every program runs with: paths and timings.
 *
 * @since 0.1.0
 */
import { Context, type Duration } from "effect"

/**
 * Where cronmon reads and writes, and how it times restarts and stops.
 *
 * @since 0.1.0
 */
export interface SettingsShape {
  /** Absolute path of the scripts directory. */
  readonly scriptsDir: string
  /** Absolute path of the journal file. */
  readonly journalPath: string
  /** Absolute path of the directory of the services' logs. */
  readonly logsDir: string
  /** SIGTERM to SIGKILL. */
  readonly stopTimeout: Duration.Duration
  /** Delays between an exit and the next start; the last one repeats. */
  readonly restartDelays: ReadonlyArray<Duration.Duration>
  /** A run at least this long resets the restart delays. */
  readonly stableRun: Duration.Duration
  /** Quiet time after the last file event on a name before acting on it. */
  readonly settleTime: Duration.Duration
}

/**
 * The settings of this run of cronmon.
 *
 * @example
 * ```ts
 * const { scriptsDir } = yield* Settings
 * ```
 * @since 0.1.0
 */
export class Settings extends Context.Service<Settings, SettingsShape>()("cronmon/Settings") {}
