/**
 * The restart policy of a service as an Effect `Schedule`.
 *
 * @since 0.1.0
 */
import { Clock, Duration, Effect, Schedule } from "effect"

/**
 * The original's delays between a service's exit and its next start: 0, 5 s,
 * 15 s, 60 s, the last repeating.
 *
 * @example
 * ```ts
 * Cronmon.layer({ ...paths, restartDelays: DEFAULT_DELAYS.slice(1) }) // no immediate restart
 * ```
 * @since 0.1.0
 */
export const DEFAULT_DELAYS: ReadonlyArray<Duration.Duration> = [
  Duration.zero,
  Duration.seconds(5),
  Duration.seconds(15),
  Duration.seconds(60)
]

/**
 * A run that lasts this long resets the delays to the first one.
 *
 * @example
 * ```ts
 * restartBackoff(DEFAULT_DELAYS, DEFAULT_STABLE_RUN)
 * ```
 * @since 0.1.0
 */
export const DEFAULT_STABLE_RUN: Duration.Duration = Duration.seconds(60)

/**
 * What one run of a service tells the schedule: how long it lasted.
 *
 * @since 0.1.0
 */
export interface RunInfo {
  readonly ranFor: Duration.Duration
}

/**
 * Recurs forever; the n-th consecutive short run waits `delays[n]` (the last
 * delay repeats), and a run of at least `stableRun` starts the list again.
 *
 * @example
 * ```ts
 * Effect.repeat(timed(runOnce), restartBackoff(DEFAULT_DELAYS, DEFAULT_STABLE_RUN))
 * ```
 * @since 0.1.0
 */
export const restartBackoff = (
  delays: ReadonlyArray<Duration.Duration>,
  stableRun: Duration.Duration
): Schedule.Schedule<Duration.Duration, RunInfo> =>
  Schedule.fromStepWithMetadata(Effect.sync(() => {
    let failures = 0
    return (meta: Schedule.InputMetadata<RunInfo>) => {
      failures = Duration.isGreaterThanOrEqualTo(meta.input.ranFor, stableRun) ? 0 : failures
      const delay = delays[Math.min(failures, delays.length - 1)] ?? Duration.zero
      failures++
      return Effect.succeed([delay, delay] as [Duration.Duration, Duration.Duration])
    }
  }))

/**
 * Runs `run` and reports how long it lasted, by the Effect `Clock`.
 *
 * @example
 * ```ts
 * const { ranFor } = yield* timed(Effect.sleep("2 seconds")) // 2 seconds
 * ```
 * @since 0.1.0
 */
export const timed = <E, R>(run: Effect.Effect<unknown, E, R>): Effect.Effect<RunInfo, E, R> =>
  Effect.gen(function*() {
    const start = yield* Clock.currentTimeMillis
    yield* run
    const end = yield* Clock.currentTimeMillis
    return { ranFor: Duration.millis(end - start) }
  })
