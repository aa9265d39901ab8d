/**
 * The live `ProcessSupervisor`: one fiber per service in a `FiberMap`,
 * processes spawned through Effect's `ChildProcessSpawner`.
 *
 * A service's fiber repeats one run (spawn, journal, wait for the exit)
 * under the restart `Schedule`. Interrupting the fiber stops the service: its
 * process group gets SIGTERM, then SIGKILL when the stop timeout passes (on
 * the Effect `Clock`, so tests drive it with `TestClock`), and the fiber ends
 * once the main process is reaped and `process exited` is journaled.
 *
 * @since 0.1.0
 */
import { Duration, Effect, FiberMap, Layer, Metric, Option, Schedule, Semaphore } from "effect"
import { ChildProcess, ChildProcessSpawner } from "effect/process"
import type { PlatformError } from "effect/PlatformError"
import * as path from "node:path"
import { restartBackoff } from "../domain/Backoff.ts"
import { Events, type ExitStatus, type JournalEvent } from "../domain/JournalEvent.ts"
import * as Metrics from "../domain/Metrics.ts"
import { pollWhile } from "../domain/Poll.ts"
import { Journal } from "../services/Journal.ts"
import { ProcessSupervisor } from "../services/ProcessSupervisor.ts"
import { ServiceLogs } from "../services/ServiceLogs.ts"
import { Settings } from "../services/Settings.ts"
import { SERVICE_MARK, System } from "../services/System.ts"

const SIGNAL_IN_MESSAGE = /signal: '(\w+)'/

// A service's `process exited`, held back so that a restart's spawn does not
// wait for its O_SYNC append; `flush` journals it (once).
interface PendingExit {
  readonly leave: (event: JournalEvent) => Effect.Effect<void>
  readonly flush: Effect.Effect<void>
}

// Sets a per-service metric: adds to a counter, sets a gauge.
const record = (metric: Metric.Metric<number, unknown>, name: string, value = 1) =>
  Metric.update(Metrics.forService(metric, name), value)

/**
 * How the spawner's `exitCode` ended, as an exit status: it fails (with the
 * signal named in its message) when a signal killed the process.
 *
 * @since 0.1.0
 */
export const exitStatusOf = (handle: ChildProcessSpawner.ChildProcessHandle): Effect.Effect<ExitStatus> =>
  handle.exitCode.pipe(
    Effect.map((code): ExitStatus => ({ code, signal: null })),
    Effect.catch((error) => Effect.succeed<ExitStatus>({ code: null, signal: signalOf(error) }))
  )

const signalOf = (error: PlatformError): string | null => {
  const cause: unknown = error.cause
  const text = cause instanceof Error ? cause.message : error.message
  return SIGNAL_IN_MESSAGE.exec(text)?.[1] ?? null
}

/**
 * Why a spawn failed, in the words a user needs: the errno and the file.
 *
 * @since 0.1.0
 */
export const spawnFailureReason = (file: string, error: PlatformError): string => {
  const cause: unknown = error.cause
  if (cause instanceof Error && "code" in cause && typeof cause.code === "string") {
    const explanation = {
      ENOENT: "no such file, or its interpreter is missing",
      EACCES: "permission denied",
      ENOEXEC: "not an executable format",
      EISDIR: "is a directory"
    }[cause.code] ?? cause.message
    return `spawn ${file}: ${explanation} (${cause.code})`
  }
  return `spawn ${file}: ${error.message}`
}

/**
 * The live supervisor.
 *
 * @since 0.1.0
 */
export const layer: Layer.Layer<
  ProcessSupervisor,
  never,
  ChildProcessSpawner.ChildProcessSpawner | Journal | ServiceLogs | Settings | System
