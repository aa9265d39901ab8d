/**
 * The live `ProcessSupervisor`: one state per service from its first change
 * or request until its file is gone and nothing is asked of it, processes
 * spawned through the `ServiceSpawner`.
 *
 * A service's fiber repeats one run (spawn, journal, wait for the exit)
 * under the restart `Schedule`. Interrupting the fiber stops the service: its
 * process group is terminated (`Termination.terminate`, on the Effect
 * `Clock`, so tests drive it with `TestClock`), and the fiber ends once the
 * main process is reaped and `process exited` is journaled.
 *
 * The changes and requests of a service form a chain: each is applied once
 * the one accepted before it is done, in a fiber of its own, so that a
 * caller that stops waiting (`wait: false`, a client gone) changes nothing
 * of what was accepted.
 *
 * @since 0.1.0
 */
import { Clock, Deferred, Duration, Effect, Exit, Fiber, Layer, Metric, Schedule, Scope } from "effect"
import * as path from "node:path"
import { restartBackoff } from "../domain/Backoff.ts"
import { Events, type Request } from "../domain/JournalEvent.ts"
import * as Metrics from "../domain/Metrics.ts"
import { plainNameProblem } from "../domain/ServiceFile.ts"
import { type Terminable, terminate, untilGone } from "../internal/Termination.ts"
import {
  type ActionDone,
  ActionFailed,
  DaemonStopping,
  InvalidServiceName,
  NoSuchService
} from "../services/Control.ts"
import { Journal } from "../services/Journal.ts"
import { ProcessSupervisor, type RequestError, type RequestOptions } from "../services/ProcessSupervisor.ts"
import { ServiceLogs } from "../services/ServiceLogs.ts"
import { type ServiceProcess, ServiceSpawner } from "../services/ServiceSpawner.ts"
import { Settings } from "../services/Settings.ts"
import { SERVICE_MARK, System } from "../services/System.ts"

// Sets a per-service metric: adds to a counter, sets a gauge.
const record = (metric: Metric.Metric<number, unknown>, name: string, value = 1) =>
  Metric.update(Metrics.forService(metric, name), value)

// What the supervisor holds for one service.
interface ServiceState {
  readonly name: string
  // Its supervision (running, or waiting out a restart delay).
  supervision: Fiber.Fiber<unknown> | undefined
  // Its main process, from the spawn until its exit is seen.
  process: ServiceProcess | undefined
  // When its supervision waits out a restart delay: when it will start.
  nextStartAt: number | undefined
  // Its file is in the scripts directory (as the changes say).
  present: boolean
  held: boolean
  // Done when the last change or request accepted is done: the next one runs after it.
  last: Deferred.Deferred<void>
  // Changes and requests accepted and not yet done.
  queued: number
  // A file change accepted, not yet begun, and the last accepted: later ones join it.
  pendingChange: Deferred.Deferred<void, DaemonStopping> | undefined
}

