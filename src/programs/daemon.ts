/**
 * The daemon: with the journal locked, clean up what earlier sessions left,
 * keep every service of the scripts directory running, and on SIGINT,
 * SIGTERM or SIGHUP stop them all, write `monitor quit` and release the lock.
 *
 * @since 0.1.0
 */
import { Clock, Deferred, Duration, Effect, FiberSet, Option, Stream } from "effect"
import { Events } from "../domain/JournalEvent.ts"
import { formatDurationMillis } from "../domain/Paths.ts"
import type { Leftover } from "../domain/PreviousState.ts"
import type { ScriptChange } from "../domain/ServiceFile.ts"
import { Hurry, type StopSignal, type Terminable, terminate, untilGone } from "../internal/Termination.ts"
import { HumanLog } from "../services/HumanLog.ts"
import { Journal } from "../services/Journal.ts"
import { ProcessSupervisor } from "../services/ProcessSupervisor.ts"
import { Settings } from "../services/Settings.ts"
import { type ProcessIdentity, System } from "../services/System.ts"
import { Watcher } from "../services/Watcher.ts"
import { startReaper } from "./daemon/reaper.ts"

const SHUTDOWN_SIGNALS = ["SIGINT", "SIGTERM", "SIGHUP"] as const

/**
 * Installs handlers for SIGINT, SIGTERM and SIGHUP for the life of the
 * current scope. `received` waits for the first of them. A second SIGINT or
 * SIGTERM is said on the `HumanLog`, then completes `hurried`: provided as
 * `Termination.Hurry`, it moves every stop on to SIGKILL at once. Installed
 * outside the supervision scope, the handlers outlive the stop of the
 * services, so that a second signal then does not kill the daemon (the
 * default action) before its services are down.
 *
 * @since 0.1.0
 */
export const shutdownSignals = Effect.gen(function*() {
  const received = yield* Deferred.make<NodeJS.Signals>()
  const again = yield* Deferred.make<NodeJS.Signals>()
  const said = yield* Deferred.make<void>()
  // The first signal completes `received`; a second SIGINT or SIGTERM, `again`.
  const onSignal = (signal: NodeJS.Signals) => {
    if (!Deferred.doneUnsafe(received, Effect.succeed(signal)) && signal !== "SIGHUP") {
      Deferred.doneUnsafe(again, Effect.succeed(signal))
    }
  }
  yield* Effect.acquireRelease(
    Effect.sync(() => SHUTDOWN_SIGNALS.forEach((signal) => process.on(signal, onSignal))),
    () => Effect.sync(() => SHUTDOWN_SIGNALS.forEach((signal) => process.off(signal, onSignal)))
  )
  const human = yield* HumanLog
  // Said once, before any stop moves on.
  yield* Effect.forkScoped(Deferred.await(again).pipe(
    Effect.flatMap((signal) => human.notice(`${signal} again: sending SIGKILL to every service now`)),
    Effect.andThen(Deferred.succeed(said, undefined))
  ))
  return { received: Deferred.await(received), hurried: Deferred.await(said) }
})

// A process spawned by an earlier session is the same process now if its
// recorded start time matches; journals of the Go original record none, so
// then its start must fall within moments of the spawn's journal time.
const isSameProcess = (leftover: Leftover, now: ProcessIdentity): boolean =>
  leftover.startTime !== undefined
    ? leftover.startTime === now.startTime
    : Math.abs(now.startedAt - leftover.spawnedAt) < 2_000

/**
 * Terminates the processes that earlier sessions left running (SIGTERM, then
 * SIGKILL after the stop timeout) and journals each one's end, so that the
 * next session's walk back through the journal stops here.
 *
 * @since 0.1.0
 */
