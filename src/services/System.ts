/**
 * The few kernel facilities Node does not offer: advisory file locks and
 * process identities. The live layer is the only Linux-specific module.
 *
 * @since 0.1.0
 */
import { Context, Data, type Effect, type Option } from "effect"
import type { ResourceUsage } from "../domain/Status.ts"

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
  /** The identity of a live process, or `None` when it does not exist or has ended (a zombie). */
  readonly identify: (pid: number) => Effect.Effect<Option.Option<ProcessIdentity>>
  /**
   * Sends a signal as `kill(2)` does: to a process, or to the process group
   * `-pid` when `pid` is negative; signal 0 only checks that it exists.
   * `false` when there is no such process or group (or it is not ours).
   */
  readonly kill: (pid: number, signal: NodeJS.Signals | 0) => Effect.Effect<boolean>
  /**
   * The words to put before a command so that it gets SIGTERM when this
   * process dies (`setpriv --pdeathsig SIGTERM --`, which execs the command
   * and so keeps its PID), or none where that is not available.
   */
  readonly parentDeathSignal: ReadonlyArray<string>
  /**
   * Why `file` cannot be executed, checked before spawning it: missing, not
   * executable, its `#!` interpreter missing, or neither a `#!` script nor a
   * binary (which `execvp` would otherwise run through `/bin/sh`).
   */
  readonly checkExecutable: (file: string) => Effect.Effect<Option.Option<SpawnRefusal>>
  /**
   * Makes this process the reaper of the processes its descendants orphan
   * (`PR_SET_CHILD_SUBREAPER`); `false` where the kernel has no such thing.
   */
  readonly becomeSubreaper: Effect.Effect<boolean>
  /** When the machine booted (epoch milliseconds), or 0 when unknown. */
  readonly bootedAt: Effect.Effect<number>
  /** The live processes of a process group, with their identities. */
  readonly groupMembers: (pgid: number) => Effect.Effect<ReadonlyArray<ProcessIdentity & { readonly pid: number }>>
  /**
   * What each process group (by its ID) uses now: CPU (percent of one
   * core, over a window of a fraction of a second, as `top` shows it) and
   * resident memory, summed over its live members. A group with no live
   * member is left out.
   */
  readonly groupUsage: (pgids: ReadonlyArray<number>) => Effect.Effect<ReadonlyMap<number, ResourceUsage>>
  /** The direct children of this process, and which of them are zombies. */
  readonly children: Effect.Effect<ReadonlyArray<Child>>
  /** Collects a zombie child's exit status without waiting; `false` when it is not one. */
  readonly reap: (pid: number) => Effect.Effect<boolean>
  /**
   * The live processes, other than this one, whose environment carries
   * `SERVICE_MARK=journal` (`SERVICE_MARK` is `CRONMON_JOURNAL`): every
   * service and whatever descends from it (double-forked daemons included)
   * carries the journal of the daemon that started it.
   */
  readonly marked: (journal: string) => Effect.Effect<ReadonlyArray<number>>
  /**
   * Gives back to the system the memory this process holds but no longer
   * uses: a full garbage collection when Node runs with `--expose-gc`
   * (the old generation compacted, the young one shrunk), then the free
   * pages of the C heap (glibc's `malloc_trim`), which otherwise keeps the
   * peak of every burst of work. Some milliseconds of the main thread.
   */
  readonly releaseMemory: Effect.Effect<void>
}>()("cronmon/System") {}

/**
 * Why a file cannot be executed: an errno code and its explanation.
 *
 * @since 0.1.0
 */
export interface SpawnRefusal {
  readonly code: string
  readonly message: string
}

/**
 * A direct child process.
 *
 * @since 0.1.0
 */
export interface Child {
  readonly pid: number
  readonly zombie: boolean
}

/**
 * The environment variable every service is started with: the journal of
 * the daemon that started it (`CRONMON_JOURNAL`).
 *
 * @since 0.1.0
 */
export { SERVICE_MARK } from "../domain/ServiceEnvironment.ts"
