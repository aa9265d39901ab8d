/**
 * Where the output of services goes.
 *
 * @since 0.1.0
 */
import { Context, type Effect, type Stream } from "effect"

/**
 * Writes what services print.
 *
 * @since 0.1.0
 */
export class ServiceLogs extends Context.Service<ServiceLogs, {
  /**
   * Appends a service's output to its log until the stream ends. Never
   * fails: output that cannot be written is dropped with a warning.
   */
  readonly write: (name: string, output: Stream.Stream<Uint8Array, unknown>) => Effect.Effect<void>
}>()("cronmon/ServiceLogs") {}
