/**
 * `cronmon status`: is the daemon running, and how is each service doing,
 * from the journal's tail checked against the live processes. Never takes
 * the lock; works whether or not the daemon runs, and on the Go original's
 * journals. Fails with `StatusUnknown` when the journal cannot be read.
 *
 * @since 0.1.0
 */
import { Clock, Data, Effect, Option } from "effect"
import * as fs from "node:fs"
import { errorCode, NotAJournal, Unreadable } from "../domain/Errors.ts"
import { notAJournal } from "../domain/JournalShape.ts"
import { linesBackward } from "../domain/LinesBackward.ts"
import { escapeControls } from "../domain/JournalEvent.ts"
import { type LastExit, type ServiceStatus, sessionStatusOf } from "../domain/Status.ts"
import { randomAccess } from "../layers/JournalFile.ts"
import { System } from "../services/System.ts"
import { formatAgo, formatDuration, type Style, table } from "./Output.ts"
import { openRegularFile } from "../layers/Files.ts"
import type { LockState } from "./lockCheck.ts"

/**
 * The journal could not be read, or is not a journal, so the daemon's state
 * is unknown (`status` exits 4, as init scripts do).
 *
 * @since 0.1.0
 */
export class StatusUnknown extends Data.TaggedError("StatusUnknown")<{ readonly reason: Unreadable | NotAJournal }> {
  override get message() {
    return this.reason.message
  }
}

/**
 * The daemon's state: `running`; `stopped` (its last session ended with
 * `monitor quit`); `crashed` (the last session did not end and its process
 * is gone: a stale journal); `unknown` (a session that did not end, written
 * without the daemon's pid, as the Go original does); `absent` (no journal,
 * or an empty one).
 *
 * @since 0.1.0
 */
export type DaemonState = "running" | "stopped" | "crashed" | "unknown" | "absent"

/**
 * Everything `status` says. `--json` prints it as documented in docs/status.md.
 *
 * @since 0.1.0
 */
export interface StatusReport {
  readonly journal: string
  /** Whether the journal file exists (not in the JSON: `absent` says it). */
  readonly found: boolean
  readonly now: number
  readonly daemon: {
    readonly state: DaemonState
    readonly pid: number | null
    /** When it took the lock. */
    readonly since: number | null
    readonly quitAt: number | null
    readonly lastEventAt: number | null
  }
  readonly services: ReadonlyArray<ServiceStatus>
}

// /proc start times have clock-tick resolution, and the lock is taken a
// moment after the process starts.
const START_SLACK_MILLIS = 2_000

const readSession = (journal: string, now: number) =>
  Effect.try({
    try: () => {
      let fd: number
      try {
        fd = openRegularFile(journal)
      } catch (error) {
        if (errorCode(error) === "ENOENT") return undefined
        throw error
      }
      try {
        const refusal = notAJournal(randomAccess(fd))
        if (refusal !== undefined) throw new NotAJournal({ path: journal, reason: refusal })
        return sessionStatusOf(linesBackward(randomAccess(fd)), now)
      } finally {
        fs.closeSync(fd)
      }
    },
    catch: (cause) =>
      new StatusUnknown({
        reason: cause instanceof NotAJournal ? cause : new Unreadable({ what: "the journal", path: journal, cause })
      })
  })

/**
 * The report for a journal, at the Effect `Clock`'s now, with every
 * process the journal calls running checked by its identity. The journal's
 * lock (`lockState`), when known, decides whether the daemon runs: a
 * truncated journal with the lock held is a running daemon, and a session
 * that did not end with the lock free is a crashed one.
 *
 * @since 0.1.0
 */
export const statusReport = (
  journal: string,
  lock: LockState = "unknown"
): Effect.Effect<StatusReport, StatusUnknown, System> =>
  Effect.gen(function*() {
    const system = yield* System
    const now = yield* Clock.currentTimeMillis
    const session = yield* readSession(journal, now)
    const none = { state: "absent" as const, pid: null, since: null, quitAt: null, lastEventAt: null }
    const empty = session === undefined || session.lastEventAt === null
    if (empty && lock !== "held") return { journal, found: session !== undefined, now, daemon: none, services: [] }
    // The session the journal ends with, unless it ended: the running daemon's, if one runs.
    const open = session !== undefined && session.lastEventAt !== null && session.quitAt === null ? session : undefined
    const pidAlive = open === undefined || open.pid === null ? Effect.succeed(false) : Effect.map(
      system.identify(open.pid),
      Option.match({
        onNone: () => false,
        // A process started after the lock was taken is another one under a reused pid.
        onSome: (identity) => open.startedAt === null || identity.startedAt <= open.startedAt + START_SLACK_MILLIS
      })
    )
    const alive = yield* pidAlive
    const state: DaemonState = lock === "held"
      ? "running"
      : session?.quitAt !== null && session?.quitAt !== undefined
      ? "stopped"
      : lock === "free"
      ? "crashed"
      : session?.pid === null || session?.pid === undefined
      ? "unknown"
      : alive
      ? "running"
      : "crashed"
    // With its daemon gone, nothing will restart what waits or fails.
    const orphaned = (service: ServiceStatus): ServiceStatus =>
      state === "crashed" && (service.state === "waiting" || service.state === "failing")
        ? { ...service, state: "stopped", nextStartAt: null }
        : service
    // A running daemon whose session is not in the journal (truncated, or
    // only an ended one left): what the journal says of services is not its.
    const current = state === "running" && open === undefined ? [] : session?.services ?? []
    const services = yield* Effect.forEach(current.map(orphaned), (service) =>
      service.state !== "running" || service.pid === null ? Effect.succeed(service) : Effect.map(
        system.identify(service.pid),
        (identity): ServiceStatus =>
          Option.isSome(identity) && (service.startTime === null || identity.value.startTime === service.startTime)
            ? service
            : { ...service, state: "gone" }
      ))
    // Running: its pid and start from its session when the journal has it
    // (the Go original records no pid), else unknown.
    const running = state === "running"
    return {
      journal,
      found: true,
      now,
      daemon: {
        state,
        pid: running ? (alive ? open?.pid ?? null : null) : session?.pid ?? null,
        since: running
          ? (open !== undefined && (alive || open.pid === null) ? open.startedAt : null)
          : session?.startedAt ?? null,
        quitAt: state === "running" ? null : session?.quitAt ?? null,
        lastEventAt: session?.lastEventAt ?? null
      },
      services
    }
  })

