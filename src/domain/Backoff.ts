/**
 * The restart policy of a service: one pure step, run by the supervisor as an
 * Effect `Schedule` and replayed by `status` over the journal.
 *
 * @since 0.1.0
 */
import { Duration, Effect, Schedule } from "effect"

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
 * The delays between an exit and the next start (the last repeats), and the
 * run time that starts them again.
 *
 * @since 0.1.0
 */
export interface RestartPolicy {
  readonly delays: ReadonlyArray<Duration.Duration>
  readonly stableRun: Duration.Duration
}

/**
 * One step of the policy: a service restarted `restarts` times since its
 * last stable run ends a run of `ranFor`. Returns the delay before its next
 * start and the count after that start.
 *
 * @example
 * ```ts
 * nextRestart({ delays: DEFAULT_DELAYS, stableRun: DEFAULT_STABLE_RUN }, 1, Duration.seconds(2))
 * // { delay: 5 seconds, restarts: 2 }
 * ```
 * @since 0.1.0
 */
export const nextRestart = (
  policy: RestartPolicy,
  restarts: number,
  ranFor: Duration.Duration
): { readonly delay: Duration.Duration; readonly restarts: number } => {
  const since = Duration.isGreaterThanOrEqualTo(ranFor, policy.stableRun) ? 0 : restarts
  return { delay: policy.delays[Math.min(since, policy.delays.length - 1)] ?? Duration.zero, restarts: since + 1 }
}

/**
 * `nextRestart` as a `Schedule` that recurs forever, fed how long each run
 * counts as stable: how long it lasted (what `Effect.timed` gives), or,
 * for a run that announced its readiness, how long it lasted after that.
 *
 * @example
 * ```ts
 * Effect.repeat(Effect.map(Effect.timed(runOnce), ([ranFor]) => ranFor), restartBackoff(DEFAULT_DELAYS, DEFAULT_STABLE_RUN))
 * ```
 * @since 0.1.0
 */
export const restartBackoff = (
  delays: ReadonlyArray<Duration.Duration>,
  stableRun: Duration.Duration
): Schedule.Schedule<Duration.Duration, Duration.Duration> =>
  Schedule.fromStep(Effect.sync(() => {
    let restarts = 0
    return (_now: number, ranFor: Duration.Duration) => {
      const next = nextRestart({ delays, stableRun }, restarts, ranFor)
      restarts = next.restarts
      return Effect.succeed<[Duration.Duration, Duration.Duration]>([next.delay, next.delay])
    }
  }))
