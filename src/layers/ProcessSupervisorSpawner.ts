/**
 * The live `ProcessSupervisor`: one state per service from its first change
 * or request until its file is gone and nothing is asked of it, processes
 * spawned through the `ServiceSpawner`.
 *
 * A service's fiber repeats one run (spawn, journal, wait for the exit)
 * after the restart policy's delay (`Backoff.nextRestart`). Interrupting
 * the fiber stops the service: its process group is terminated
 * (`Termination.terminate`, on the Effect `Clock`, so tests drive it with
 * `TestClock`), and the fiber ends once the main process is reaped and
 * `process exited` is journaled.
 *
 * The changes and requests of a service form a chain: each is applied once
 * the one accepted before it is done, in a fiber of its own, so that a
 * caller that stops waiting (`wait: false`, a client gone) changes nothing
 * of what was accepted. Waiting for readiness (`ready: true`) is the
 * caller's, after its request is done: it holds up no later request.
 *
 * Notifications are read from the `NotifySocket` as they come, those of
 * process groups other than the running services' refused on receipt.
 *
 * @since 0.1.0
 */
import { Clock, Deferred, Duration, Effect, Exit, Fiber, Layer, Metric, Option, Scope, Stream } from "effect"
import * as path from "node:path"
import { nextRestart } from "../domain/Backoff.ts"
import { describeExit, Events, type Request } from "../domain/JournalEvent.ts"
import * as Metrics from "../domain/Metrics.ts"
import { notifyMeaning } from "../domain/NotifyMessage.ts"
import { NOTIFY_SOCKET, SERVICE_MARK, SERVICE_NAME } from "../domain/ServiceEnvironment.ts"
import { plainNameProblem } from "../domain/ServiceFile.ts"
import { type Terminable, terminate, untilGone } from "../internal/Termination.ts"
import {
  type ActionDone,
  ActionFailed,
  DaemonStopping,
  InvalidServiceName,
  NoSuchService,
  NotifyRefused,
  NotReady
} from "../services/Control.ts"
import { Journal } from "../services/Journal.ts"
import { NotifySocket, type Sender } from "../services/NotifySocket.ts"
import { type Notice, ProcessSupervisor, type RequestError, type RequestOptions } from "../services/ProcessSupervisor.ts"
import { ServiceLogs } from "../services/ServiceLogs.ts"
import { type ServiceProcess, ServiceSpawner } from "../services/ServiceSpawner.ts"
import { Settings } from "../services/Settings.ts"
import { System } from "../services/System.ts"

// Sets a per-service metric: adds to a counter, sets a gauge.
const record = (metric: Metric.Metric<number, unknown>, name: string, value = 1) =>
  Metric.update(Metrics.forService(metric, name), value)

// What a run has said over the notify socket, from its spawn until its exit is seen.
interface Readiness {
  readonly pid: number
  // When it said READY=1.
  readyAt: number | undefined
  // Done once it is ready; failed with why it never will be (its exit).
  readonly ready: Deferred.Deferred<void, string>
  statusText: string | undefined
  phase: Notice["phase"]
}

