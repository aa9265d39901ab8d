/**
 * What earlier sessions left running, read from the journal's tail.
 *
 * A session that ended with `monitor quit` stopped all its processes. Any
 * other session (killed, crashed, killed while cleaning up after another)
 * may have left some behind: walking the journal backwards over every such
 * session up to the last `monitor quit`, a `process spawned` without a later
 * `process exited` for the same file and pid is a leftover.
 *
 * @since 0.1.0
 */
import { Result } from "effect"
import { decodeLine, type JournalEntry } from "./JournalEvent.ts"
import * as Running from "./Running.ts"

/**
 * A process that an earlier session spawned and never saw exit.
 *
 * @since 0.1.0
 */
export interface Leftover {
  readonly file: string
  readonly pid: number
  readonly pgid: number | undefined
  readonly startTime: string | undefined
  readonly spawnedAt: number
}

/**
 * The state earlier sessions left behind.
 *
 * @since 0.1.0
 */
export interface PreviousState {
  /** Processes to check and terminate before any service starts, oldest first. */
  readonly leftovers: ReadonlyArray<Leftover>
  /** Services stopped on request and still held down when those sessions ended, in the order they were held. */
  readonly held: ReadonlyArray<string>
  /** Services that announced their readiness in those sessions (their runs start as `starting`). */
  readonly notifying: ReadonlyArray<string>
  /** Sessions walked that did not end with `monitor quit`. */
  readonly uncleanSessions: number
  /** Lines that could not be decoded on the way (skipped). */
  readonly badLines: number
}

/**
 * Folds journal lines given newest first, stopping at the first clean
 * `monitor quit`, so that only the tail is ever read.
 *
 * @example
 * ```ts
 * const { leftovers } = previousStateOf(journalText.trim().split("\n").reverse())
 * ```
 * @since 0.1.0
 */
export const previousStateOf = (newestFirst: Iterable<string>): PreviousState => {
  const unclean: Array<JournalEntry> = []
  let uncleanSessions = 0
  let badLines = 0
  let inSession = false
  for (const line of newestFirst) {
    const decoded = decodeLine(line)
    if (Result.isFailure(decoded)) {
      badLines++
      continue
    }
    const entry = decoded.success
    if (entry.type === "monitor quit") break
    if (!inSession) uncleanSessions++
    inSession = entry.type !== "acquired lock"
    unclean.push(entry)
  }
  const running = Running.fold(unclean.reverse())
  const leftovers = running.processes.map(({ time, data }): Leftover => ({
    file: data.file,
    pid: data.pid,
    pgid: data.pgid,
    startTime: data.start_time,
    spawnedAt: time
  }))
  return { leftovers, held: running.held, notifying: running.notifying, uncleanSessions, badLines }
}
