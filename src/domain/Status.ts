/**
 * What the journal says is running: the last session and the state of each
 * of its services, folded from the journal's tail (pure; the `status`
 * program checks the result against the live processes); and the status as
 * `status --json` prints it and the daemon answers it (`StatusJson`).
 *
 * @since 0.1.0
 */
import { Duration, Result, Schema } from "effect"
import { DEFAULT_DELAYS, DEFAULT_STABLE_RUN, nextRestart, type RestartPolicy } from "./Backoff.ts"
import { decodeLine, type JournalEntry } from "./JournalEvent.ts"
import * as Running from "./Running.ts"

/**
 * A service's state: `running`; `starting` (running, but a service that
 * announces its readiness has not announced it in this run yet);
 * `reloading` and `stopping` (running, and it said `RELOADING=1` or
 * `STOPPING=1`: only the daemon knows); `waiting` to be restarted after an
 * exit; `failing` to spawn (and waiting to retry); `stopped`; `removed` (its
 * file was removed, renamed away or made non-executable during the session,
 * and its process is gone); `gone` (the journal says running, but its
 * process is not there).
 *
 * @since 0.1.0
 */
export const ServiceState = Schema.Literals([
  "running",
  "starting",
  "reloading",
  "stopping",
  "waiting",
  "failing",
  "stopped",
  "removed",
  "gone"
])

/** A service's state. @since 0.1.0 */
export type ServiceState = typeof ServiceState.Type

/**
 * Whether a service in that state has a process that runs (its pid, its
 * uptime, what it uses).
 *
 * @since 0.1.0
 */
export const isUp = (state: ServiceState): boolean =>
  state === "running" || state === "starting" || state === "reloading" || state === "stopping"

/**
 * How a service's last run ended.
 *
 * @since 0.1.0
 */
export interface LastExit {
  readonly pid: number
  /** The exit code, or `null` when a signal ended it. */
  readonly code: number | null
  readonly signal: string | null
  readonly error: string | null
  readonly at: number
}

/**
 * One service as the journal describes it.
 *
 * @since 0.1.0
 */
export interface ServiceStatus {
  readonly name: string
  readonly state: ServiceState
  /** Stopped on request and held down (`state` is then `stopped`) until started on request. */
  readonly held: boolean
  /** Its process while running. */
  readonly pid: number | null
  /** Recorded at spawn (cronmon only), to tell a reused PID apart. */
  readonly startTime: string | null
  /** When the current state began (the spawn, the exit, the failure). */
  readonly since: number | null
  /** When the next start is due (`waiting`, `failing`). */
  readonly nextStartAt: number | null
  /** Start attempts (spawns and spawn errors) in the hour before now, but the session's first. */
  readonly restartsLastHour: number
  readonly lastExit: LastExit | null
  /** Why the last spawn failed (`failing`). */
  readonly reason: string | null
  /** When its running process announced that it is ready (`READY=1`). */
  readonly ready: number | null
  /** What its running process said last with `STATUS=` (only the daemon knows). */
  readonly statusText: string | null
}

/**
 * The last session of a journal.
 *
 * @since 0.1.0
 */
export interface SessionStatus {
  /** When its daemon took the lock (`null`: the journal holds no session start). */
  readonly startedAt: number | null
  /** The daemon's pid (cronmon records it; the Go original does not). */
  readonly pid: number | null
  /** When it wrote `monitor quit`, if it did. */
  readonly quitAt: number | null
  readonly lastEventAt: number | null
  readonly services: ReadonlyArray<ServiceStatus>
  /** Lines of the session that could not be read (skipped). */
  readonly badLines: number
}

interface Tracked {
  state: ServiceState
  since: number | null
  nextStartAt: number | null
  /** Whether a start was attempted yet: the session's first is not a restart. */
  attempted: boolean
  /** When each later start was attempted (spawned, or failed to spawn), within the last hour of the session. */
  attempts: Array<number>
  lastExit: LastExit | null
  reason: string | null
  /** Its file's last change in the session removed it (the Go original journals none: not `Running.services`). */
  removed: boolean
  /** Restarts since the last stable run, as the supervisor's schedule counts them. */
  restarts: number
  /** Its next start begins a new schedule (a file change or a request): the delays start over. */
  fresh: boolean
  /** Its current run is one of a service that announces its readiness (its spawn says so). */
  notifies: boolean
  /** When its current run announced its readiness. */
  readyAt: number | null
}