// What the supervisor holds for one service.
interface ServiceState {
  readonly name: string
  // Its supervision (running, or waiting out a restart delay).
  supervision: Fiber.Fiber<unknown> | undefined
  // How its supervision's first start went: the pid, or why the spawn failed.
  started: Deferred.Deferred<number, string> | undefined
  // Its main process, from the spawn until its exit is seen.
  process: ServiceProcess | undefined
  // Its main process's readiness, as long as `process`.
  readiness: Readiness | undefined
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
  ServiceSpawner | Journal | ServiceLogs | Settings | System | NotifySocket
> = Layer.effect(
  ProcessSupervisor,
  Effect.gen(function*() {
    const spawner = yield* ServiceSpawner
    const journal = yield* Journal
    const logs = yield* ServiceLogs
    const settings = yield* Settings
    const system = yield* System
    const notify = yield* NotifySocket
    const scope = yield* Effect.scope
    // Closed with the layer: every supervision is stopped at once, not one after another.
    const supervisions = yield* Scope.fork(scope, "parallel")
    const services = new Map<string, ServiceState>()
    const policy = { delays: settings.restartDelays, stableRun: settings.stableRun }
    const notifyAddress = Option.getOrUndefined(notify.address)
    // The journal marks the service and its descendants as this journal's
    // (found after a crash even when the journal does not name them); the
    // name is what `cronmon notify` speaks for. Without a notify socket of
    // ours, none: not the daemon's own (systemd's, when it runs under it).
    const spawnOptions = (name: string) => ({
      env: { [SERVICE_MARK]: settings.journalPath, [SERVICE_NAME]: name, [NOTIFY_SOCKET]: notifyAddress }
    })
    // Services that said READY=1 (in this session, or in sessions that
    // crashed): their runs are starting until they say it again.
    const notifying = new Set(journal.previousState.notifying)
    // The running instances' services, by process group (each leads its own).
    const byGroup = new Map<number, ServiceState>()
    let stopping = false

    const stateOf = (name: string): ServiceState => {
      let state = services.get(name)
      if (state === undefined) {
        state = {
          name,
          supervision: undefined,
          started: undefined,
          process: undefined,
          readiness: undefined,
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
    // `started` learns how the supervision's first start went. Returns how
    // long the run counts as stable: from its readiness, when it said it;
    // `undefined` when the spawn failed.
    const runOnce = (
      state: ServiceState,
      started: Deferred.Deferred<number, string>
    ): Effect.Effect<Duration.Duration | undefined> =>
      Effect.uninterruptibleMask((restore) =>
        Effect.gen(function*() {
          const { name } = state
          const startedAt = yield* Clock.currentTimeMillis
          const spawned = yield* Effect.result(spawner.spawn(path.join(settings.scriptsDir, name), spawnOptions(name)))
          if (spawned._tag === "Failure") {
            yield* record(Metrics.spawnErrors, name)
            yield* journal.append(Events.spawnError(name, spawned.failure.reason))
            yield* Deferred.fail(started, spawned.failure.reason)
            return undefined
          }
          const child = spawned.success
          const readiness: Readiness = {
            pid: child.pid,
            readyAt: undefined,
            ready: Deferred.makeUnsafe(),
            statusText: undefined,
            phase: undefined
          }
          // No notify socket: nothing can say it, so a run is ready once spawned.
          if (notifyAddress === undefined) Deferred.doneUnsafe(readiness.ready, Exit.void)
          state.process = child
          state.readiness = readiness
          byGroup.set(child.pid, state)
          yield* Effect.andThen(record(Metrics.spawns, name), record(Metrics.running, name, 1))
          const identity = yield* system.identify(child.pid)
          yield* journal.append(Events.spawned(
            name,
            child.pid,
            identity._tag === "Some" ? { pgid: identity.value.pgid, start_time: identity.value.startTime } : {},
            notifyAddress !== undefined && notifying.has(name)
          ))
          yield* Deferred.succeed(started, child.pid)
          // Drained in the supervisor's scope, not this run's: processes the
          // service left behind may still write to its log after it exits.
          yield* Effect.forkIn(logs.write(name, child.output), scope)
          // A stop interrupts the wait: the group is terminated, then the exit journaled.
          const stopped = Exit.hasInterrupts(yield* Effect.exit(restore(child.exit)))
          if (stopped) yield* terminate(groupOf(child), settings.stopTimeout)
          const status = yield* child.exit
          const endedAt = yield* Clock.currentTimeMillis
          state.process = undefined
          state.readiness = undefined
          byGroup.delete(child.pid)
          yield* Deferred.fail(readiness.ready, `pid ${child.pid} ${describeExit(status)} before it was ready`)
          yield* Effect.andThen(record(Metrics.exits, name), record(Metrics.running, name, 0))
          yield* journal.append(Events.exited(name, child.pid, status))
          // What its group still holds when it exited alone is stopped before the next run.
          if (!stopped && (yield* system.kill(-child.pid, 0))) yield* terminate(groupOf(child), settings.stopTimeout)
          return Duration.millis(endedAt - (readiness.readyAt ?? startedAt))
        })
      )

    // What a message means for the run that sent it: READY=1 makes it
    // ready (journaled, its waiters released, its stable time counted from
    // now) and ends a reload; STATUS= is kept to show; RELOADING=1 and
    // STOPPING=1 are shown until READY=1 and the exit (STOPPING=1 before
    // READY=1: it never will be). MAINPID=, WATCHDOG=1 and the rest change nothing.
    const applyNotification = (state: ServiceState, readiness: Readiness, fields: ReadonlyMap<string, string>) =>
      Effect.flatMap(Clock.currentTimeMillis, (now) =>
        Effect.suspend(() => {
          const meaning = notifyMeaning(fields)
          if (meaning.status !== undefined) readiness.statusText = meaning.status
          if (meaning.stopping) readiness.phase = "stopping"
          else if (meaning.reloading) readiness.phase = "reloading"
          else if (meaning.ready && readiness.phase === "reloading") readiness.phase = undefined
          if (meaning.stopping && readiness.readyAt === undefined) {
            return Deferred.fail(readiness.ready, `pid ${readiness.pid} said STOPPING=1 before it was ready`)
          }
          if (!meaning.ready || readiness.readyAt !== undefined) return Effect.void
          readiness.readyAt = now
          notifying.add(state.name)
          return Effect.andThen(journal.append(Events.ready(state.name, readiness.pid)), Deferred.succeed(readiness.ready, undefined))
        }))

    // A message counts when it comes from a running service's process group.
    const accepts = (sender: Sender) => sender.pgid !== undefined && byGroup.has(sender.pgid)
    yield* notify.notifications(accepts).pipe(
      Stream.runForEach((notification) =>
        Effect.suspend(() => {
          const state = notification.pgid === undefined ? undefined : byGroup.get(notification.pgid)
          const readiness = state?.readiness
          return state === undefined || readiness === undefined
            ? Effect.void
            : applyNotification(state, readiness, notification.fields)
        })
      ),
      Effect.catch((error) => journal.append(Events.warning("notify", `${error.message}: readiness is no longer received`))),
      Effect.forkIn(scope, { startImmediately: true })
    )

    // Every run after the first is an automatic restart, after the delay the
    // policy gives. A restart due now is spawned at once: a zero sleep would
    // still wait for a timer (at least a millisecond, and every other task
    // of the event loop first).
    const supervise = (state: ServiceState, started: Deferred.Deferred<number, string>) =>
      Effect.gen(function*() {
        let restarts = 0
        for (;;) {
          const ranFor = yield* runOnce(state, started)
          const next = nextRestart(policy, restarts, ranFor ?? Duration.zero)
          restarts = next.restarts
          if (Duration.isGreaterThan(next.delay, Duration.zero)) {
            state.nextStartAt = (yield* Clock.currentTimeMillis) + Duration.toMillis(next.delay)
            yield* Effect.sleep(next.delay)
            state.nextStartAt = undefined
          } else if (ranFor === undefined) {
            // A spawn that fails at once, under a policy of zero delays only:
            // retried no faster than a timer, not in a loop that journals
            // thousands of lines a second.
            yield* Effect.sleep(Duration.zero)
          }
          yield* record(Metrics.restarts, state.name)
        }
      })

    const endSupervision = (state: ServiceState) =>
      Effect.suspend(() =>
        state.supervision === undefined ? Effect.void : Effect.andThen(
          Fiber.interrupt(state.supervision),
          Effect.sync(() => {
            state.supervision = undefined
            state.started = undefined
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
        state.started = started
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
          // A new file of that name is a new service.
          notifying.delete(state.name)
          return endSupervision(state)
        }))

    const stop = (name: string) =>
      Effect.flatMap(validName(name), () =>
        Effect.suspend(() => {
          const state = services.get(name)
          return state === undefined ? Effect.void : Effect.flatMap(stopService(state), (outcome) => Effect.ignore(Deferred.await(outcome)))
        }))

    const noSuchService = (name: string) => new NoSuchService({ name, scriptsDir: settings.scriptsDir })

    // Until the first scan is applied, a name not known yet may still be a service.
    const scan = Deferred.makeUnsafe<void>()
    const untilScanned = (name: string) =>
      Effect.suspend(() =>
        services.has(name) ? Effect.void : Effect.timeoutOption(Deferred.await(scan), Duration.times(settings.stopTimeout, 2))
      )

    // A request: refused while the daemon stops or for a service it does
    // not know once the first scan is applied (checked when accepted and
    // again when its turn comes, for its file may go meanwhile), journaled
    // when applied.
    const request = (
      name: string,
      kind: Request,
      options: RequestOptions,
      apply: (state: ServiceState) => Effect.Effect<ActionDone, ActionFailed>
    ): Effect.Effect<ActionDone, RequestError> =>
      Effect.flatMap(Effect.andThen(validName(name), untilScanned(name)), () =>
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
          return Effect.flatMap(enqueue(state, () => action), (outcome) => {
            if (options.wait === false) return Effect.succeed({ name, pid: null })
            const done = Deferred.await(outcome)
            return options.ready === true && (kind === "restart" || kind === "start")
              ? Effect.flatMap(done, (started) => untilReady(state, started))
              : done
          })
        }))

    // The instance a restart or start left running, once it is ready.
    const untilReady = (state: ServiceState, done: ActionDone): Effect.Effect<ActionDone, NotReady> =>
      Effect.suspend(() => {
        const { name, pid } = done
        if (pid === null) return Effect.succeed(done)
        const readiness = state.readiness
        const notReady = (reason: string) => new NotReady({ name, pid, reason })
        if (readiness?.pid !== pid) return Effect.fail(notReady(`pid ${pid} exited before it was ready`))
        return Effect.as(Effect.mapError(Deferred.await(readiness.ready), notReady), done)
      })

    const journalRequest = (kind: Request, name: string, options: RequestOptions, signal?: string) =>
      journal.append(Events.requested(kind, name, { by: options.by, signal, restored: options.restored === true }))

    // Waits for a supervision's first start.
    const firstStart = (state: ServiceState, kind: Request, started: Deferred.Deferred<number, string>) =>
      Effect.gen(function*() {
        const pid = yield* Deferred.await(started).pipe(
          Effect.mapError((reason) => new ActionFailed({ name: state.name, action: kind, reason }))
        )
        // Seen to exit already: it did not run.
        if (state.process?.pid !== pid) {
          return yield* new ActionFailed({ name: state.name, action: kind, reason: `pid ${pid} exited as soon as it started` })
        }
        return { name: state.name, pid }
      })

    // Begins a new supervision and waits for its first start.
    const startNow = (state: ServiceState, kind: Request) =>
      Effect.flatMap(beginSupervision(state), (started) => firstStart(state, kind, started))

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
          // Running, or starting now: left alone (a first start, once spawned).
          if (!state.held && state.supervision !== undefined && state.nextStartAt === undefined) {
            const { started } = state
            if (started !== undefined && !Deferred.isDoneUnsafe(started)) return yield* firstStart(state, "start", started)
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
      scanned: Deferred.succeed(scan, undefined).pipe(Effect.asVoid),
      stopAll: Effect.suspend(() => {
        stopping = true
        // Requests waiting for the first scan are refused now.
        Deferred.doneUnsafe(scan, Exit.void)
        return Effect.forEach(
          [...services.values()],
          (state) => Effect.flatMap(enqueue(state, () => endSupervision(state)), (outcome) => Effect.ignore(Deferred.await(outcome))),
          { concurrency: "unbounded", discard: true }
        )
      }),
      stopping: Effect.sync(() => stopping),
      notify: (name, notification) =>
        Effect.flatMap(validName(name), () =>
          Effect.suspend((): Effect.Effect<void, NoSuchService | NotifyRefused> => {
            const state = services.get(name)
            if (state === undefined || !state.present) return Effect.fail(noSuchService(name))
            const readiness = state.readiness
            const refused = (reason: string) => Effect.fail(new NotifyRefused({ name, reason }))
            if (readiness === undefined) return refused(`${name} is not running`)
            if (notification.pgid !== readiness.pid) {
              return refused(`pid ${notification.pid} is not a process of ${name} (process group ${readiness.pid})`)
            }
            return applyNotification(state, readiness, notification.fields)
          })),
      supervised: Effect.sync(() => [...services.values()].flatMap((s) => s.supervision === undefined ? [] : [s.name]).sort()),
      held: Effect.sync(() => [...services.values()].flatMap((s) => s.held ? [s.name] : []).sort()),
      nextStarts: Effect.sync(() =>
        new Map([...services.values()].flatMap((s) => s.nextStartAt === undefined ? [] : [[s.name, s.nextStartAt] as const]))
      ),
      pids: Effect.sync(() =>
        new Map([...services.values()].flatMap((s) => s.process === undefined ? [] : [[s.name, s.process.pid] as const]))
      ),
      notices: Effect.sync(() =>
        new Map([...services.values()].flatMap((s) => {
          const said = s.readiness
          return said === undefined || (said.statusText === undefined && said.phase === undefined)
            ? []
            : [[s.name, { pid: said.pid, statusText: said.statusText, phase: said.phase }] as const]
        }))
      )
    })
  })
)
