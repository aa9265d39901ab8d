/**
 * The daemon as child subreaper: processes that services orphan (a
 * double-forking daemon, a child left behind) are re-parented to cronmon,
 * reaped when they exit, left alone while cronmon runs, and terminated when
 * it shuts down.
 *
 * Node's child handling (libuv) collects only the PIDs it spawned, with
 * `waitpid(pid)` on SIGCHLD; collecting one of those first would steal its
 * exit status. So a zombie is reaped only if it is not a service's main
 * process and is still a zombie on a second look, after the event loop has
 * had its turn: libuv never leaves its own zombies that long. Work happens on
 * SIGCHLD only: nothing runs while nothing exits.
 *
 * @since 0.1.0
 */
import { Effect, Option, Queue } from "effect"
import { Events } from "../../domain/JournalEvent.ts"
import { terminate, untilGone } from "../../internal/Termination.ts"
import { Journal } from "../../services/Journal.ts"
import { ProcessSupervisor } from "../../services/ProcessSupervisor.ts"
import { Settings } from "../../services/Settings.ts"
import { System } from "../../services/System.ts"

const SECOND_LOOK = "100 millis"

/**
 * A running reaper.
 *
 * @since 0.1.0
 */
export interface Reaper {
  /** Terminates every adopted orphan (SIGTERM, SIGKILL after the stop timeout) and reaps it. */
  readonly terminateOrphans: Effect.Effect<void>
}

/**
 * Becomes the subreaper (where the kernel allows) and reaps adopted orphans
 * for as long as the current scope lives.
 *
 * @since 0.1.0
 */
export const startReaper = Effect.gen(function*() {
  const system = yield* System
  const supervisor = yield* ProcessSupervisor
  const journal = yield* Journal
  const { stopTimeout } = yield* Settings
  if (!(yield* system.becomeSubreaper)) return { terminateOrphans: Effect.void } satisfies Reaper

  const servicePids = Effect.map(supervisor.pids, (pids) => new Set(pids.values()))
  const orphans = Effect.gen(function*() {
    const services = yield* servicePids
    return (yield* system.children).filter((child) => !services.has(child.pid))
  })
  const zombies = Effect.map(orphans, (children) => children.filter((c) => c.zombie).map((c) => c.pid))
  const reapZombies = Effect.gen(function*() {
    const first = yield* zombies
    if (first.length === 0) return
    yield* Effect.sleep(SECOND_LOOK)
    const second = new Set(yield* zombies)
    yield* Effect.forEach(first.filter((pid) => second.has(pid)), system.reap, { discard: true })
  })

  const wake = yield* Queue.sliding<void>(1)
  const onChild = () => void Queue.offerUnsafe(wake, undefined)
  yield* Effect.acquireRelease(
    Effect.sync(() => process.on("SIGCHLD", onChild)),
    () => Effect.sync(() => process.off("SIGCHLD", onChild))
  )
  yield* Effect.forkScoped(Effect.forever(Effect.andThen(Queue.take(wake), reapZombies)))

  // Signals an orphan's group when it leads one (a `setsid` daemon), else itself.
  const signalAll = (signal: NodeJS.Signals) =>
    Effect.flatMap(orphans, (children) =>
      Effect.forEach(children.filter((c) => !c.zombie), ({ pid }) =>
        Effect.flatMap(system.identify(pid), (identity) =>
          system.kill(identity._tag === "Some" && identity.value.pgid === pid ? -pid : pid, signal)), { discard: true }))
  const collect = Effect.flatMap(orphans, (children) =>
    Effect.forEach(children.filter((c) => c.zombie), ({ pid }) => system.reap(pid), { discard: true }))
  const gone = untilGone(Effect.map(Effect.andThen(collect, orphans), (left) => left.length > 0))

  return {
    terminateOrphans: Effect.gen(function*() {
      // Members of a service's own group are stopped with it, not left
      // behind: at shutdown they are re-parented here for the instant
      // between their service's death and their own.
      const services = yield* servicePids
      const left = yield* Effect.filter(yield* orphans, (child) =>
        child.zombie
          ? Effect.succeed(false)
          : Effect.map(system.identify(child.pid), (identity) =>
            !(Option.isSome(identity) && services.has(identity.value.pgid))))
      if (left.length === 0) return
      yield* journal.append(Events.warning("reaper", `terminating ${left.length} ${left.length === 1 ? "process" : "processes"} that services left behind`))
      yield* terminate({ signal: signalAll, gone }, stopTimeout)
    })
  } satisfies Reaper
})