const HOUR = 3_600_000

/**
 * A session's events folded so far, one at a time, oldest first: what the
 * journal's reader (`sessionStatusOf`) and the running daemon (its journal
 * keeps one for its own session) both ask for the status of services.
 * An `acquired lock` begins the fold again.
 *
 * @example
 * ```ts
 * const session = makeSessionFold()
 * for (const entry of entries) session.step(entry)
 * const { services } = session.status(Date.now())
 * ```
 * @since 0.1.0
 */
export interface SessionFold {
  readonly step: (entry: JournalEntry) => void
  /** The session as of `now`; `badLines` says how many lines could not be read on the way. */
  readonly status: (now: number, badLines?: number) => SessionStatus
}

/**
 * A new, empty fold of one session.
 *
 * @since 0.1.0
 */
export const makeSessionFold = (): SessionFold => {
  let services = new Map<string, Tracked>()
  const track = (name: string): Tracked => {
    let tracked = services.get(name)
    if (tracked === undefined) {
      tracked = {
        state: "stopped",
        since: null,
        nextStartAt: null,
        attempted: false,
        attempts: [],
        lastExit: null,
        reason: null,
        removed: false,
        restarts: 0,
        fresh: false,
        notifies: false,
        readyAt: null
      }
      services.set(name, tracked)
    }
    return tracked
  }
  // The policy the session's daemon recorded, else the original's (which records none).
  let policy: RestartPolicy = { delays: DEFAULT_DELAYS, stableRun: DEFAULT_STABLE_RUN }
  // The restart delay the supervisor's schedule picks after a run of `ranFor`.
  const nextDelay = (tracked: Tracked, ranFor: number): number => {
    const next = nextRestart(policy, tracked.restarts, Duration.millis(ranFor))
    tracked.restarts = next.restarts
    return Duration.toMillis(next.delay)
  }
  // A start attempt at `time`: a new schedule counts from zero.
  const attempt = (tracked: Tracked, time: number) => {
    if (tracked.fresh) Object.assign(tracked, { fresh: false, restarts: 0 })
    if (tracked.attempted) tracked.attempts.push(time)
    tracked.attempted = true
    // Only the last hour is ever counted.
    while ((tracked.attempts[0] ?? time) <= time - HOUR) tracked.attempts.shift()
  }
  let startedAt: number | null = null
  let pid: number | null = null
  let quitAt: number | null = null
  let lastEventAt: number | null = null
  let running = Running.empty
  const isHeld = (name: string) => running.held.includes(name)

  const step = (entry: JournalEntry): void => {
    lastEventAt = entry.time
    switch (entry.type) {
      case "acquired lock":
        services = new Map()
        running = Running.empty
        quitAt = null
        startedAt = entry.time
        pid = entry.data.pid ?? null
        policy = entry.data.restart_delays_ms !== undefined && entry.data.stable_run_ms !== undefined
          ? { delays: entry.data.restart_delays_ms.map(Duration.millis), stableRun: Duration.millis(entry.data.stable_run_ms) }
          : { delays: DEFAULT_DELAYS, stableRun: DEFAULT_STABLE_RUN }
        break
      case "monitor quit":
        quitAt = entry.time
        break
      case "process list modified": {
        const tracked = track(entry.data.file)
        const { request, op, ready } = entry.data
        if (ready !== undefined) {
          // Its current run's, not a late word of an earlier one.
          if (Running.processOf(running, entry.data.file)?.data.pid === ready) tracked.readyAt = entry.time
        } else if (request === "stop") {
          // Waiting out a delay or failing: nothing more will start it.
          if (tracked.state === "waiting" || tracked.state === "failing") {
            Object.assign(tracked, { state: "stopped", since: entry.time, nextStartAt: null, reason: null })
          }
        } else if (request === "start" || request === "restart") {
          tracked.fresh = true
        } else if (request === undefined) {
          tracked.removed = op === "remove"
          if (op !== "remove") tracked.fresh = true
        }
        break
      }
      case "process spawned": {
        const tracked = track(entry.data.file)
        attempt(tracked, entry.time)
        Object.assign(tracked, {
          state: "running",
          since: entry.time,
          nextStartAt: null,
          reason: null,
          notifies: entry.data.notifies === true,
          readyAt: null
        })
        break
      }
      case "process exited": {
        const tracked = track(entry.data.file)
        const run = Running.processOf(running, entry.data.file)
        tracked.lastExit = {
          pid: entry.data.pid,
          code: entry.data.exit_code === -1 ? null : entry.data.exit_code,
          signal: entry.data.signal ?? null,
          error: entry.data.error ?? null,
          at: entry.time
        }
        // An older run's exit, or a leftover's of an earlier session (its clean-up): no restart follows.
        if (run === undefined || run.data.pid !== entry.data.pid) break
        // Stable from its readiness, when it announced one.
        const ranFor = entry.time - (tracked.readyAt ?? run.time)
        tracked.readyAt = null
        const down = tracked.removed || isHeld(entry.data.file)
        // Stopped for a new schedule: started again at once, with its delays from the first.
        const delay = down || tracked.fresh ? 0 : nextDelay(tracked, ranFor)
        Object.assign(tracked, {
          state: down ? "stopped" : "waiting",
          since: entry.time,
          nextStartAt: down ? null : entry.time + delay
        })
        break
      }
      case "process spawn error": {
        const tracked = track(entry.data.file)
        attempt(tracked, entry.time)
        const delay = nextDelay(tracked, 0)
        const down = tracked.removed || isHeld(entry.data.file)
        Object.assign(tracked, {
          state: down ? "stopped" : "failing",
          since: tracked.state === "failing" ? tracked.since : entry.time,
          nextStartAt: down ? null : entry.time + delay,
          reason: entry.data.reason
        })
        break
      }
    }
    running = Running.step(running, entry)
  }

  const status = (now: number, badLines = 0): SessionStatus => {
    const list = Array.from(services, ([name, tracked]): ServiceStatus => {
      // A removed file whose process is gone: said so, with its last exit.
      const state: ServiceState = tracked.removed && tracked.state !== "running"
        ? "removed"
        : quitAt !== null
        ? "stopped"
        : tracked.state === "running" && tracked.notifies && tracked.readyAt === null
        ? "starting"
        : tracked.state
      const stopped = state === "stopped" || state === "removed"
      const current = tracked.state === "running" && !stopped ? Running.processOf(running, name) : undefined
      const restartsLastHour = tracked.attempts.filter((at) => at > now - HOUR && at <= now).length
      return {
        name,
        state,
        held: isHeld(name),
        pid: current?.data.pid ?? null,
        startTime: current?.data.start_time ?? null,
        since: stopped ? tracked.lastExit?.at ?? tracked.since : tracked.since,
        nextStartAt: stopped ? null : tracked.nextStartAt,
        restartsLastHour,
        lastExit: tracked.lastExit,
        reason: stopped ? null : tracked.reason,
        ready: current === undefined ? null : tracked.readyAt,
        statusText: null
      }
    })
    list.sort((a, b) => a.name < b.name ? -1 : a.name > b.name ? 1 : 0)
    return {
      startedAt,
      pid,
      quitAt,
      lastEventAt,
      services: list,
      badLines
    }
  }
  return { step, status }
}

