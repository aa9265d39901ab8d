/**
 * `Control` in the daemon's own process: requests go to the supervisor
 * (which validates every name, orders the requests of each service and
 * journals them), the status is the journal's fold of this session with
 * what only the running daemon knows (exact next starts, CPU and memory),
 * and events come from the journal. What the control socket serves, and
 * what an app that embeds the daemon uses directly.
 *
 * @since 0.1.0
 */
import { Clock, Duration, Effect, Layer, Option } from "effect"
import { isIgnoredName, NOT_EXECUTABLE } from "../domain/ServiceFile.ts"
import { signalNamed } from "../domain/Signals.ts"
import { isUp, type ResourceUsage, type ServiceStatus, statusJsonOf } from "../domain/Status.ts"
import {
  ActionFailed,
  type ActionDone,
  type ActionError,
  type ActionOptions,
  Control,
  InvalidSignal,
  NoSuchService,
  NotifyRefused
} from "../services/Control.ts"
import { Journal } from "../services/Journal.ts"
import { ProcessSupervisor, type RequestOptions } from "../services/ProcessSupervisor.ts"
import { Settings } from "../services/Settings.ts"
import { inspectFile, strictModesUid } from "../internal/ScriptInspection.ts"
import { System } from "../services/System.ts"

const requestOptions = (options: ActionOptions | undefined): RequestOptions => ({
  wait: options?.wait,
  ready: options?.ready,
  by: options?.by
})

/**
 * `Control` on the supervisor, journal, settings and system of this process.
 *
 * @example
 * ```ts
 * const program = Control.use((control) => control.restart("web"))
 * program.pipe(Effect.provide(Layer.provide(ControlLocal.layer, Cronmon.layer(options))))
 * ```
 * @since 0.1.0
 */
export const layer: Layer.Layer<Control, never, ProcessSupervisor | Journal | Settings | System> = Layer.effect(
  Control,
  Effect.gen(function*() {
    const supervisor = yield* ProcessSupervisor
    const journal = yield* Journal
    const settings = yield* Settings
    const system = yield* System

    // What every running service's group uses: measured over a window, so
    // status requests that come together (a dashboard, a burst of clients)
    // share one measurement instead of each scanning /proc twice.
    const measureUsage = yield* Effect.cachedWithTTL(
      Effect.flatMap(supervisor.pids, (pids) => system.groupUsage([...pids.values()])),
      Duration.zero
    )

    const status = Effect.gen(function*() {
      const now = yield* Clock.currentTimeMillis
      const session = yield* journal.sessionStatus(now)
      const nextStarts = yield* supervisor.nextStarts
      const notices = yield* supervisor.notices
      const stopping = yield* supervisor.stopping
      // The journal's fold replays the restart delays from journal times;
      // the supervisor knows when its schedule will start each service, and
      // what each running one said that is not journaled.
      const services = session.services.map((service): ServiceStatus => {
        // Stopping every service: none will be started again.
        if (stopping) {
          return isUp(service.state)
            ? { ...service, state: "stopping" }
            : service.nextStartAt === null
            ? service
            : { ...service, state: "stopped", nextStartAt: null }
        }
        const exact = nextStarts.get(service.name)
        if (exact !== undefined && (service.state === "waiting" || service.state === "failing")) {
          return { ...service, nextStartAt: exact }
        }
        const notice = notices.get(service.name)
        if (notice === undefined || notice.pid !== service.pid || !isUp(service.state)) return service
        return { ...service, state: notice.phase ?? service.state, statusText: notice.statusText ?? null }
      })
      // Each service leads its own process group.
      const byGroup = yield* measureUsage
      const usage = new Map<string, ResourceUsage>(services.flatMap((service) => {
        const used = isUp(service.state) && service.pid !== null ? byGroup.get(service.pid) : undefined
        return used === undefined ? [] : [[service.name, used] as const]
      }))
      return statusJsonOf({
        journal: settings.journalPath,
        found: true,
        now,
        daemon: {
          state: stopping ? "stopping" : "running",
          pid: session.pid,
          since: session.startedAt,
          quitAt: null,
          lastEventAt: session.lastEventAt
        },
        services
      }, usage)
    })

    // A file the daemon refuses to run is there all the same: say why it
    // is not a service rather than that there is none (a name the watcher
    // never takes for one, an editor's `.swp`, stays no such service).
    const uid = strictModesUid(settings.strictModes)
    const refusedOr = (action: ActionFailed["action"]) => (error: NoSuchService) =>
      isIgnoredName(error.name) ? Effect.fail(error) : Effect.flatMap(inspectFile(settings.scriptsDir, error.name, uid), (inspection) => {
        const reason = inspection === NOT_EXECUTABLE ? "its file is not executable" : inspection?.refusal
        return Effect.fail(reason === undefined ? error : new ActionFailed({ name: error.name, action, reason }))
      })

    return Control.of({
      restart: (name, options) =>
        supervisor.restart(name, requestOptions(options)).pipe(Effect.catchTag("NoSuchService", refusedOr("restart"))),
      stop: (name, options) =>
        supervisor.hold(name, requestOptions(options)).pipe(Effect.catchTag("NoSuchService", refusedOr("stop"))),
      start: (name, options) =>
        supervisor.release(name, requestOptions(options)).pipe(Effect.catchTag("NoSuchService", refusedOr("start"))),
      kill: (name, signal, options) =>
        Effect.suspend((): Effect.Effect<ActionDone, ActionError> => {
          const parsed = signalNamed(signal)
          return parsed === undefined
            ? Effect.fail(new InvalidSignal({ signal }))
            : supervisor.signal(name, parsed, requestOptions(options))
        }).pipe(Effect.catchTag("NoSuchService", refusedOr("kill"))),
      notify: (name, message) =>
        Effect.gen(function*() {
          // The sender's group, read while it waits for the answer.
          const sender = yield* system.identify(message.pid)
          if (Option.isNone(sender)) {
            return yield* new NotifyRefused({ name, reason: `pid ${message.pid} is not running` })
          }
          const fields = new Map<string, string>([
            ...(message.ready === true ? [["READY", "1"] as const] : []),
            ...(message.status === undefined ? [] : [["STATUS", message.status] as const])
          ])
          yield* supervisor.notify(name, { pid: message.pid, pgid: sender.value.pgid, fields })
        }),
      status,
      events: journal.events
    })
  })
)
