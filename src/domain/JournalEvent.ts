/**
 * The journal's eight event types as `effect/Schema` schemas.
 *
 * A journal line is `{"time":…,"type":…,"data":{…}}`, byte-compatible with the
 * Go original in both directions: field names are the original's, `error` is
 * omitted when empty, and facts the original does not know (`signal`, `pgid`,
 * `start_time`) travel as optional extra fields that its reader ignores.
 *
 * @since 0.1.0
 */
import { Duration, Effect, Result, Schema, SchemaIssue, SchemaTransformation } from "effect"
import type { RestartPolicy } from "./Backoff.ts"
import { escapeControls } from "./EscapeControls.ts"
import { NOT_EXECUTABLE } from "./ServiceFile.ts"

const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?([Zz]|[+-]\d{2}:\d{2})$/

/**
 * Parses an RFC 3339 time with 0 to 9 fractional digits and any offset into
 * epoch milliseconds (sub-millisecond digits are dropped), or `undefined`.
 *
 * @example
 * ```ts
 * parseRfc3339("2026-11-23T20:03:38.123456789+01:00") // 1795460618123
 * ```
 * @since 0.1.0
 */
export const parseRfc3339 = (text: string): number | undefined => {
  const m = RFC3339.exec(text)
  if (m === null) return undefined
  const [, y, mo, d, h, mi, s, frac = "", zone = "Z"] = m
  const millis = Number(frac.padEnd(3, "0").slice(0, 3))
  const offsetMinutes = zone === "Z" || zone === "z"
    ? 0
    : (zone.startsWith("-") ? -1 : 1) * (Number(zone.slice(1, 3)) * 60 + Number(zone.slice(4, 6)))
  const utc = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s), millis)
  return Number.isFinite(utc) ? utc - offsetMinutes * 60_000 : undefined
}

/**
 * An RFC 3339 time string, decoded to epoch milliseconds and encoded back as
 * UTC with millisecond precision (`2026-11-23T19:03:38.123Z`).
 *
 * @example
 * ```ts
 * Schema.decodeUnknownSync(Time)("2026-11-23T19:03:38Z") // 1795460618000
 * ```
 * @since 0.1.0
 */
export const Time = Schema.String.pipe(
  Schema.decodeTo(
    Schema.Number,
    SchemaTransformation.transformEffect({
      decode: (text: string) => {
        const millis = parseRfc3339(text)
        return millis === undefined
          ? Effect.fail(new SchemaIssue.InvalidValue({ message: "expected an RFC 3339 time" }, text))
          : Effect.succeed(millis)
      },
      encode: (millis: number) => Effect.succeed(new Date(millis).toISOString())
    })
  )
)

const event = <const T extends string, const D extends Schema.Struct.Fields>(type: T, data: D) =>
  Schema.Struct({ time: Time, type: Schema.Literal(type), data: Schema.Struct(data) })

/** A non-fatal error, named by the component that met it. @since 0.1.0 */
export const Warning = event("warning", { component: Schema.String, error: Schema.String })
/**
 * A daemon took the journal's lock: the start of a session. `pid` is the
 * daemon's, `scripts` the directory it watches; `restart_delays_ms` and
 * `stable_run_ms` its restart policy, which `status` replays (the Go
 * original omits all four: its policy is the default).
 *
 * @since 0.1.0
 */
export const AcquiredLock = event("acquired lock", {
  journal_id: Schema.String,
  pid: Schema.optionalKey(Schema.Int),
  scripts: Schema.optionalKey(Schema.String),
  restart_delays_ms: Schema.optionalKey(Schema.Array(Schema.Number)),
  stable_run_ms: Schema.optionalKey(Schema.Number)
})
/** A daemon stopped every service and is releasing the lock: a clean end of session. @since 0.1.0 */
export const MonitorQuit = event("monitor quit", {})
/** Part of the journal was cut off (a torn last line, or old sessions dropped). @since 0.1.0 */
export const LogTruncated = event("log truncated", { reason: Schema.String })
/** A service could not be started. @since 0.1.0 */
export const ProcessSpawnError = event("process spawn error", { file: Schema.String, reason: Schema.String })
/**
 * A service's process started. `pgid` and `start_time` (field 22 of
 * `/proc/PID/stat`) identify it beyond a reusable PID; the Go original omits them.
 * `notifies` marks the run of a service that announced its readiness before
 * (`READY=1`): it is starting until it announces it again.
 *
 * @since 0.1.0
 */
export const ProcessSpawned = event("process spawned", {
  file: Schema.String,
  pid: Schema.Int,
  pgid: Schema.optionalKey(Schema.Int),
  start_time: Schema.optionalKey(Schema.String),
  notifies: Schema.optionalKey(Schema.Boolean)
})
/**
 * A service's process is gone. `exit_code` is -1 when a signal ended it, and
 * `signal` then names it (when known).
 *
 * @since 0.1.0
 */