/**
 * Folds journal lines given newest first: reads back to the start of the
 * last session (its `acquired lock`) and no further. Restarts are due by the
 * restart policy that session's daemon recorded.
 *
 * @example
 * ```ts
 * const session = sessionStatusOf(linesBackward(file), Date.now())
 * ```
 * @since 0.1.0
 */
export const sessionStatusOf = (newestFirst: Iterable<string>, now: number): SessionStatus => {
  const entries: Array<JournalEntry> = []
  let badLines = 0
  for (const line of newestFirst) {
    const decoded = decodeLine(line)
    if (Result.isFailure(decoded)) {
      badLines++
      continue
    }
    entries.push(decoded.success)
    if (decoded.success.type === "acquired lock") break
  }
  const session = makeSessionFold()
  for (const entry of entries.reverse()) session.step(entry)
  return session.status(now, badLines)
}

/**
 * The daemon's state: `running`; `stopping` (it answered while stopping
 * every service: only a live answer says it); `stopped` (its last session ended with
 * `monitor quit`); `crashed` (the last session did not end and its process
 * is gone: a stale journal); `unknown` (a session that did not end, written
 * without the daemon's pid, as the Go original does); `absent` (no journal,
 * or an empty one).
 *
 * @since 0.1.0
 */
export const DaemonState = Schema.Literals(["running", "stopping", "stopped", "crashed", "unknown", "absent"])

/** The daemon's state. @since 0.1.0 */
export type DaemonState = typeof DaemonState.Type