const cleanUpLeftovers = Effect.gen(function*() {
  const journal = yield* Journal
  const system = yield* System
  const settings = yield* Settings
  const { stopTimeout } = settings
  // Zombies do not count: their parent (init) collects them in its own time.
  // The /proc scan of a group's members runs only while kill(2) sees it.
  const isAlive = (target: number): Effect.Effect<boolean> =>
    target < 0
      ? Effect.flatMap(system.kill(target, 0), (exists) =>
        exists ? Effect.map(system.groupMembers(-target), (members) => members.length > 0) : Effect.succeed(false))
      : Effect.map(system.identify(target), Option.isSome)
  // What to signal for a leftover: its group while it leads one (services
  // always do), or itself. When the leader is gone, what is left of its
  // group (its children, when the parent-death signal ended only the
  // leader) carries the service mark and is found with the rest below, not
  // through the group ID, which an unrelated process may have taken since.
  const bootedAt = yield* system.bootedAt
  const targetOf = Effect.fnUntraced(function*(leftover: Leftover) {
    // Spawned before the machine last booted: gone, whatever now has its PID.
    // And no journal line makes init, this daemon or "every process" a target.
    if (leftover.spawnedAt < bootedAt || leftover.pid <= 1 || leftover.pid === process.pid) return Option.none()
    const identity = yield* system.identify(leftover.pid)
    if (Option.isNone(identity) || !isSameProcess(leftover, identity.value)) return Option.none()
    return Option.some(identity.value.pgid === leftover.pid ? -leftover.pid : leftover.pid)
  })
  const terminateLeftover = Effect.fnUntraced(function*(leftover: Leftover) {
    const found = yield* targetOf(leftover)
    if (Option.isNone(found)) {
      return yield* journal.append(
        Events.exited(leftover.file, leftover.pid, { code: null, signal: null }, "exit not seen: cronmon was not running")
      )
    }
    const target = found.value
    yield* journal.append(Events.warning(
      "previous state",
      `${leftover.file} (pid ${leftover.pid}) was left running by an earlier session: terminating it`
    ))
    const signal = yield* terminate({
      signal: (signal) => system.kill(target, signal),
      gone: untilGone(isAlive(target))
    }, stopTimeout)
    yield* journal.append(
      Events.exited(leftover.file, leftover.pid, { code: null, signal }, "left running by an earlier session")
    )
  })
  yield* Effect.forEach(journal.previousState.leftovers, terminateLeftover, { concurrency: "unbounded", discard: true })

  // Whatever else carries this journal's service mark was left by a daemon
  // that died (no service of this session has started yet): orphans its
  // services double-forked, children of leaders that are gone, a service
  // spawned in the instant before its `process spawned` line.
  const marked = yield* system.marked(settings.journalPath)
  if (marked.length === 0) return
  yield* journal.append(Events.warning(
    "previous state",
    `${marked.length} ${marked.length === 1 ? "process" : "processes"} of services of an earlier session ` +
      `(pid ${marked.join(", ")}) left running: terminating them`
  ))
  // The mark is the identity: whatever carries it now is theirs, including
  // what they fork while being stopped (a TERM trap's cleanup child). Each
  // process gets each signal once, as it is first seen.
  let current: StopSignal = "SIGTERM"
  const signalled = new Set<number>()
  const signalNew = Effect.flatMap(system.marked(settings.journalPath), (pids) =>
    Effect.as(
      Effect.forEach(pids.filter((pid) => !signalled.has(pid)), (pid) => {
        signalled.add(pid)
        return system.kill(pid, current)
      }, { discard: true }),
      pids.length > 0
    ))
  const markedProcesses: Terminable = {
    signal: (signal) => Effect.suspend(() => {
      current = signal
      signalled.clear()
      return signalNew
    }),
    gone: untilGone(signalNew)
  }
  // Gone before any service starts, so that none finds their ports or files taken.
  yield* terminate(markedProcesses, stopTimeout)
})

// Quiet this long (no journal event), the daemon gives memory back; and
// never more often than every RELEASE_SPACING (a release is a full GC,
// 25-75 ms of the main thread on a loaded machine: at most 1.5% of it).
// Short enough that a pause early in a start-up does not put off the
// release after it by much.
const QUIET_BEFORE_RELEASE = Duration.seconds(1)
const RELEASE_SPACING = Duration.seconds(5)

/**
 * Gives memory back to the system (`System.releaseMemory`) once the daemon
 * is quiet: a second after its start-up or the last journal event (a start,
 * an exit, a change, a request), at most once every five seconds. A burst
 * of work (many services starting, a crash loop, scripts coming and going)
 * otherwise leaves the process at its peak: glibc keeps what it freed, and
 * V8 its grown young generation and fragmented old one. The executable
 * runs it beside supervision; an app that embeds the daemon chooses
 * (`Cronmon.releaseMemoryWhenQuiet`), for it acts on the whole process.
 *
 * @since 0.1.0
 */
export const releaseMemoryWhenQuiet: Effect.Effect<void, never, Journal | System> = Effect.gen(function*() {
  const journal = yield* Journal
  const system = yield* System
  let releasedAt = Number.NEGATIVE_INFINITY
  // Its own start-up counts as activity.
  yield* Stream.merge(Stream.succeed(undefined), journal.events).pipe(
    Stream.debounce(QUIET_BEFORE_RELEASE),
    Stream.runForEach(() =>
      Effect.gen(function*() {
        const wait = releasedAt + Duration.toMillis(RELEASE_SPACING) - (yield* Clock.currentTimeMillis)
        if (wait > 0) yield* Effect.sleep(wait)
        yield* system.releaseMemory
        releasedAt = yield* Clock.currentTimeMillis
      })
    )
  )
})

const OP = { Add: "add", Update: "update", Remove: "remove" } as const

