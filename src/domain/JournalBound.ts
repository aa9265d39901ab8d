/**
 * Which of the journal's oldest sessions to drop to keep it under its size
 * bound.
 *
 * A session begins with `acquired lock`. Only whole sessions are dropped,
 * and never one that previous state needs: everything after the last clean
 * `monitor quit` is kept (the sessions that may have left processes
 * running), and so is the current session.
 *
 * @since 0.1.0
 */
import { lineType } from "./JournalShape.ts"

/**
 * How much of the journal's start to drop.
 *
 * @since 0.1.0
 */
export interface Cut {
  /** Bytes dropped from the start: the offset of the first kept session. */
  readonly bytes: number
  /** Sessions dropped. */
  readonly sessions: number
}

const NEWLINE = 0x0a

/**
 * The cut that brings `content` (the journal's bytes) to at most `maxBytes`
 * by dropping its oldest whole sessions, or the largest allowed cut if none
 * does, or `undefined` when it is within the bound or nothing may be
 * dropped. Nothing from `keepFrom` on (the current session's first byte) is
 * ever dropped.
 *
 * @example
 * ```ts
 * const cut = cutToBound(fs.readFileSync(journal), 16 * 1024 * 1024, sessionStart)
 * ```
 * @since 0.1.0
 */
export const cutToBound = (content: Uint8Array, maxBytes: number, keepFrom: number = content.length): Cut | undefined => {
  if (content.length <= maxBytes) return undefined
  const decoder = new TextDecoder()
  // Offsets where sessions begin, and where the last clean quit ends.
  const sessionStarts: Array<number> = []
  let afterLastQuit = 0
  for (let start = 0; start < keepFrom;) {
    const newline = content.indexOf(NEWLINE, start)
    const end = newline < 0 || newline >= keepFrom ? keepFrom : newline + 1
    const type = lineType(decoder.decode(content.subarray(start, end)))
    if (type === "acquired lock") sessionStarts.push(start)
    else if (type === "monitor quit") afterLastQuit = end
    start = end
  }
  // A cut lands on a session's first line, at or before the first line
  // previous state reads.
  const cuts = sessionStarts.filter((start) => start > 0 && start <= afterLastQuit)
  const bytes = cuts.find((start) => content.length - start <= maxBytes) ?? cuts.at(-1)
  if (bytes === undefined) return undefined
  // Lines before the first `acquired lock` (a journal that did not begin
  // with one) count as a session of their own.
  const sessions = sessionStarts.filter((start) => start < bytes).length + ((sessionStarts[0] ?? 0) > 0 ? 1 : 0)
  return { bytes, sessions }
}
