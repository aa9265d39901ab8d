/**
 * An in-memory journal for tests: entries stamped by the Effect `Clock`
 * (so `TestClock` makes them exact) and readable back.
 *
 * @since 0.1.0
 */
import { Clock, Context, Effect, Layer, Ref } from "effect"
import { Events, type JournalEntry } from "../domain/JournalEvent.ts"
import type { PreviousState } from "../domain/PreviousState.ts"
import { HumanLog } from "../services/HumanLog.ts"
import { Journal } from "../services/Journal.ts"
import * as JournalFeed from "../internal/JournalFeed.ts"

/**
 * Reads back what was appended to the in-memory journal.
 *
 * @since 0.1.0
 */
export class JournalMemory extends Context.Service<JournalMemory, {
  readonly entries: Effect.Effect<ReadonlyArray<JournalEntry>>
}>()("cronmon/JournalMemory") {}

const nothingLeft: PreviousState = { leftovers: [], held: [], notifying: [], uncleanSessions: 0, badLines: 0 }

/**
 * A journal held in memory; like the file journal it starts with
 * `acquired lock`, and shows each event on the `HumanLog` in context.
 *
 * @example
 * ```ts
 * const entries = yield* (yield* JournalMemory).entries
 * ```
 * @since 0.1.0
 */
export const layer = (previousState: PreviousState = nothingLeft): Layer.Layer<Journal | JournalMemory> =>
  Layer.effectContext(Effect.gen(function*() {
    const ref = yield* Ref.make<ReadonlyArray<JournalEntry>>([])
    const human = yield* HumanLog
    const feed = yield* JournalFeed.make
    const id = "memory"
    const journal = Journal.of({
      id,
      previousState,
      lost: Effect.never,
      flush: Effect.void,
      events: feed.events,
      sessionStatus: feed.sessionStatus,
      append: (event) =>
        Effect.flatMap(Clock.currentTimeMillis, (time) => {
          const entry: JournalEntry = { time, ...event }
          return Ref.update(ref, (entries) => [...entries, entry]).pipe(
            Effect.andThen(human.event(entry)),
            Effect.andThen(feed.publish(entry))
          )
        })
    })
    yield* journal.append(Events.acquiredLock(id))
    return Context.make(Journal, journal).pipe(Context.add(JournalMemory, JournalMemory.of({ entries: Ref.get(ref) })))
  }))