/**
 * The live supervisor. Services held down when the journal's earlier
 * sessions ended (`previousState.held`) begin held.
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
    let stopping = false

    const stateOf = (name: string): ServiceState => {
      let state = services.get(name)
      if (state === undefined) {
        state = {
          name,
          supervision: undefined,
          process: undefined,
          nextStartAt: undefined,
          present: false,
          held: false,
          last: Deferred.makeUnsafe<void>(),
          queued: 0,
          pendingChange: undefined
        }
        Deferred.doneUnsafe(state.last, Exit.void)
        services.set(name, state)
      }
      return state
    }
    for (const name of journal.previousState.held) stateOf(name).held = true

    // Its process group: the main process's exit, then the rest of the group.
    const groupOf = (child: ServiceProcess): Terminable => ({
      signal: (signal) => system.kill(-child.pid, signal),
      gone: Effect.andThen(child.exit, untilGone(system.kill(-child.pid, 0)))
    })

    // Uninterruptible from the spawn until the wait for the exit, so that an
    // interrupt always finds a spawned process with its stop in place.
    // `started` learns how the supervision's first start went.
    const runOnce = (state: ServiceState, started: Deferred.Deferred<number, string>) =>
      Effect.uninterruptibleMask((restore) =>
        Effect.gen(function*() {
          const { name } = state
          const spawned = yield* Effect.result(spawner.spawn(path.join(settings.scriptsDir, name), spawnOptions))
          if (spawned._tag === "Failure") {
            yield* record(Metrics.spawnErrors, name)
            yield* journal.append(Events.spawnError(name, spawned.failure.reason))
            return yield* Deferred.fail(started, spawned.failure.reason)
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
          yield* Deferred.succeed(started, child.pid)
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

    // Every run after the first is an automatic restart; the schedule says
    // when the next one is due.
    const supervise = (state: ServiceState, started: Deferred.Deferred<number, string>) =>
      Effect.suspend(() => {
        let runs = 0
        const run = Effect.suspend(() => {
          state.nextStartAt = undefined
          return runs++ === 0 ? Effect.void : record(Metrics.restarts, state.name)
        })
        const schedule = backoff.pipe(Schedule.tap(({ duration, now }) =>
          Effect.sync(() => {
            state.nextStartAt = now + Duration.toMillis(duration)
          })
        ))
        return Effect.repeat(Effect.timed(Effect.andThen(run, runOnce(state, started))), schedule)
      })

    const endSupervision = (state: ServiceState) =>
      Effect.suspend(() =>
        state.supervision === undefined ? Effect.void : Effect.andThen(
          Fiber.interrupt(state.supervision),
          Effect.sync(() => {
            state.supervision = undefined
            state.nextStartAt = undefined
          })
        )
      )

    // Stops the running instance, if any, and begins a new supervision, its
    // delays from the first; returns how its first start goes.
    const beginSupervision = (state: ServiceState) =>
      Effect.gen(function*() {
        yield* endSupervision(state)
        const started = yield* Deferred.make<number, string>()
        state.supervision = yield* Effect.forkIn(supervise(state, started), supervisions, { startImmediately: true })
        return started
      })

    // A service whose file is gone, held by nothing and asked nothing is
    // forgotten, its metric series with it.
    const releaseIfIdle = (state: ServiceState) =>
      Effect.suspend(() => {
        const idle = state.supervision === undefined && state.queued === 0 && !state.present && !state.held
        if (!idle || services.get(state.name) !== state) return Effect.void
        services.delete(state.name)
        return Metrics.forget(state.name)
      })

    // Accepts an action for the service: it runs once everything accepted
    // before it is done. Returns its outcome, to wait for or not. A file
    // change is the last accepted until another is.
    const enqueue = <A, E>(
      state: ServiceState,
      action: (outcome: Deferred.Deferred<A, E | DaemonStopping>) => Effect.Effect<A, E>,
      change?: (outcome: Deferred.Deferred<A, E | DaemonStopping>) => void
    ) =>
      Effect.suspend(() => {
        const previous = state.last
        const done = Deferred.makeUnsafe<void>()
        const outcome = Deferred.makeUnsafe<A, E | DaemonStopping>()
        state.last = done
        state.queued++
        state.pendingChange = undefined
        change?.(outcome)
        const run = Deferred.await(previous).pipe(
          Effect.andThen(Effect.exit(Effect.suspend(() => action(outcome)))),
          Effect.flatMap((exit) => Deferred.done(outcome, exit)),
          // Interrupted with the layer: the daemon is stopping.
          Effect.ensuring(Effect.suspend(() => {
            state.queued--
            return Deferred.fail(outcome, new DaemonStopping()).pipe(
              Effect.andThen(Deferred.succeed(done, undefined)),
              Effect.andThen(releaseIfIdle(state))
            )
          }))
        )
        return Effect.as(Effect.forkIn(run, supervisions, { startImmediately: true }), outcome)
      })

    const validName = (name: string) =>
      Effect.suspend(() => {
        const reason = plainNameProblem(name)
        return reason === undefined ? Effect.succeed(name) : Effect.fail(new InvalidServiceName({ name, reason }))
      })

    const start = (name: string) =>
      Effect.flatMap(validName(name), () =>
        Effect.suspend(() => {
          const state = stateOf(name)
          if (state.pendingChange !== undefined) return Effect.ignore(Deferred.await(state.pendingChange))
          const change = (outcome: Deferred.Deferred<void, DaemonStopping>) =>
            Effect.suspend(() => {
              if (state.pendingChange === outcome) state.pendingChange = undefined
              state.present = true
              return state.held || stopping ? Effect.void : Effect.asVoid(beginSupervision(state))
            })
          const accepted = enqueue(state, change, (outcome) => {
            state.pendingChange = outcome
          })
          return Effect.flatMap(accepted, (outcome) => Effect.ignore(Deferred.await(outcome)))
        }))

    const stopService = (state: ServiceState) =>
      enqueue(state, () =>
        Effect.suspend(() => {
          state.present = false
          state.held = false
          return endSupervision(state)
        }))

    const stop = (name: string) =>
      Effect.flatMap(validName(name), () =>
        Effect.suspend(() => {
          const state = services.get(name)
          return state === undefined ? Effect.void : Effect.flatMap(stopService(state), (outcome) => Effect.ignore(Deferred.await(outcome)))
        }))

    const noSuchService = (name: string) => new NoSuchService({ name, scriptsDir: settings.scriptsDir })

    // A request: refused while the daemon stops or for a service it does
    // not know (checked when accepted and again when its turn comes, for
    // its file may go meanwhile), journaled when applied.
    const request = (
      name: string,
      kind: Request,
      options: RequestOptions,
      apply: (state: ServiceState) => Effect.Effect<ActionDone, ActionFailed>
    ): Effect.Effect<ActionDone, RequestError> =>
      Effect.flatMap(validName(name), () =>
        Effect.suspend(() => {
          if (stopping) return Effect.fail(new DaemonStopping())
          const state = services.get(name)
          const known = (s: ServiceState) => s.present || (kind === "stop" && (s.held || options.restored === true))
          if (state === undefined || !(known(state) || state.queued > 0)) return Effect.fail(noSuchService(name))
          const action = Effect.suspend((): Effect.Effect<ActionDone, RequestError> => {
            if (stopping) return Effect.fail(new DaemonStopping())
            if (!known(state)) return Effect.fail(noSuchService(name))
            return apply(state)
          })
          return Effect.flatMap(enqueue(state, () => action), (outcome) =>
            options.wait === false ? Effect.succeed({ name, pid: null }) : Deferred.await(outcome))
        }))

    const journalRequest = (kind: Request, name: string, options: RequestOptions, signal?: string) =>
      journal.append(Events.requested(kind, name, { by: options.by, signal, restored: options.restored === true }))

    // Begins a new supervision and waits for its first start.
    const startNow = (state: ServiceState, kind: Request) =>
      Effect.gen(function*() {
        const started = yield* beginSupervision(state)
        const pid = yield* Deferred.await(started).pipe(
          Effect.mapError((reason) => new ActionFailed({ name: state.name, action: kind, reason }))
        )
        // Seen to exit already: it did not run.
        if (state.process?.pid !== pid) {
          return yield* new ActionFailed({ name: state.name, action: kind, reason: `pid ${pid} exited as soon as it started` })
        }
        return { name: state.name, pid }
      })

    const restart = (name: string, options: RequestOptions = {}) =>
      request(name, "restart", options, (state) =>
        Effect.gen(function*() {
          yield* journalRequest("restart", name, options)
          state.held = false
          return yield* startNow(state, "restart")
        }))

    const hold = (name: string, options: RequestOptions = {}) =>
      request(name, "stop", options, (state) =>
        Effect.gen(function*() {
          yield* journalRequest("stop", name, options)
          state.held = true
          yield* endSupervision(state)
          return { name, pid: null }
        }))

    const release = (name: string, options: RequestOptions = {}) =>
      request(name, "start", options, (state) =>
        Effect.gen(function*() {
          // Running, or starting now: left alone.
          if (!state.held && state.supervision !== undefined && state.nextStartAt === undefined) {
            return { name, pid: state.process?.pid ?? null }
          }
          yield* journalRequest("start", name, options)
          state.held = false
          return yield* startNow(state, "start")
        }))

    const signal = (name: string, signal: NodeJS.Signals, options: RequestOptions = {}) =>
      request(name, "kill", options, (state) =>
        Effect.gen(function*() {
          const pid = state.process?.pid
          const sent = pid !== undefined && (yield* system.kill(-pid, signal))
          if (!sent) return yield* new ActionFailed({ name, action: "kill", reason: `${name} is not running` })
          yield* journalRequest("kill", name, options, signal)
          return { name, pid }
        }))

    return ProcessSupervisor.of({
      start,
      stop,
      restart,
      hold,
      release,
      signal,
      stopAll: Effect.suspend(() => {
        stopping = true
        return Effect.forEach(
          [...services.values()],
          (state) => Effect.flatMap(enqueue(state, () => endSupervision(state)), (outcome) => Effect.ignore(Deferred.await(outcome))),
          { concurrency: "unbounded", discard: true }
        )
      }),
      supervised: Effect.sync(() => [...services.values()].flatMap((s) => s.supervision === undefined ? [] : [s.name]).sort()),
      held: Effect.sync(() => [...services.values()].flatMap((s) => s.held ? [s.name] : []).sort()),
      nextStarts: Effect.sync(() =>
        new Map([...services.values()].flatMap((s) => s.nextStartAt === undefined ? [] : [[s.name, s.nextStartAt] as const]))
      ),
      pids: Effect.sync(() =>
        new Map([...services.values()].flatMap((s) => s.process === undefined ? [] : [[s.name, s.process.pid] as const]))
      )
    })
  })
)