export const ProcessExited = event("process exited", {
  file: Schema.String,
  pid: Schema.Int,
  error: Schema.optionalKey(Schema.String),
  exit_code: Schema.Int,
  signal: Schema.optionalKey(Schema.String)
})
/**
 * What a request to the daemon asks of one service (`cronmon restart`, …).
 *
 * @since 0.1.0
 */
export const Request = Schema.Literals(["restart", "stop", "start", "kill"])

/** @since 0.1.0 */
export type Request = typeof Request.Type

/**
 * The set of services changed: the scripts directory changed, or (with
 * `request`) someone asked the daemon to restart (`op` `update`), stop and
 * hold down (`remove`), start (`add`) or signal (`update`, with `signal`) a
 * service. `by` says who asked, when known; `restored` marks a hold read
 * back from an earlier session that did not end cleanly. `reason` says why
 * a file that is still there was removed (`not executable`). With `ready`
 * (`op` `update`), the service's process of that pid announced that it is
 * ready (`READY=1`): no change of the file. The Go original reads these as
 * ordinary changes and ignores the extra fields.
 *
 * @since 0.1.0
 */
export const ProcessListModified = event("process list modified", {
  op: Schema.Literals(["add", "remove", "update"]),
  file: Schema.String,
  request: Schema.optionalKey(Request),
  by: Schema.optionalKey(Schema.String),
  signal: Schema.optionalKey(Schema.String),
  restored: Schema.optionalKey(Schema.Boolean),
  reason: Schema.optionalKey(Schema.String),
  ready: Schema.optionalKey(Schema.Int)
})

/**
 * Any journal entry: one line of the journal, decoded.
 *
 * @example
 * ```ts
 * const entry = Schema.decodeUnknownSync(JournalEntry)({ time: "2026-11-23T19:03:38Z", type: "monitor quit", data: {} })
 * ```
 * @since 0.1.0
 */
export const JournalEntry = Schema.Union([
  Warning,
  AcquiredLock,
  MonitorQuit,
  LogTruncated,
  ProcessSpawnError,
  ProcessSpawned,
  ProcessExited,
  ProcessListModified
])

/** @since 0.1.0 */
export type JournalEntry = typeof JournalEntry.Type

/**
 * An event as a program emits it; the journal stamps its `time`.
 *
 * @example
 * ```ts
 * const event: JournalEvent = { type: "process list modified", data: { op: "add", file: "web" } }
 * ```
 * @since 0.1.0
 */
export type JournalEvent = JournalEntry extends infer E ? E extends JournalEntry ? Omit<E, "time"> : never : never

/** The `type` strings the journal knows. @since 0.1.0 */
export type EventType = JournalEntry["type"]

/** A journal line (JSON text) to and from an entry. @since 0.1.0 */
export const JournalLine = Schema.fromJsonString(JournalEntry)

/**
 * Encodes an entry as one journal line, without the trailing newline.
 *
 * @example
 * ```ts
 * encodeLine({ time: 0, type: "monitor quit", data: {} })
 * // '{"time":"1970-01-01T00:00:00.000Z","type":"monitor quit","data":{}}'
 * ```
 * @since 0.1.0
 */
export const encodeLine: (entry: JournalEntry) => string = Schema.encodeSync(JournalLine)

/**
 * Decodes one journal line. Unknown types, bad JSON and bad fields are
 * failures to report, never defects.
 *
 * @example
 * ```ts
 * const decoded = decodeLine(line)
 * if (Result.isSuccess(decoded)) console.log(decoded.success.type)
 * ```
 * @since 0.1.0
 */
export const decodeLine: (line: string) => Result.Result<JournalEntry, Schema.SchemaError> = Schema
  .decodeUnknownResult(JournalLine)

/**
 * Constructors for every event, so that call sites read as sentences.
 *
 * @example
 * ```ts
 * journal.append(Events.spawned("web", 4242))
 * ```
 * @since 0.1.0
 */
