/**
 * `cronmon status`: is the daemon running, and how is each service doing,
 * from the journal's tail checked against the live processes. Never takes
 * the lock; works whether or not the daemon runs, and on the Go original's
 * journals. Fails with `StatusUnknown` when the journal cannot be read.
 *
 * @since 0.1.0
 */
import { Clock, Data, Effect, Option, Schema } from "effect"
import * as fs from "node:fs"
import { errorCode } from "../domain/Errors.ts"
import { NotAJournal, Unreadable } from "../domain/ReadErrors.ts"
import { notAJournal } from "../domain/JournalShape.ts"
import { linesBackward } from "../domain/LinesBackward.ts"
import { escapeControls } from "../domain/EscapeControls.ts"
import {
  type DaemonState,
  isUp,
  type ServiceState,
  type ServiceStatus,
  sessionStatusOf,
  StatusJson,
  type StatusReport
} from "../domain/Status.ts"
import { openRegularFile, randomAccess } from "../internal/Files.ts"
import { System } from "../services/System.ts"
import { formatAgo, formatDuration, type Style, table } from "../internal/Terminal.ts"
import type { LockState } from "../internal/LockCheck.ts"

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
      !isUp(service.state) || service.pid === null ? Effect.succeed(service) : Effect.map(
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
export const statusExitCode = (status: { readonly daemon: { readonly state: DaemonState } }): number =>
  status.daemon.state === "running" || status.daemon.state === "stopping" ? 0 : status.daemon.state === "unknown" ? 4 : 3

const encodeStatus = Schema.encodeSync(StatusJson)

/**
 * The status as the stable JSON documented in docs/status.md, encoded
 * through its schema, whether it came from the journal or the daemon.
 *
 * @since 0.1.0
 */
export const statusJson = (status: StatusJson): string => JSON.stringify(encodeStatus(status), null, 2)

const millisOf = (time: string | null): number | null => time === null ? null : Date.parse(time)

const daemonLine = (status: StatusJson, journalFound: boolean): string => {
  const { daemon } = status
  const now = Date.parse(status.now)
  const at = (time: string | null) => time === null ? "?" : `${time}, ${formatAgo(now - Date.parse(time))}`
  switch (daemon.state) {
    case "running":
      return daemon.since === null
        ? "cronmon is running: it holds the journal's lock (pid unknown: its session is not in the journal)"
        : `cronmon is running: ${daemon.pid === null ? "pid not recorded" : `pid ${daemon.pid}`}, up ${
          formatDuration(now - Date.parse(daemon.since))
        } (since ${daemon.since})`
    case "stopping":
      return `cronmon is stopping: ${daemon.pid === null ? "pid not recorded" : `pid ${daemon.pid}`}, stopping every service`
    case "stopped":
      return `cronmon is not running: stopped at ${at(daemon.quit_at)}`
    case "crashed":
      return `cronmon is not running: stale journal from a crashed run (pid ${daemon.pid}, last event at ${
        at(daemon.last_event_at)
      })`
    case "unknown":
      return `cronmon state unknown: the last session (no daemon pid recorded) did not end; last event at ${
        at(daemon.last_event_at)
      }`
    case "absent":
      return journalFound
        ? `cronmon is not running: no events in ${status.journal}`
        : `cronmon is not running: no journal at ${status.journal} (cronmon has not run with it)`
  }
}

type ServiceJson = StatusJson["services"][number]

const stateText = (service: ServiceJson, now: number): string => {
  const next = millisOf(service.next_start_at)
  const due = next === null ? "" : next > now ? ` in ${formatDuration(next - now)}` : " due"
  switch (service.state) {
    case "waiting":
      return `waiting (restart${due})`
    case "failing":
      return `failing to spawn (retry${due})`
    case "gone":
      return "gone (exit not journaled)"
    case "stopped":
      return service.held ? "stopped (held)" : "stopped"
    case "running":
      return service.ready === null ? "running" : `running (ready ${formatAgo(now - Date.parse(service.ready))})`
    default:
      return service.state
  }
}

const exitText = (exit: ServiceJson["last_exit"], now: number): string => {
  if (exit === null) return "-"
  const how = exit.code !== null ? `code ${exit.code}` : exit.signal ?? "signal"
  return `${how}, ${formatAgo(now - Date.parse(exit.at))}`
}

// Resident memory as `top` and `pm2 list` show it: binary units, three digits.
const memoryText = (bytes: number | null): string => {
  if (bytes === null) return "-"
  const units = ["B", "K", "M", "G", "T"]
  let value = bytes
  let unit = 0
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024
    unit++
  }
  return `${unit === 0 || value >= 100 ? Math.round(value) : value.toFixed(1)}${units[unit]}`
}

const cpuText = (percent: number | null): string => percent === null ? "-" : `${percent.toFixed(1)}%`

const STATE_COLOUR: Readonly<Record<ServiceState, "green" | "yellow" | "red" | "dim">> = {
  running: "green",
  starting: "yellow",
  reloading: "yellow",
  stopping: "yellow",
  waiting: "yellow",
  failing: "red",
  gone: "red",
  stopped: "dim",
  removed: "dim"
}

/**
 * The status for people: a line about the daemon, then a table of
 * services. Aligned and coloured only when `style` says so. `journalFound`
 * tells an absent journal from an empty one.
 *
 * @since 0.1.0
 */
export const statusText = (status: StatusJson, style: Style, journalFound = true): string => {
  const now = Date.parse(status.now)
  const rows = status.services.map((service) => [
    escapeControls(service.name),
    style.colour(STATE_COLOUR[service.state], stateText(service, now)),
    service.pid === null ? "-" : String(service.pid),
    service.uptime_ms === null ? "-" : formatDuration(service.uptime_ms),
    cpuText(service.cpu),
    memoryText(service.memory),
    String(service.restarts_last_hour),
    exitText(service.last_exit, now)
  ])
  const failures = status.services.flatMap((service) =>
    service.reason === null ? [] : [escapeControls(`${service.name}: ${service.reason}`)]
  )
  const said = status.services.flatMap((service) =>
    service.status_text === null ? [] : [escapeControls(`${service.name} says: ${service.status_text}`)]
  )
  return [
    daemonLine(status, journalFound),
    `journal: ${status.journal}`,
    ...(rows.length === 0
      ? ["no services"]
      : ["", ...table(["NAME", "STATE", "PID", "UPTIME", "CPU", "MEM", "RESTARTS/1H", "LAST EXIT"], rows, style)]),
    ...(failures.length === 0 ? [] : ["", ...failures]),
    ...(said.length === 0 ? [] : ["", ...said])
  ].join("\n")
}
