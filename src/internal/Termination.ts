/**
 * Stopping processes, one way for every stop (a service's group, what an
 * earlier session left, the orphans services left): SIGTERM, wait until
 * the target is gone, SIGKILL when the stop timeout passes (or sooner, when
 * hurried), then wait a bounded grace. Timed by the Effect Clock, so
 * `TestClock` drives it; the signals go through whatever the target is
 * given (`System.kill`), so the simulated system drives them.
 *
 * @since 0.1.0
 */
import { Context, Duration, Effect, Schedule } from "effect"

/**
 * How long a termination waits for its target to be gone after SIGKILL.
 *
 * @since 0.1.0
 */
export const KILL_GRACE: Duration.Duration = Duration.seconds(1)

/**
 * The signals a termination sends, in order.
 *
 * @since 0.1.0
 */
export type StopSignal = "SIGTERM" | "SIGKILL"

/**
 * What a termination stops: a process, a process group, or a set of
 * processes that may change while it is stopped.
 *
 * @since 0.1.0
 */
export interface Terminable<R = never> {
  /** Sends the signal to all of it. */
  readonly signal: (signal: StopSignal) => Effect.Effect<unknown, never, R>
  /** Completes once nothing of it is left. */
  readonly gone: Effect.Effect<unknown, never, R>
}

/**
 * What hurries every termination in its context: once it completes, a
 * termination waiting out its stop timeout sends SIGKILL at once, and one
 * that starts later does not wait either. Never, unless provided (the
 * daemon's second SIGINT or SIGTERM; the test kit's teardown).
 *
 * @example
 * ```ts
 * terminate(group, stopTimeout).pipe(Effect.provideService(Hurry, Deferred.await(secondSignal)))
 * ```
 * @since 0.1.0
 */
export const Hurry = Context.Reference<Effect.Effect<void>>("cronmon/Termination/Hurry", { defaultValue: () => Effect.never })

/**
 * SIGTERM, then SIGKILL if anything of the target is left when
 * `stopTimeout` passes (or `Hurry` completes), then up to `KILL_GRACE` more
 * for it to go. Returns the last signal it sent.
 *
 * @example
 * ```ts
 * const group = { signal: (signal) => system.kill(-pgid, signal), gone: untilGone(system.kill(-pgid, 0)) }
 * const sent = yield* terminate(group, Duration.seconds(3)) // "SIGKILL" if it had to
 * ```
 * @since 0.1.0
 */
export const terminate = <R>(target: Terminable<R>, stopTimeout: Duration.Duration): Effect.Effect<StopSignal, never, R> =>
  Effect.gen(function*() {
    const hurried = yield* Hurry
    yield* target.signal("SIGTERM")
    const gone = yield* Effect.raceFirst(
      Effect.as(target.gone, true),
      Effect.as(Effect.raceFirst(Effect.sleep(stopTimeout), hurried), false)
    )
    if (gone) return "SIGTERM"
    yield* target.signal("SIGKILL")
    yield* Effect.timeoutOption(target.gone, KILL_GRACE)
    return "SIGKILL"
  })

/**
 * Completes once `isAlive` says false, asking every 20 ms on the Effect
 * Clock: for what no event announces (a process group emptying). Bound it
 * with a timeout, as `terminate` does.
 *
 * @example
 * ```ts
 * yield* untilGone(system.kill(-pgid, 0))
 * ```
 * @since 0.1.0
 */
export const untilGone = <R>(isAlive: Effect.Effect<boolean, never, R>): Effect.Effect<void, never, R> =>
  Effect.asVoid(Effect.repeat(isAlive, { while: (alive) => alive, schedule: Schedule.spaced("20 millis") }))
