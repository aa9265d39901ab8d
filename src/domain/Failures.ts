/**
 * How each failure a user can cause ends a command: its one line and its
 * exit code, by the failure's tag. The CLI's `main` says its errors from
 * here, and so does the control commands' lean path (no Effect here) for
 * what the daemon answers and what it finds before asking.
 *
 * @since 0.1.0
 */
import { escapeControls } from "./EscapeControls.ts"
import { formatDurationMillis } from "./Paths.ts"

/**
 * The request a failure answers when it is about one service: its name,
 * what was not done (`not restarted`), and what a wait that ended unmet
 * says (`not ready` when readiness was waited for, else `notDone`).
 *
 * @since 0.1.0
 */
export interface Asked {
  readonly name: string
  readonly notDone: string
  readonly unmet: string
}

/**
 * What a command says of a failure, and the code it exits with.
 *
 * @since 0.1.0
 */
export interface Failure {
  readonly line: string
  readonly code: number
}

interface Entry {
  readonly code: number
  readonly line: (error: object, asked: Asked | undefined) => string
}

// A failure's fields: an error of this process (`message` is a getter) or
// one the daemon sent as JSON.
const field = (error: object, key: string): string => {
  const value: unknown = Reflect.get(error, key)
  return typeof value === "string" || typeof value === "number" ? String(value) : "?"
}

// An error whose message says it all.
const told = (code: number): Entry => ({ code, line: (error) => `cronmon: ${field(error, "message")}` })

// One service's failure: `cronmon: web: no such service in …`.
const about = (asked: Asked | undefined, what: string) =>
  `cronmon: ${asked === undefined ? "" : `${escapeControls(asked.name)}: `}${what}`

// What a wait did not see, and why.
const unmet: Entry = { code: 1, line: (error, asked) => about(asked, `${asked?.unmet ?? "refused"}: ${escapeControls(field(error, "reason"))}`) }

const FAILURES = {
  JournalUnavailable: told(1),
  // The scripts directory cannot be made or read: the reason names it.
  WatchError: { code: 1, line: (error) => `cronmon: ${field(error, "reason")}` },
  LogsUnavailable: told(1),
  Unreadable: told(1),
  NoLog: told(1),
  NewlineInPath: told(1),
  // The daemon's state is unknown: 4, as init scripts have it.
  StatusUnknown: told(4),
  // `journal` on a file that is not one: unknown too, and nothing written to it.
  NotAJournal: told(4),
  InvalidServiceName: { code: 2, line: (error, asked) => about(asked, `not a service name: ${field(error, "reason")}`) },
  InvalidSignal: { code: 2, line: (error, asked) => about(asked, `not a signal: ${escapeControls(field(error, "signal"))}`) },
  NoSuchService: {
    code: 4,
    line: (error, asked) => about(asked, `no such service in ${escapeControls(field(error, "scriptsDir"))}`)
  },
  ActionFailed: {
    code: 1,
    line: (error, asked) => about(asked, `${asked?.notDone ?? "failed"}: ${escapeControls(field(error, "reason"))}`)
  },
  // Readiness waited for, and the instance exited first; a notification from outside the service.
  NotReady: unmet,
  NotifyRefused: unmet,
  DaemonStopping: { code: 1, line: (_, asked) => about(asked, `${asked?.notDone ?? "refused"}: the daemon is stopping`) },
  // Past the command's `--timeout` (`millis`), written exactly as given.
  TimedOut: {
    code: 1,
    line: (error, asked) =>
      about(asked, `${asked?.unmet ?? "not done"} within ${formatDurationMillis(Number(field(error, "millis")))} (the daemon may still do it)`)
  },
  NoDaemon: {
    code: 3,
    line: (error) => `cronmon: no daemon runs on ${escapeControls(field(error, "journal"))} (${field(error, "reason")})`
  },
  PermissionDenied: {
    code: 1,
    line: (error) =>
      `cronmon: permission denied: the daemon of ${escapeControls(field(error, "journal"))} runs as another user (its socket ${
        escapeControls(field(error, "socket"))
      } refuses you)`
  },
  // A daemon holds the journal's lock but has no socket: a cronmon (it
  // records its pid) that is starting or could not make one, or the Go
  // original, which has none.
  NoControlSocket: {
    code: 3,
    line: (error) => {
      const pid = field(error, "pid")
      const daemon = `the daemon of ${escapeControls(field(error, "journal"))}${pid === "?" ? "" : ` (pid ${pid})`}`
      const why = pid === "?" ? "it is the Go original's, which has none" : "it is starting, or its journal says why it has none"
      return `cronmon: ${daemon} has no control socket at ${field(error, "socket")}: ${why}`
    }
  }
} satisfies Readonly<Record<string, Entry>>

/**
 * A failure this table says.
 *
 * @since 0.1.0
 */
export type FailureTag = keyof typeof FAILURES

/**
 * Whether `error` is a failure of this table (by its `_tag`).
 *
 * @since 0.1.0
 */
export const isFailure = (error: unknown): error is { readonly _tag: FailureTag } =>
  typeof error === "object" && error !== null && "_tag" in error && typeof error._tag === "string" &&
  Object.hasOwn(FAILURES, error._tag)

/**
 * The line and exit code of `error`, about the service of `asked` when it
 * is one service's.
 *
 * @example
 * ```ts
 * failureOf({ _tag: "NoSuchService", name: "web", scriptsDir: "/srv/scripts" }, { name: "web", notDone: "not restarted", unmet: "not restarted" })
 * // { line: "cronmon: web: no such service in /srv/scripts", code: 4 }
 * ```
 * @since 0.1.0
 */
export const failureOf = <E extends { readonly _tag: FailureTag }>(error: E, asked?: Asked): Failure => {
  const entry: Entry = FAILURES[error._tag]
  return { line: entry.line(error, asked), code: entry.code }
}