> = Layer.effect(
  ProcessSupervisor,
  Effect.gen(function*() {
    const spawner = yield* ChildProcessSpawner.ChildProcessSpawner
    const journal = yield* Journal
    const logs = yield* ServiceLogs
    const settings = yield* Settings
    const system = yield* System
    const scope = yield* Effect.scope
    const services = yield* FiberMap.make<string>()
    // The PIDs of the services' main processes, until their exit is seen.
    const pids = new Set<number>()
    const backoff = restartBackoff(settings.restartDelays, settings.stableRun)

    // SIGTERM to the group; SIGKILL to the group if any of it is left when
    // the stop timeout passes: one deadline for the leader and the rest of
    // its group, on the Effect Clock.
    const terminate = (handle: ChildProcessSpawner.ChildProcessHandle) => {
      const group = -handle.pid
      const groupGone = Effect.andThen(exitStatusOf(handle), pollWhile(system.kill(group, 0), (alive) => alive))
      return system.kill(group, "SIGTERM").pipe(
        Effect.andThen(groupGone),
        Effect.timeoutOrElse({ duration: settings.stopTimeout, orElse: () => system.kill(group, "SIGKILL") }),
        Effect.asVoid
      )
    }

    // Uninterruptible from the spawn until the wait for the exit, so that an
    // interrupt always finds a spawned process with its stop in place.
    // `exits` holds the `process exited` of the previous run when its journal
    // line was left for this run to write (see `supervise`).
    const runOnce = (name: string, exits: PendingExit) =>
      Effect.uninterruptibleMask((restore) => Effect.scoped(Effect.gen(function*() {
        const file = path.join(settings.scriptsDir, name)
        // Checked first: spawned through setpriv (for its parent-death
        // signal), a file that cannot run would look like a run that exited
        // 127, and execvp would run a file with no #! line through /bin/sh.
        const refusal = yield* system.checkExecutable(file)
        if (Option.isSome(refusal)) {
          const { code, message } = refusal.value
          yield* exits.flush
          yield* record(Metrics.spawnErrors, name)
          return yield* journal.append(Events.spawnError(name, `spawn ${file}: ${message} (${code})`))
        }
        const [command = file, ...args] = [...system.parentDeathSignal, file]
        const spawned = yield* spawner.spawn(ChildProcess.make(command, args, {
          stdin: "ignore",
          stdout: "pipe",
          stderr: "pipe",
          detached: true,
          // Marks the service and its descendants as this journal's: found
          // after a crash even when the journal does not name them.
          env: { [SERVICE_MARK]: settings.journalPath },
          extendEnv: true,
          // What the spawner does on scope close to group members that
          // outlive their leader.
          killSignal: "SIGTERM",
          forceKillAfter: settings.stopTimeout
        })).pipe(
          Effect.map(Option.some),
          Effect.catch((error) =>
            exits.flush.pipe(
              Effect.andThen(journal.append(Events.spawnError(name, spawnFailureReason(file, error)))),
              Effect.andThen(record(Metrics.spawnErrors, name)),
              Effect.as(Option.none())
            )
          )
        )
        if (Option.isNone(spawned)) return
        const handle = spawned.value
        pids.add(handle.pid)
        yield* Effect.andThen(record(Metrics.spawns, name), record(Metrics.running, name, 1))
        const identity = yield* system.identify(handle.pid)
        // The previous run's exit is journaled now, after this spawn and
        // before its `process spawned`: the order stays exited-then-spawned.
        yield* exits.flush
        yield* journal.append(Events.spawned(
          name,
          handle.pid,
          Option.match(identity, {
            onNone: () => ({}),
            onSome: ({ pgid, startTime }) => ({ pgid, start_time: startTime })
          })
        ))
        // Drained in the supervisor's scope, not this run's: processes the
        // service left behind may still write to its log after it exits.
        yield* Effect.forkIn(logs.write(name, handle.all), scope)
        const exited = exitStatusOf(handle).pipe(
          Effect.tap(() => Effect.sync(() => pids.delete(handle.pid))),
          Effect.tap(() => Effect.andThen(record(Metrics.exits, name), record(Metrics.running, name, 0))),
          Effect.map((status) => Events.exited(name, handle.pid, status))
        )
        // A stop journals the exit at once; an exit of its own is left to
        // `supervise`, which writes it before a restart's delay, or after the
        // restart's spawn when there is none (the O_SYNC append then costs
        // the restart nothing).
        yield* restore(Effect.flatMap(exited, exits.leave)).pipe(
          Effect.onInterrupt(() => Effect.andThen(terminate(handle), Effect.flatMap(exited, journal.append)))
        )
      })))

    // Every run after the first is an automatic restart. A run's own exit
    // is journaled by whatever comes first: the restart's delay when it is
    // not zero, the next run (after its spawn), or the end of supervision.
    const supervise = (name: string) =>
      Effect.suspend(() => {
        let runs = 0
        const exits = pendingExit()
        const run = Effect.suspend(() => runs++ === 0 ? Effect.void : record(Metrics.restarts, name))
        const schedule = Schedule.tap(backoff, ({ duration }) => Duration.isZero(duration) ? Effect.void : exits.flush)
        return Effect.repeat(Effect.timed(Effect.andThen(run, runOnce(name, exits))), schedule).pipe(
          Effect.ensuring(exits.flush)
        )
      })

    // At most one `process exited` waiting to be journaled, per service.
    const pendingExit = (): PendingExit => {
      let event: JournalEvent | undefined
      return {
        leave: (exit) => Effect.sync(() => void (event = exit)),
        flush: Effect.suspend(() => {
          const waiting = event
          event = undefined
          return waiting === undefined ? Effect.void : journal.append(waiting)
        })
      }
    }

    // One lock per name: a restart (stop, then start) never interleaves with
    // another change of the same service.
    const locks = new Map<string, Semaphore.Semaphore>()
    const exclusively = (name: string) => {
      let lock = locks.get(name)
      if (lock === undefined) {
        lock = Semaphore.makeUnsafe(1)
        locks.set(name, lock)
      }
      return Semaphore.withPermit(lock)
    }

    const stop = (name: string) => exclusively(name)(FiberMap.remove(services, name))

    // A start that finds one already waiting for the same service joins it:
    // the waiting one spawns the file as it will be then. So saves made
    // during a slow stop give one restart, not one each.
    const waitingStarts = new Set<string>()
    const start = (name: string) =>
      Effect.suspend(() => {
        if (waitingStarts.has(name)) return Effect.void
        waitingStarts.add(name)
        return exclusively(name)(
          Effect.sync(() => waitingStarts.delete(name)).pipe(
            Effect.andThen(FiberMap.remove(services, name)),
            Effect.andThen(FiberMap.run(services, name, supervise(name), { startImmediately: true })),
            Effect.asVoid
          )
        ).pipe(Effect.onInterrupt(() => Effect.sync(() => waitingStarts.delete(name))))
      })

    return ProcessSupervisor.of({
      start,
      stop,
      stopAll: Effect.suspend(() =>
        Effect.forEach(Array.from(services, ([name]) => name), stop, { concurrency: "unbounded", discard: true })
      ),
      running: Effect.sync(() => Array.from(services, ([name]) => name).sort()),
      pids: Effect.sync(() => new Set(pids))
    })
  })
)

