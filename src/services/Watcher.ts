/**
 * The scripts directory as a stream of changes to the set of services.
 *
 * @since 0.1.0
 */
import { Context, Data, type Stream } from "effect"
import type { WatcherEvent } from "../domain/ServiceFile.ts"

/**
 * The scripts directory cannot be read or watched.
 *
 * @since 0.1.0
 */
export class WatchError extends Data.TaggedError("WatchError")<{
  readonly path: string
  readonly reason: string
}> {
  override get message() {
    return `cannot watch ${this.path}: ${this.reason}`
  }
}

/**
 * Watches the scripts directory.
 *
 * @example
 * ```ts
 * yield* Stream.runForEach((yield* Watcher).changes, (change) => Effect.log(change))
 * ```
 * @since 0.1.0
 */
export class Watcher extends Context.Service<Watcher, {
  /**
   * First an `Add` for every service present when watching starts and
   * `Scanned`, then one change per real difference: `Add` when a name
   * becomes a service (created, moved in, made executable), `Update` when
   * its file changes, `Remove` when it stops being one (removed, moved
   * away, execute bit cleared).
   */
  readonly changes: Stream.Stream<WatcherEvent, WatchError>
}>()("cronmon/Watcher") {}