/**
 * The exit code of `status`, as init scripts have it: 0 running, 3 not
 * running, 4 unknown.
 *
 * @since 0.1.0
 */
export const statusExitCode = (report: StatusReport): number =>
  report.daemon.state === "running" ? 0 : report.daemon.state === "unknown" ? 4 : 3

const iso = (millis: number | null) => millis === null ? null : new Date(millis).toISOString()

const exitJson = (exit: LastExit | null) =>
  exit === null
    ? null
    : { pid: exit.pid, code: exit.code, signal: exit.signal, error: exit.error, at: iso(exit.at) }

/**
 * The report as the stable JSON documented in docs/status.md: times RFC 3339,
 * durations in milliseconds, `null` for what does not apply.
 *
 * @since 0.1.0
 */
export const statusJson = (report: StatusReport): string =>
  JSON.stringify({
    journal: report.journal,
    now: iso(report.now),
    daemon: {
      state: report.daemon.state,
      pid: report.daemon.pid,
      since: iso(report.daemon.since),
      uptime_ms: report.daemon.state === "running" && report.daemon.since !== null
        ? report.now - report.daemon.since
        : null,
      quit_at: iso(report.daemon.quitAt),
      last_event_at: iso(report.daemon.lastEventAt)
    },
    services: report.services.map((service) => ({
      name: service.name,
      state: service.state,
      pid: service.pid,
      since: iso(service.since),
      uptime_ms: service.state === "running" && service.since !== null ? report.now - service.since : null,
      next_start_at: iso(service.nextStartAt),
      restarts_last_hour: service.restartsLastHour,
      last_exit: exitJson(service.lastExit),
      reason: service.reason
    }))
  }, null, 2)

const daemonLine = (report: StatusReport): string => {
  const { daemon, now } = report
  const at = (millis: number | null) => millis === null ? "?" : `${iso(millis)}, ${formatAgo(now - millis)}`
  switch (daemon.state) {
    case "running":
      return daemon.since === null
        ? "cronmon is running: it holds the journal's lock (pid unknown: its session is not in the journal)"
        : `cronmon is running: ${daemon.pid === null ? "pid not recorded" : `pid ${daemon.pid}`}, up ${
          formatDuration(now - daemon.since)
        } (since ${iso(daemon.since)})`
    case "stopped":
      return `cronmon is not running: stopped at ${at(daemon.quitAt)}`
    case "crashed":
      return `cronmon is not running: stale journal from a crashed run (pid ${daemon.pid}, last event at ${
        at(daemon.lastEventAt)
      })`
    case "unknown":
      return `cronmon state unknown: the last session (no daemon pid recorded) did not end; last event at ${
        at(daemon.lastEventAt)
      }`
    case "absent":
      return report.found
        ? `cronmon is not running: no events in ${report.journal}`
        : `cronmon is not running: no journal at ${report.journal} (cronmon has not run with it)`
  }
}

const stateText = (service: ServiceStatus, now: number): string => {
  const due = (at: number | null) =>
    at === null ? "" : at > now ? ` in ${formatDuration(at - now)}` : " due"
  switch (service.state) {
    case "waiting":
      return `waiting (restart${due(service.nextStartAt)})`
    case "failing":
      return `failing to spawn (retry${due(service.nextStartAt)})`
    case "gone":
      return "gone (exit not journaled)"
    default:
      return service.state
  }
}

const exitText = (exit: LastExit | null, now: number): string => {
  if (exit === null) return "-"
  const how = exit.code !== null ? `code ${exit.code}` : exit.signal ?? "signal"
  return `${how}, ${formatAgo(now - exit.at)}`
}

const STATE_COLOUR: Readonly<Record<ServiceStatus["state"], "green" | "yellow" | "red" | "dim">> = {
  running: "green",
  waiting: "yellow",
  failing: "red",
  gone: "red",
  stopped: "dim",
  removed: "dim"
}

/**
 * The report for people: a line about the daemon, then a table of
 * services. Aligned and coloured only when `style` says so.
 *
 * @since 0.1.0
 */
export const statusText = (report: StatusReport, style: Style): string => {
  const { now } = report
  const rows = report.services.map((service) => [
    escapeControls(service.name),
    style.colour(STATE_COLOUR[service.state], stateText(service, now)),
    service.pid === null ? "-" : String(service.pid),
    service.state === "running" && service.since !== null ? formatDuration(now - service.since) : "-",
    String(service.restartsLastHour),
    exitText(service.lastExit, now)
  ])
  const failures = report.services.flatMap((service) =>
    service.reason === null ? [] : [escapeControls(`${service.name}: ${service.reason}`)]
  )
  return [
    daemonLine(report),
    `journal: ${report.journal}`,
    ...(rows.length === 0
      ? ["no services"]
      : ["", ...table(["NAME", "STATE", "PID", "UPTIME", "RESTARTS/1H", "LAST EXIT"], rows, style)]),
    ...(failures.length === 0 ? [] : ["", ...failures])
  ].join("\n")
}
