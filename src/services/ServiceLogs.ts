/**
 * Where the output of services goes.
 *
 * @since 0.1.0
 */
import { Context, Data, type Effect, type Stream } from "effect"

/**
 * The logs directory is not one and cannot be made one, or cannot be
 * written: every service's output would be lost, so the daemon does not start.
 *
 * @since 0.1.0
 */
export class LogsUnavailable extends Data.TaggedError("LogsUnavailable")<{
  readonly path: string
  readonly reason: string
}> {
  override get message() {
    return this.reason
  }
}

/**
 * Writes what services print.
 *
 * @since 0.1.0
 */
export class ServiceLogs extends Context.Service<ServiceLogs, {
  /**
   * Appends a service's output to its log until the stream ends, taking
   * the next chunks only once the last are written: a producer that reads
   * no further ahead than it is pulled makes a service faster than the
   * disk wait. Never fails: output is dropped, with a warning, only when
   * the disk fails or stalls. Chunks from `OutputBlocks` are given back
   * (`release`) once written or dropped.
   */
  readonly write: (name: string, output: Stream.Stream<Uint8Array, unknown>) => Effect.Effect<void>
}>()("cronmon/ServiceLogs") {}
