/**
 * The live `ProcessSupervisor`: one state per service while it is
 * supervised, processes spawned through the `ServiceSpawner`.
 *
 * A service's fiber repeats one run (spawn, journal, wait for the exit)
 * under the restart `Schedule`. Interrupting the fiber stops the service: its
 * process group is terminated (`Termination.terminate`, on the Effect
 * `Clock`, so tests drive it with `TestClock`), and the fiber ends once the
 * main process is reaped and `process exited` is journaled.
 *
 * @since 0.1.0
 */
import { Deferred, Effect, Exit, Fiber, Layer, Metric, Scope, Semaphore } from "effect"
import * as path from "node:path"
import { restartBackoff } from "../domain/Backoff.ts"
import { Events } from "../domain/JournalEvent.ts"
import * as Metrics from "../domain/Metrics.ts"
import { type Terminable, terminate, untilGone } from "../domain/Termination.ts"
import { Journal } from "../services/Journal.ts"
import { ProcessSupervisor } from "../services/ProcessSupervisor.ts"
import { ServiceLogs } from "../services/ServiceLogs.ts"
import { type ServiceProcess, ServiceSpawner } from "../services/ServiceSpawner.ts"
import { Settings } from "../services/Settings.ts"
import { SERVICE_MARK, System } from "../services/System.ts"

// Sets a per-service metric: adds to a counter, sets a gauge.
const record = (metric: Metric.Metric<number, unknown>, name: string, value = 1) =>
  Metric.update(Metrics.forService(metric, name), value)

// What the supervisor holds for one service, from its first start to the
// stop that ends its supervision, then released.
interface ServiceState {
  readonly name: string
  // Orders the changes of the service: a restart (stop, then start) never
  // interleaves with another change of it.
  readonly lock: Semaphore.Semaphore
  // Its supervision (running, or waiting out a restart delay).
  supervision: Fiber.Fiber<unknown> | undefined
  // Its main process, from the spawn until its exit is seen.
  process: ServiceProcess | undefined
  // A start waiting for the lock, which later starts join.
  pendingStart: Deferred.Deferred<void> | undefined
}

/**
 * The live supervisor.
 *
 * @since 0.1.0
 */
export const layer: Layer.Layer<
  ProcessSupervisor,
  never,
  ServiceSpawner | Journal | ServiceLogs | Settings | System
