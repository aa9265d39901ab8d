/**
 * Waiting on a condition that no event announces (a process group emptying).
 *
 * @since 0.1.0
 */
import { Effect, Schedule } from "effect"

/**
 * Runs `check` every 20 ms, on the Effect Clock, while `keepGoing` holds of
 * its result, and returns the last result. Bound it with a timeout.
 *
 * @since 0.1.0
 */
export const pollWhile = <A, E, R>(check: Effect.Effect<A, E, R>, keepGoing: (a: A) => boolean) =>
  Effect.repeat(check, { while: keepGoing, schedule: Schedule.spaced("20 millis") })
