/**
 * The daemon's flags as one plain table: the CLI declares them with
 * effect/cli from it, and the cron tick checks its arguments against it
 * before anything of Effect is loaded (so this module imports none).
 *
 * @since 0.1.0
 */
import { parseDurationMillis, parseSizeBytes } from "./Paths.ts"

/**
 * One flag: `--name`, its alias `-a`, the placeholder help shows for its
 * value, what help says of it, and its kind: a `path`; a `duration` (`3s`, in
 * milliseconds); a `size` (`16M`, in bytes, more than 0); a `count` (`5`); or
 * a `signal` (`TERM`, `SIGHUP`, `9`: parsed by `signalNamed`, which the
 * cron tick does not load); or a `switch`, which takes no value (`--name`,
 * `--no-name`).
 *
 * @since 0.1.0
 */
export interface FlagSpec {
  readonly name: string
  readonly alias?: string
  readonly kind: "path" | "duration" | "size" | "count" | "signal" | "switch"
  readonly metavar?: string
  readonly description: string
}

/**
 * Every flag of the daemon, keyed by its `Cronmon.Options` field, in the
 * order help lists them. `journal` and `logs` are also every other command's;
 * help adds a path's default (`defaultPaths`) to its description.
 *
 * @since 0.1.0
 */
export const DAEMON_FLAGS = {
  scripts: { name: "scripts", alias: "s", kind: "path", metavar: "DIR", description: "Directory of services: every executable file in it is kept running" },
  stopTimeout: { name: "stop-timeout", kind: "duration", metavar: "DURATION", description: "Time between SIGTERM and SIGKILL when stopping a service: 500ms, 3s, 1m (default: 3s)" },
  journalMaxBytes: { name: "journal-max-size", kind: "size", metavar: "SIZE", description: "Keep the journal under this size by dropping its oldest sessions: 512k, 16M, 1G (default: 16M)" },
  strictModes: { name: "strict-modes", kind: "switch", description: "Refuse scripts writable by group or others or owned by another user (default: on; --no-strict-modes turns it off)" },
  logMaxBytes: { name: "log-max-size", kind: "size", metavar: "SIZE", description: "Rotate a service's log when it reaches this size (default: 10M)" },
  logKeep: { name: "log-keep", kind: "count", metavar: "N", description: "Rotated logs kept per service, NAME.log.1 … NAME.log.N (default: 5)" },
  logTimestamps: { name: "log-timestamps", kind: "switch", description: "Prefix each line of a service's output with the time it was read (default: off)" },
  journal: { name: "journal", alias: "j", kind: "path", metavar: "FILE", description: "Journal file; also the lock that keeps one daemon per journal" },
  logs: { name: "logs", kind: "path", metavar: "DIR", description: "Directory of the services' output, NAME.log each" }
} as const satisfies Readonly<Record<string, FlagSpec>>

/**
 * The commands that act on a running daemon, whose lean path `bin.ts`
 * takes without loading the CLI.
 *
 * @since 0.1.0
 */
export const CONTROL_ACTIONS = ["restart", "stop", "start", "kill"] as const

/**
 * One of them.
 *
 * @since 0.1.0
 */
export type ControlAction = (typeof CONTROL_ACTIONS)[number]

/**
 * Whether `word` names one of them.
 *
 * @since 0.1.0
 */
export const isControlAction = (word: string | undefined): word is ControlAction =>
  CONTROL_ACTIONS.some((action) => action === word)

/**
 * The flags of the commands that act on a running daemon (`restart`,
 * `stop`, `start`, `kill`), besides `journal` and `logs`: the CLI declares
 * them from here, and their lean path parses them without Effect. `signal`
 * is `kill`'s only; `noWait` is a switch without a negation.
 *
 * @since 0.1.0
 */
export const CONTROL_FLAGS = {
  noWait: { name: "no-wait", kind: "switch", description: "Return once the daemon has accepted the request, without waiting for it to be done" },
  timeout: { name: "timeout", kind: "duration", metavar: "DURATION", description: "Wait at most this long, then exit 1 saying what was not done (default: the daemon's stop timeout plus 10s)" },
  signal: { name: "signal", alias: "s", kind: "signal", metavar: "SIGNAL", description: "The signal to send: TERM, HUP, SIGUSR1, 9… (default: TERM)" }
} as const satisfies Readonly<Record<string, FlagSpec>>

/**
 * A daemon flag (never a `signal`).
 *
 * @since 0.1.0
 */
export type DaemonFlag = FlagSpec & { readonly kind: Exclude<FlagSpec["kind"], "signal"> }

/**
 * Each kind of value: how the CLI takes it (`undefined`: refused) and what it
 * says of one it refuses. A count is digits here; the CLI parses it with
 * effect/cli's integers (keeping their messages) and refuses negatives: what
 * the tick takes, the CLI takes too.
 *
 * @example
 * ```ts
 * VALUE_KINDS.duration.parse("500ms") // 500
 * ```
 * @since 0.1.0
 */
export const VALUE_KINDS = {
  path: { parse: (text: string): string => text },
  duration: { parse: parseDurationMillis, refusal: (text: string) => `not a duration: ${text} (try 3s, 500ms or 1m)` },
  size: {
    parse: (text: string): number | undefined => {
      const bytes = parseSizeBytes(text)
      return bytes !== undefined && bytes > 0 ? bytes : undefined
    },
    refusal: (text: string) => `not a size: ${text} (try 16M, 512k or 1G)`
  },
  count: {
    parse: (text: string): number | undefined => /^\d+$/.test(text) ? Number(text) : undefined,
    refusal: (count: number) => `not a count of files: ${count}`
  }
} as const