// Journals a change and returns what to do about it. A refused file is said
// once (the watcher refuses it again only when it changes) and stopped if it
// ran, never retried: no spawn-error loop.
const applyChange = (journal: Journal["Service"], supervisor: ProcessSupervisor["Service"], change: ScriptChange) =>
  Effect.gen(function*() {
    if (change._tag === "Refuse") {
      yield* journal.append(Events.warning("strict modes", change.reason))
      const known = [...yield* supervisor.supervised, ...yield* supervisor.held]
      if (known.includes(change.name)) yield* journal.append(Events.listModified("remove", change.name))
      return supervisor.stop(change.name)
    }
    yield* journal.append(Events.listModified(OP[change._tag], change.name, change._tag === "Remove" ? change.reason : undefined))
    return change._tag === "Remove" ? supervisor.stop(change.name) : supervisor.start(change.name)
  }).pipe(Effect.map(Effect.catchTag("InvalidServiceName", (error) =>
    journal.append(Events.warning("watcher", `${JSON.stringify(error.name)} is not a plain file name: ignored`))
  )))

/**
 * Supervises until `until` completes, the journal is lost to another daemon,
 * or the fiber is interrupted; then runs `beforeStop`, stops every service,
 * terminates what they left behind, and writes `monitor quit`. A watcher
 * failure is journaled and the services already found keep running.
 *
 * @since 0.1.0
 */
export const supervise = <E, R>(until: Effect.Effect<unknown, E, R>, beforeStop: Effect.Effect<void> = Effect.void) =>
  Effect.scoped(Effect.gen(function*() {
    const journal = yield* Journal
    const supervisor = yield* ProcessSupervisor
    const watcher = yield* Watcher
    const system = yield* System
    yield* cleanUpLeftovers
    // Said once per session; the next start's previous-state cleanup then
    // terminates what a killed daemon left running.
    if (system.parentDeathSignal.length === 0) {
      yield* journal.append(Events.warning(
        "supervisor",
        "setpriv (util-linux) not found: services run without a parent-death signal, so if cronmon is killed " +
          "they keep running until its next start terminates them"
      ))
    }
    // Held down when the earlier sessions ended: kept down, and said so in
    // this session, whose status and next crash must know it too.
    yield* Effect.forEach(
      journal.previousState.held,
      (name) => Effect.ignore(supervisor.hold(name, { restored: true })),
      { discard: true }
    )
    const reaper = yield* startReaper
    // Orphans are terminated alongside the services, then once more for
    // those that services left while they stopped.
    yield* Effect.addFinalizer(() =>
      beforeStop.pipe(
        Effect.andThen(Effect.all([supervisor.stopAll, reaper.terminateOrphans], { concurrency: "unbounded", discard: true })),
        Effect.andThen(reaper.terminateOrphans),
        Effect.andThen(journal.append(Events.monitorQuit())),
        // The session's end is on disk when supervision returns.
        Effect.andThen(journal.flush)
      )
    )
    // Changes are applied concurrently (a slow stop does not hold up other
    // services); the supervisor orders the changes of one service. Each
    // starts at once: the supervisor knows its service before `Scanned` is applied.
    const applying = yield* FiberSet.make()
    yield* watcher.changes.pipe(
      Stream.runForEach((change) =>
        change._tag === "Scanned"
          ? supervisor.scanned
          : Effect.flatMap(applyChange(journal, supervisor, change), (action) => FiberSet.run(applying, action))
      ),
      Effect.catch((error) =>
        journal.append(Events.warning("watcher", `${error.message}; services already found keep running`))
      ),
      Effect.ensuring(supervisor.scanned),
      Effect.forkScoped
    )
    yield* Effect.raceFirst(until, journal.lost)
  }))

/**
 * Supervises until SIGINT, SIGTERM or SIGHUP (`shutdownSignals`), as the
 * `cronmon` command does. A stop that waits on services says once what it
 * waits for; a second SIGINT or SIGTERM hurries every stop (SIGKILL now).
 *
 * @since 0.1.0
 */
export const superviseUntilSignal = Effect.scoped(Effect.gen(function*() {
  const { hurried, received } = yield* shutdownSignals
  const supervisor = yield* ProcessSupervisor
  const { stopTimeout } = yield* Settings
  const human = yield* HumanLog
  const sayStopping = Effect.flatMap(supervisor.pids, ({ size }) =>
    size === 0 ? Effect.void : human.notice(
      `stopping ${size} ${size === 1 ? "service" : "services"}, up to ${
        formatDurationMillis(Duration.toMillis(stopTimeout))
      } (SIGINT or SIGTERM again: SIGKILL now)`
    ))
  // Said as the stop begins, however it began: this signal, or the
  // runtime's own handler interrupting the program.
  yield* supervise(received, sayStopping).pipe(Effect.provideService(Hurry, hurried))
}))
