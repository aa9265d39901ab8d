/**
 * Stopping processes, one way for every stop (a service's group, what an
 * earlier session left, the orphans services left): SIGTERM, wait until
 * the target is gone, SIGKILL when the stop timeout passes, then wait a
 * bounded grace. Timed by the Effect Clock, so `TestClock` drives it; the
 * signals go through whatever the target is given (`System.kill`), so the
 * simulated system drives them.
 *
 * @since 0.1.0
 */
import { Duration, Effect, Schedule } from "effect"

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
 * SIGTERM, then SIGKILL if anything of the target is left when
 * `stopTimeout` passes, then up to `KILL_GRACE` more for it to go. Returns
 * the last signal it sent.
 *
 * @example
 * ```ts
 * const group = { signal: (signal) => system.kill(-pgid, signal), gone: untilGone(system.kill(-pgid, 0)) }
 * const sent = yield* terminate(group, Duration.seconds(3)) // "SIGKILL" if it had to
 * ```
 * @since 0.1.0
 */
export const terminate = <R>(target: Terminable<R>, stopTimeout: Duration.Duration): Effect.Effect<StopSignal, never, R> =>
  target.signal("SIGTERM").pipe(
    Effect.andThen(target.gone),
    Effect.as<StopSignal>("SIGTERM"),
    Effect.timeoutOrElse({
      duration: stopTimeout,
      orElse: () =>
        target.signal("SIGKILL").pipe(
          Effect.andThen(Effect.timeoutOption(target.gone, KILL_GRACE)),
          Effect.as<StopSignal>("SIGKILL")
        )
    })
  )

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
