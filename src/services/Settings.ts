/**
 * The resolved settings every program runs with: paths and timings.
 *
 * @since 0.1.0
 */
import { Context, Duration } from "effect"
import { DEFAULT_DELAYS, DEFAULT_STABLE_RUN } from "../domain/Backoff.ts"

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
  /** The journal is kept under this many bytes by dropping its oldest sessions. */
  readonly journalMaxBytes: number
  /**
   * Refuse scripts (and a scripts directory) writable by group or others, or
   * owned by another user than the daemon's (root excepted), as cron and sshd do.
   */
  readonly strictModes: boolean
  /** A service's log is rotated when it would grow past this many bytes. */
  readonly logMaxBytes: number
  /** How many rotated logs are kept per service (`NAME.log.1` … `NAME.log.N`). */
  readonly logKeep: number
  /** Prefix each line of a service's output with the time it was read. */
  readonly logTimestamps: boolean
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

/**
 * The defaults of every setting but the three paths: the original's timings,
 * a 16 MiB journal, strict modes, 10 MiB logs with 5 kept, no timestamps.
 *
 * @since 0.1.0
 */
export const defaultSettings: Omit<SettingsShape, "scriptsDir" | "journalPath" | "logsDir"> = {
  stopTimeout: Duration.seconds(3),
  restartDelays: DEFAULT_DELAYS,
  stableRun: DEFAULT_STABLE_RUN,
  settleTime: Duration.millis(30),
  journalMaxBytes: 16 * 1024 * 1024,
  strictModes: true,
  logMaxBytes: 10 * 1024 * 1024,
  logKeep: 5,
  logTimestamps: false
}

/**
 * Settings from the three paths and any overrides; the rest are the defaults.
 *
 * @example
 * ```ts
 * const settings = makeSettings({ scriptsDir: "/srv/scripts", journalPath: "/srv/journal.json", logsDir: "/srv/logs" })
 * ```
 * @since 0.1.0
 */
export const makeSettings = (
  options: Pick<SettingsShape, "scriptsDir" | "journalPath" | "logsDir"> & Partial<SettingsShape>
): SettingsShape => ({ ...defaultSettings, ...options })
