/**
 * A `Watcher` fed by hand, for tests: offer changes to the queue and the
 * daemon sees them.
 *
 * @since 0.1.0
 */
import { Context, Effect, Layer, Queue, Stream } from "effect"
import type { ScriptChange } from "../domain/ServiceFile.ts"
import { Watcher, type WatchError } from "../services/Watcher.ts"

/**
 * The queue behind the hand-fed watcher.
 *
 * @example
 * ```ts
 * yield* Queue.offer((yield* WatcherQueue).queue, { _tag: "Add", name: "web" })
 * ```
 * @since 0.1.0
 */
export class WatcherQueue extends Context.Service<WatcherQueue, {
  readonly queue: Queue.Queue<ScriptChange, WatchError>
}>()("cronmon/WatcherQueue") {}

/**
 * A watcher whose changes are whatever the test offers: its first scan
 * finds nothing (`Scanned` comes first).
 *
 * @since 0.1.0
 */
export const layer: Layer.Layer<Watcher | WatcherQueue> = Layer.effectContext(
  Effect.map(Queue.unbounded<ScriptChange, WatchError>(), (queue) =>
    Context.make(Watcher, Watcher.of({ changes: Stream.concat(Stream.succeed({ _tag: "Scanned" }), Stream.fromQueue(queue)) })).pipe(
      Context.add(WatcherQueue, WatcherQueue.of({ queue }))
    ))
)
