/**
 * Where cronmon speaks to a human: each journal event in a readable form
 * (the daemon's stderr), and the journal's own complaints ("cannot write
 * the journal …"). A reference: unless a layer provides it, events are not
 * shown and complaints go to stderr through Effect's `Console`.
 *
 * @since 0.1.0
 */
import { Console, Context, Effect } from "effect"
import type { JournalEntry } from "../domain/JournalEvent.ts"

/**
 * The human log.
 *
 * @example
 * ```ts
 * yield* (yield* HumanLog).notice("the journal is writable again")
 * ```
 * @since 0.1.0
 */
export const HumanLog = Context.Reference<{
  /** Whether `event` shows events (the journal's id then ends in `+stderr`). */
  readonly echoes: boolean
  /** Shows one journal event. */
  readonly event: (entry: JournalEntry) => Effect.Effect<void>
  /** Says one line about the journal itself, after `cronmon: `. */
  readonly notice: (message: string) => Effect.Effect<void>
}>("cronmon/HumanLog", {
  defaultValue: () => ({ echoes: false, event: () => Effect.void, notice: (message) => Console.error(`cronmon: ${message}`) })
})
