/**
 * Keeps services running: one supervised fiber per service name.
 *
 * @since 0.1.0
 */
import { Context, type Effect } from "effect"

/**
 * Starts, restarts and stops services by name. Every method returns once the
 * change is complete: a stopped service's process group is gone, and a
 * restarted service never overlaps its previous instance.
 *
 * @example
 * ```ts
 * const supervisor = yield* ProcessSupervisor
 * yield* supervisor.start("web")   // starts, or restarts if running
 * yield* supervisor.stop("web")    // SIGTERM, stop timeout, SIGKILL, reaped
 * ```
 * @since 0.1.0
 */
export class ProcessSupervisor extends Context.Service<ProcessSupervisor, {
  /**
   * Starts the service, first stopping its running instance if any. A start
   * made while another waits for the same service joins it.
   */
  readonly start: (name: string) => Effect.Effect<void>
  /** Stops the service for good (until the next `start`). */
  readonly stop: (name: string) => Effect.Effect<void>
  /** Stops every service in parallel. */
  readonly stopAll: Effect.Effect<void>
  /**
   * The names of the services being supervised: running, or waiting out a
   * restart delay (so more than `Metrics.running` counts).
   */
  readonly supervised: Effect.Effect<ReadonlyArray<string>>
  /** The PID of each service's main process whose exit has not been seen yet, by service name. */
  readonly pids: Effect.Effect<ReadonlyMap<string, number>>
}>()("cronmon/ProcessSupervisor") {}