/**
 * What a process group uses: CPU in percent of one core, resident memory in bytes.
 *
 * @since 0.1.0
 */
export interface ResourceUsage {
  readonly cpuPercent: number
  readonly residentBytes: number
}

const Time = Schema.NullOr(Schema.String)

/**
 * How a service's last run ended, as `status --json` prints it.
 *
 * @since 0.1.0
 */
export const LastExitJson = Schema.Struct({
  pid: Schema.Int,
  code: Schema.NullOr(Schema.Int),
  signal: Schema.NullOr(Schema.String),
  error: Schema.NullOr(Schema.String),
  at: Schema.String
})

/**
 * One service, as `status --json` prints it (documented in `docs/status.md`).
 * `cpu` (percent of one core over a short recent window) and `memory`
 * (resident bytes summed over its process group) are `null` when it does
 * not run or when the status was read from the journal alone. `ready` is
 * when its running instance announced its readiness; `status_text` what it
 * said last with `STATUS=` (only a daemon that answers knows it).
 *
 * @since 0.1.0
 */
export const ServiceStatusJson = Schema.Struct({
  name: Schema.String,
  state: ServiceState,
  held: Schema.Boolean,
  pid: Schema.NullOr(Schema.Int),
  since: Time,
  uptime_ms: Schema.NullOr(Schema.Number),
  next_start_at: Time,
  restarts_last_hour: Schema.Int,
  last_exit: Schema.NullOr(LastExitJson),
  reason: Schema.NullOr(Schema.String),
  cpu: Schema.NullOr(Schema.Number),
  memory: Schema.NullOr(Schema.Number),
  ready: Time,
  status_text: Schema.NullOr(Schema.String)
})

/**
 * One service's status.
 *
 * @since 0.1.0
 */
export type ServiceStatusJson = typeof ServiceStatusJson.Type

/**
 * The daemon and its services: the value `status --json` prints, whether it
 * came from the daemon or from the journal (both agree on every field they
 * share).
 *
 * @since 0.1.0
 */
export const StatusJson = Schema.Struct({
  journal: Schema.String,
  now: Schema.String,
  daemon: Schema.Struct({
    state: DaemonState,
    pid: Schema.NullOr(Schema.Int),
    since: Time,
    uptime_ms: Schema.NullOr(Schema.Number),
    quit_at: Time,
    last_event_at: Time
  }),
  services: Schema.Array(ServiceStatusJson)
})

/**
 * The daemon's status.
 *
 * @since 0.1.0
 */
export type StatusJson = typeof StatusJson.Type

/**
 * Everything `status` finds, from the journal or from the running daemon,
 * before `statusJsonOf` shapes it for `--json` and the table.
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

const iso = (millis: number | null) => millis === null ? null : new Date(millis).toISOString()

/**
 * A report as `status --json` prints it (the `StatusJson` schema): times
 * RFC 3339, durations in milliseconds, `null` for what does not apply.
 * `usage`, by service name, holds what running services use; without it
 * (read from the journal alone) `cpu` and `memory` are `null`. The one
 * shaping of a status, from the journal or from the daemon.
 *
 * @since 0.1.0
 */
export const statusJsonOf = (report: StatusReport, usage: ReadonlyMap<string, ResourceUsage> = new Map()): StatusJson => ({
  journal: report.journal,
  now: new Date(report.now).toISOString(),
  daemon: {
    state: report.daemon.state,
    pid: report.daemon.pid,
    since: iso(report.daemon.since),
    uptime_ms: (report.daemon.state === "running" || report.daemon.state === "stopping") && report.daemon.since !== null ? report.now - report.daemon.since : null,
    quit_at: iso(report.daemon.quitAt),
    last_event_at: iso(report.daemon.lastEventAt)
  },
  services: report.services.map((service) => {
    const running = isUp(service.state)
    const used = running ? usage.get(service.name) : undefined
    return {
      name: service.name,
      state: service.state,
      held: service.held,
      pid: service.pid,
      since: iso(service.since),
      uptime_ms: running && service.since !== null ? report.now - service.since : null,
      next_start_at: iso(service.nextStartAt),
      restarts_last_hour: service.restartsLastHour,
      last_exit: service.lastExit === null ? null : { ...service.lastExit, at: new Date(service.lastExit.at).toISOString() },
      reason: service.reason,
      cpu: used?.cpuPercent ?? null,
      memory: used?.residentBytes ?? null,
      ready: iso(service.ready),
      status_text: service.statusText
    }
  })
})
