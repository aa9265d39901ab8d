/**
 * The journal: where the daemon records what it does, and where it finds what
 * earlier sessions left behind.
 *
 * @since 0.1.0
 */
import { Context, Data, type Effect, type Stream } from "effect"
import { ALREADY_RUNNING } from "../domain/AlreadyRunning.ts"
import type { JournalEntry, JournalEvent } from "../domain/JournalEvent.ts"
import type { PreviousState } from "../domain/PreviousState.ts"
import type { SessionStatus } from "../domain/Status.ts"

/**
 * Another process holds the journal's lock: a daemon is already running.
 *
 * @since 0.1.0
 */
export class JournalLocked extends Data.TaggedError("JournalLocked")<{
  readonly path: string
}> {
  override get message() {
    return `${ALREADY_RUNNING}: another process holds the lock of the journal ${this.path}`
  }
}

/**
 * The journal cannot be opened, created or locked.
 *
 * @since 0.1.0
 */
export class JournalUnavailable extends Data.TaggedError("JournalUnavailable")<{
  readonly path: string
  readonly reason: string
}> {
  override get message() {
    return `cannot open the journal ${this.path}: ${this.reason}`
  }
}

/**
 * An open, exclusively held journal.
 *
 * @example
 * ```ts
 * const journal = yield* Journal
 * yield* journal.append(Events.spawned("web", 4242))
 * ```
 * @since 0.1.0
 */
export class Journal extends Context.Service<Journal, {
  /** Identifies this journal in `acquired lock` (for example `file:/path+stderr`). */
  readonly id: string
  /**
   * Stamps the event with the Clock's time and queues it: it never waits
   * for the disk, and events are written in the order they were appended.
   * Never fails: a journal that cannot be written is reported and
   * supervision goes on.
   */
  readonly append: (event: JournalEvent) => Effect.Effect<void>
  /**
   * Completes once every event appended before it is on disk (or counted
   * lost while the journal cannot be written). Closing the journal flushes.
   */
  readonly flush: Effect.Effect<void>
  /**
   * Every event appended from now on (subscribed when the stream starts),
   * stamped, in order; ends when the journal closes. A subscriber more than
   * 4096 events behind loses the oldest.
   */
  readonly events: Stream.Stream<JournalEntry>
  /**
   * This session's services as of `now`, folded from what it appended: the
   * fold `status` applies to the journal's tail, so both agree.
   */
  readonly sessionStatus: (now: number) => Effect.Effect<SessionStatus>
  /** What earlier sessions left behind, as found when the journal was opened. */
  readonly previousState: PreviousState
  /**
   * Completes if this daemon lost the journal: it was moved or removed and
   * another instance locked the new file at its path. The daemon must stop.
   */
  readonly lost: Effect.Effect<void>
}>()("cronmon/Journal") {}
