/**
 * The few kernel facilities Node does not offer: advisory file locks and
 * process identities. The live layer is the only Linux-specific module.
 *
 * @since 0.1.0
 */
import { Context, Data, type Effect, type Option } from "effect"

/**
 * What identifies a process beyond its PID, which the kernel reuses.
 *
 * @since 0.1.0
 */
export interface ProcessIdentity {
  /** Process group ID. */
  readonly pgid: number
  /** Start time in clock ticks since boot (field 22 of `/proc/PID/stat`), as text. */
  readonly startTime: string
  /** The same start time as epoch milliseconds (to within a clock tick). */
  readonly startedAt: number
}

/**
 * A system call failed in a way the caller cannot fix by retrying.
 *
 * @since 0.1.0
 */
export class SystemCallError extends Data.TaggedError("SystemCallError")<{
  readonly call: string
  readonly errno: number
  readonly message: string
}> {}

/**
 * Kernel facilities behind a service, so tests replace them.
 *
 * @since 0.1.0
 */
export class System extends Context.Service<System, {
  /**
   * Takes an exclusive `flock(2)` on an open file without blocking: `true`
   * when taken, `false` when another process holds it. The lock lives as
   * long as the descriptor is open.
   */
  readonly tryLockExclusive: (fd: number) => Effect.Effect<boolean, SystemCallError>
  /** The identity of a live process, or `None` when it does not exist. */
  readonly identify: (pid: number) => Effect.Effect<Option.Option<ProcessIdentity>>
  /**
   * Sends a signal as `kill(2)` does: to a process, or to the process group
   * `-pid` when `pid` is negative; signal 0 only checks that it exists.
   * `false` when there is no such process or group (or it is not ours).
   */
  readonly kill: (pid: number, signal: NodeJS.Signals | 0) => Effect.Effect<boolean>
}>()("cronmon/System") {}