export const Events = {
  warning: (component: string, error: string): JournalEvent => ({ type: "warning", data: { component, error } }),
  acquiredLock: (journal_id: string, pid?: number, policy?: RestartPolicy, scripts?: string): JournalEvent => ({
    type: "acquired lock",
    data: {
      journal_id,
      ...(pid === undefined ? {} : { pid }),
      ...(scripts === undefined ? {} : { scripts }),
      // JSON has no infinite number: such a policy is not recorded.
      ...(policy === undefined || ![...policy.delays, policy.stableRun].every(Duration.isFinite) ? {} : {
        restart_delays_ms: policy.delays.map(Duration.toMillis),
        stable_run_ms: Duration.toMillis(policy.stableRun)
      })
    }
  }),
  monitorQuit: (): JournalEvent => ({ type: "monitor quit", data: {} }),
  logTruncated: (reason: string): JournalEvent => ({ type: "log truncated", data: { reason } }),
  spawnError: (file: string, reason: string): JournalEvent => ({
    type: "process spawn error",
    data: { file, reason }
  }),
  spawned: (
    file: string,
    pid: number,
    identity: { readonly pgid?: number; readonly start_time?: string } = {},
    notifies = false
  ): JournalEvent => ({ type: "process spawned", data: { file, pid, ...identity, ...(notifies ? { notifies } : {}) } }),
  ready: (file: string, pid: number): JournalEvent => ({
    type: "process list modified",
    data: { op: "update", file, ready: pid }
  }),
  exited: (file: string, pid: number, status: ExitStatus, error?: string): JournalEvent => ({
    type: "process exited",
    data: {
      file,
      pid,
      ...(error === undefined || error === "" ? {} : { error }),
      exit_code: status.code ?? -1,
      ...(status.signal === null ? {} : { signal: status.signal })
    }
  }),
  listModified: (op: "add" | "remove" | "update", file: string, reason?: string): JournalEvent => ({
    type: "process list modified",
    data: { op, file, ...(reason === undefined ? {} : { reason }) }
  }),
  requested: (
    request: Request,
    file: string,
    facts: { readonly by?: string | undefined; readonly signal?: string | undefined; readonly restored?: boolean } = {}
  ): JournalEvent => ({
    type: "process list modified",
    data: {
      op: REQUEST_OP[request],
      file,
      request,
      ...(facts.by === undefined ? {} : { by: facts.by }),
      ...(facts.signal === undefined ? {} : { signal: facts.signal }),
      ...(facts.restored === true ? { restored: true } : {})
    }
  })
} as const

// How a request reads as a change of the process list, for the Go original.
const REQUEST_OP = { restart: "update", stop: "remove", start: "add", kill: "update" } as const

/**
 * How a process ended: its exit code, or the signal that killed it.
 *
 * @since 0.1.0
 */
export interface ExitStatus {
  readonly code: number | null
  readonly signal: string | null
}

/**
 * How a process ended, in words: `exited with code 1`, `killed by SIGTERM`.
 *
 * @example
 * ```ts
 * describeExit({ code: null, signal: "SIGKILL" }) // "killed by SIGKILL"
 * ```
 * @since 0.1.0
 */
export const describeExit = (status: ExitStatus): string =>
  status.code === null ? `killed by ${status.signal ?? "a signal"}` : `exited with code ${status.code}`

/**
 * One readable line for humans (the daemon's stderr, `cronmon journal`).
 *
 * @example
 * ```ts
 * formatHuman({ time: 0, type: "process spawned", data: { file: "web", pid: 4242 } })
 * // "1970-01-01T00:00:00.000Z web: started, pid 4242"
 * ```
 * @since 0.1.0
 */
export const formatHuman = (entry: JournalEntry): string => {
  const time = new Date(entry.time).toISOString()
  // One line per event, whatever a file name or an error holds.
  return escapeControls(`${time} ${describe(entry)}`)
}

const describe = (entry: JournalEntry): string => {
  switch (entry.type) {
    case "warning":
      return `warning: ${entry.data.component}: ${entry.data.error}`
    case "acquired lock":
      return `cronmon started${entry.data.pid === undefined ? "" : `, pid ${entry.data.pid}`} (${entry.data.journal_id})`
    case "monitor quit":
      return "cronmon stopped"
    case "log truncated":
      return `journal truncated: ${entry.data.reason}`
    case "process spawn error":
      return `${entry.data.file}: cannot start: ${entry.data.reason}`
    case "process spawned":
      return `${entry.data.file}: started, pid ${entry.data.pid}${entry.data.notifies === true ? ", not ready yet" : ""}`
    case "process exited": {
      const { exit_code, signal, error, pid, file } = entry.data
      const how = describeExit({ code: exit_code === -1 ? null : exit_code, signal: signal ?? null })
      return `${file}: pid ${pid} ${how}${error === undefined ? "" : ` (${error})`}`
    }
    case "process list modified": {
      const { file, op, request, by, signal, restored, reason, ready } = entry.data
      if (ready !== undefined) return `${file}: ready, pid ${ready}`
      if (request === undefined) {
        const what = op === "remove" && reason === NOT_EXECUTABLE
          ? "no longer executable"
          : `${{ add: "added", remove: "removed", update: "changed" }[op]}${reason === undefined ? "" : ` (${reason})`}`
        return `${file}: ${what} in the scripts directory`
      }
      if (restored === true) return `${file}: still held down (stopped on request before cronmon restarted)`
      const done = {
        restart: "restarted",
        stop: "stopped and held down",
        start: "started",
        kill: `sent ${signal ?? "a signal"}`
      }[request]
      return `${file}: ${done} on request${by === undefined ? "" : ` by ${by}`}`
    }
  }
}