> = Layer.effect(
  ProcessSupervisor,
  Effect.gen(function*() {
    const spawner = yield* ServiceSpawner
    const journal = yield* Journal
    const logs = yield* ServiceLogs
    const settings = yield* Settings
    const system = yield* System
    const scope = yield* Effect.scope
    // Closed with the layer: every supervision is stopped at once, not one after another.
    const supervisions = yield* Scope.fork(scope, "parallel")
    const services = new Map<string, ServiceState>()
    const backoff = restartBackoff(settings.restartDelays, settings.stableRun)
    // Marks the service and its descendants as this journal's: found after
    // a crash even when the journal does not name them.
    const spawnOptions = { env: { [SERVICE_MARK]: settings.journalPath } }

    // Its process group: the main process's exit, then the rest of the group.
    const groupOf = (child: ServiceProcess): Terminable => ({
      signal: (signal) => system.kill(-child.pid, signal),
      gone: Effect.andThen(child.exit, untilGone(system.kill(-child.pid, 0)))
    })

    // Uninterruptible from the spawn until the wait for the exit, so that an
    // interrupt always finds a spawned process with its stop in place.
    const runOnce = (state: ServiceState) =>
      Effect.uninterruptibleMask((restore) =>
        Effect.gen(function*() {
          const { name } = state
          const spawned = yield* Effect.result(spawner.spawn(path.join(settings.scriptsDir, name), spawnOptions))
          if (spawned._tag === "Failure") {
            yield* record(Metrics.spawnErrors, name)
            return yield* journal.append(Events.spawnError(name, spawned.failure.reason))
          }
          const child = spawned.success
          state.process = child
          yield* Effect.andThen(record(Metrics.spawns, name), record(Metrics.running, name, 1))
          const identity = yield* system.identify(child.pid)
          yield* journal.append(Events.spawned(
            name,
            child.pid,
            identity._tag === "Some" ? { pgid: identity.value.pgid, start_time: identity.value.startTime } : {}
          ))
          // Drained in the supervisor's scope, not this run's: processes the
          // service left behind may still write to its log after it exits.
          yield* Effect.forkIn(logs.write(name, child.output), scope)
          // A stop interrupts the wait: the group is terminated, then the exit journaled.
          const stopped = Exit.hasInterrupts(yield* Effect.exit(restore(child.exit)))
          if (stopped) yield* terminate(groupOf(child), settings.stopTimeout)
          const status = yield* child.exit
          state.process = undefined
          yield* Effect.andThen(record(Metrics.exits, name), record(Metrics.running, name, 0))
          yield* journal.append(Events.exited(name, child.pid, status))
          // What its group still holds when it exited alone is stopped before the next run.
          if (!stopped && (yield* system.kill(-child.pid, 0))) yield* terminate(groupOf(child), settings.stopTimeout)
        })
      )

    // Every run after the first is an automatic restart.
    const supervise = (state: ServiceState) =>
      Effect.suspend(() => {
        let runs = 0
        const run = Effect.suspend(() => runs++ === 0 ? Effect.void : record(Metrics.restarts, state.name))
        return Effect.repeat(Effect.timed(Effect.andThen(run, runOnce(state))), backoff)
      })

    const endSupervision = (state: ServiceState) =>
      Effect.suspend(() =>
        state.supervision === undefined ? Effect.void : Effect.andThen(
          Fiber.interrupt(state.supervision),
          Effect.sync(() => {
            state.supervision = undefined
          })
        )
      )

    // A service no longer supervised and with no start waiting is forgotten.
    const releaseIfIdle = (state: ServiceState) =>
      Effect.sync(() => {
        const idle = state.supervision === undefined && state.pendingStart === undefined
        if (idle && services.get(state.name) === state) services.delete(state.name)
      })

    const stop = (name: string) =>
      Effect.suspend(() => {
        const state = services.get(name)
        if (state === undefined) return Effect.void
        return state.lock.withPermit(endSupervision(state)).pipe(Effect.ensuring(releaseIfIdle(state)))
      })

    // A start that finds one already waiting for the same service joins it:
    // the waiting one spawns the file as it will be then. So saves made
    // during a slow stop give one restart, not one each.
    const start = (name: string) =>
      Effect.suspend(() => {
        const state = services.get(name) ??
          { name, lock: Semaphore.makeUnsafe(1), supervision: undefined, process: undefined, pendingStart: undefined }
        services.set(name, state)
        if (state.pendingStart !== undefined) return Deferred.await(state.pendingStart)
        const started = Deferred.makeUnsafe<void>()
        state.pendingStart = started
        const restart = Effect.suspend(() => {
          state.pendingStart = undefined
          return endSupervision(state).pipe(
            Effect.andThen(Effect.forkIn(supervise(state), supervisions, { startImmediately: true })),
            Effect.map((fiber) => {
              state.supervision = fiber
            })
          )
        })
        return state.lock.withPermit(restart).pipe(Effect.ensuring(Effect.suspend(() => {
          if (state.pendingStart === started) state.pendingStart = undefined
          return Effect.andThen(Deferred.done(started, Exit.void), releaseIfIdle(state))
        })))
      })

    return ProcessSupervisor.of({
      start,
      stop,
      stopAll: Effect.suspend(() => Effect.forEach([...services.keys()], stop, { concurrency: "unbounded", discard: true })),
      supervised: Effect.sync(() => [...services.values()].flatMap((s) => s.supervision === undefined ? [] : [s.name]).sort()),
      pids: Effect.sync(() =>
        new Map([...services.values()].flatMap((s) => s.process === undefined ? [] : [[s.name, s.process.pid] as const]))
      )
    })
  })
)
