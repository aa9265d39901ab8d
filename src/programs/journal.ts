/**
 * `cronmon journal`: the journal's events in a readable form, filtered by
 * service and time, optionally followed as it grows (as `tail -F`: a
 * truncated or replaced journal is read again from its start). Never takes
 * the lock.
 *
 * @since 0.1.0
 */
import { Console, Duration, Effect, Result } from "effect"
import { NotAJournal, Unreadable } from "../domain/ReadErrors.ts"
import { decodeLine, formatHuman, type JournalEntry, parseRfc3339 } from "../domain/JournalEvent.ts"
import { notAJournal } from "../domain/JournalShape.ts"
import { linesBackward } from "../domain/LinesBackward.ts"
import { parseDurationMillis } from "../domain/Paths.ts"
import { randomAccess } from "../internal/Files.ts"
import { type Follower, follower } from "../internal/Follow.ts"

/**
 * What to print.
 *
 * @since 0.1.0
 */
export interface JournalFilter {
  /** Only the events of this service. */
  readonly service?: string | undefined
  /** Only events at or after this time (epoch milliseconds). */
  readonly since?: number | undefined
  /** The raw lines instead of readable ones. */
  readonly json?: boolean | undefined
}

/**
 * Parses `--since`: a duration back from `now` (`10m`, `2h`, `90s`) or a
 * time (RFC 3339, or anything `Date.parse` takes, such as `2026-11-23 19:00`).
 *
 * @example
 * ```ts
 * parseSince("10m", Date.UTC(2026, 10, 23, 20)) // 10 minutes before 20:00 UTC
 * ```
 * @since 0.1.0
 */
export const parseSince = (text: string, now: number): number | undefined => {
  // `Date.parse("-5")` is a day of 2001: nothing with a dash in front is a time.
  if (text.startsWith("-")) return undefined
  const duration = parseDurationMillis(text)
  if (duration !== undefined) return now - duration
  const time = parseRfc3339(text) ?? Date.parse(text)
  return Number.isFinite(time) ? time : undefined
}

const aboutService = (entry: JournalEntry, service: string): boolean =>
  "file" in entry.data && entry.data.file === service

/**
 * One journal line as printed under `filter`: `undefined` when filtered
 * out; a line that is not an event is `undefined` too, and counted by the caller.
 *
 * @since 0.1.0
 */
export const renderLine = (line: string, filter: JournalFilter): string | undefined => {
  const decoded = decodeLine(line)
  if (Result.isFailure(decoded)) {
    // Unfiltered raw output is the file as it is, whatever it holds.
    return filter.json === true && filter.service === undefined && filter.since === undefined ? line : undefined
  }
  const entry = decoded.success
  if (filter.service !== undefined && !aboutService(entry, filter.service)) return undefined
  if (filter.since !== undefined && entry.time < filter.since) return undefined
  return filter.json === true ? line : formatHuman(entry)
}

/**
 * The journal's lines (oldest first) that a filter may keep: with `since`,
 * only the tail read backwards to the first older event, not the whole file.
 *
 * @since 0.1.0
 */
export const selectLines = (file: { readonly size: number; readonly read: (p: number, n: number) => Uint8Array }, end: number, since: number | undefined): Array<string> => {
  const lines: Array<string> = []
  for (const line of linesBackward(file, end)) {
    if (since !== undefined) {
      const decoded = decodeLine(line)
      // Allow a little disorder (clock steps) before stopping.
      if (Result.isSuccess(decoded) && decoded.success.time < since - 60_000) break
    }
    lines.push(line)
  }
  return lines.reverse()
}

/**
 * Prints the journal at `journalPath` under `filter`; with `follow`, then
 * keeps printing new lines until interrupted. Fails with `Unreadable` when
 * the journal cannot be read, `NotAJournal` when the file is not one.
 *
 * @since 0.1.0
 */
export const journalCommand = (
  journalPath: string,
  filter: JournalFilter & { readonly follow?: boolean | undefined }
): Effect.Effect<void, Unreadable | NotAJournal> =>
  Effect.gen(function*() {
    let skipped = 0
    const print = (lines: ReadonlyArray<string>) =>
      Effect.suspend(() => {
        const out: Array<string> = []
        for (const line of lines) {
          const rendered = renderLine(line, filter)
          if (rendered !== undefined) out.push(rendered)
          else if (Result.isFailure(decodeLine(line))) skipped++
        }
        return out.length === 0 ? Effect.void : Console.log(out.join("\n"))
      })
    const follow: Follower = yield* Effect.try({
      try: () => follower(journalPath, { missingOk: filter.follow === true }),
      catch: (cause) => new Unreadable({ what: "the journal", path: journalPath, cause })
    })
    const first = follow.openedAt()
    if (first !== undefined) {
      const file = randomAccess(first.fd)
      const refusal = notAJournal(file)
      if (refusal !== undefined) {
        follow.close()
        return yield* new NotAJournal({ path: journalPath, reason: refusal })
      }
      yield* print(selectLines(file, first.end, filter.since))
    }
    if (filter.follow !== true) {
      follow.close()
      if (skipped > 0) yield* Console.error(`cronmon: ${skipped} line(s) of the journal are not events: skipped`)
      return
    }
    yield* Effect.forever(
      Effect.andThen(
        Effect.suspend(() => {
          const { lines, notice } = follow.poll()
          return Effect.andThen(notice === undefined ? Effect.void : Console.error(`cronmon: ${notice}`), print(lines))
        }),
        Effect.sleep(Duration.millis(250))
      )
    ).pipe(Effect.ensuring(Effect.sync(() => follow.close())))
  })
