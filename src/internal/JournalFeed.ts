/**
 * What a journal feeds as entries are appended, shared by the file and
 * memory journals: the current session's status fold (what the running
 * daemon answers `status` with) and the stream of live events.
 *
 * @since 0.1.0
 */
import { Effect, PubSub, type Scope, Stream } from "effect"
import type { JournalEntry } from "../domain/JournalEvent.ts"
import { makeSessionFold, type SessionStatus } from "../domain/Status.ts"

/**
 * The feed of one journal.
 *
 * @since 0.1.0
 */
export interface JournalFeed {
  /** Folds the entry into the session and hands it to every subscriber, in the order appended. */
  readonly publish: (entry: JournalEntry) => Effect.Effect<void>
  readonly events: Stream.Stream<JournalEntry>
  readonly sessionStatus: (now: number) => Effect.Effect<SessionStatus>
}

// A subscriber this far behind loses the oldest events, so that a stalled
// client never grows the daemon without bound nor holds up an append.
const BACKLOG = 4096

/**
 * A feed for the life of the scope; its subscribers' streams end with it.
 *
 * @since 0.1.0
 */
export const make: Effect.Effect<JournalFeed, never, Scope.Scope> = Effect.gen(function*() {
  const pubsub = yield* Effect.acquireRelease(PubSub.sliding<JournalEntry>(BACKLOG), PubSub.shutdown)
  const session = makeSessionFold()
  return {
    publish: (entry) => Effect.suspend(() => (session.step(entry), PubSub.publish(pubsub, entry))).pipe(Effect.asVoid),
    events: Stream.fromPubSub(pubsub),
    sessionStatus: (now) => Effect.sync(() => session.status(now))
  }
})
