/**
 * What is running, folded from journal entries oldest first: the processes
 * spawned and not yet seen to exit, and the services the scripts directory
 * holds. The one reading of these events: previous state folds the unclean
 * sessions with it, `status` the last session, and the journal what a
 * journal begun again or carried to a new file must hold. A new fact kept
 * in an optional field (a hold, readiness) is one more field here and one
 * more case in `step`.
 *
 * @since 0.1.0
 */
import type { JournalEntry } from "./JournalEvent.ts"

/** A `process spawned` entry. @since 0.1.0 */
export type Spawned = Extract<JournalEntry, { readonly type: "process spawned" }>

/** What the entries folded so far say is running. @since 0.1.0 */
export interface Running {
  /** Spawns not followed by an exit of the same file and pid, oldest first (a reused pid by its latest spawn). */
  readonly processes: ReadonlyArray<Spawned>
  /** Services added or updated and not removed since, in the order they were added. */
  readonly services: ReadonlyArray<string>
  /**
   * Services stopped on request and held down: not since started on
   * request, nor removed from the scripts directory. A clean end of the
   * session (`monitor quit`) releases them all.
   */
  readonly held: ReadonlyArray<string>
  /**
   * Services that announced their readiness (`READY=1`), or whose spawn
   * said they had before: their next runs are starting until they announce
   * it again. Removing the file forgets it.
   */
  readonly notifying: ReadonlyArray<string>
}

/** Nothing running, no service known. @since 0.1.0 */
export const empty: Running = { processes: [], services: [], held: [], notifying: [] }

const without = (names: ReadonlyArray<string>, name: string) => names.filter((other) => other !== name)
const including = (names: ReadonlyArray<string>, name: string) => names.includes(name) ? names : [...names, name]

const others = (running: Running, file: string, pid: number) =>
  running.processes.filter((spawned) => spawned.data.pid !== pid || spawned.data.file !== file)

/** The state after one more entry. @since 0.1.0 */
export const step = (running: Running, entry: JournalEntry): Running => {
  switch (entry.type) {
    case "process spawned": {
      const { file, pid, notifies } = entry.data
      const notifying = notifies === true ? including(running.notifying, file) : running.notifying
      return { ...running, processes: [...others(running, file, pid), entry], notifying }
    }
    case "process exited":
      return { ...running, processes: others(running, entry.data.file, entry.data.pid) }
    case "process list modified": {
      const { op, file, request, ready } = entry.data
      if (ready !== undefined) return { ...running, notifying: including(running.notifying, file) }
      // A request changes the hold alone: the file is where it was.
      if (request === "stop") return { ...running, held: including(running.held, file) }
      if (request === "start" || request === "restart") return { ...running, held: without(running.held, file) }
      if (request === "kill") return running
      if (op === "remove") {
        return {
          ...running,
          services: without(running.services, file),
          held: without(running.held, file),
          notifying: without(running.notifying, file)
        }
      }
      return { ...running, services: including(running.services, file) }
    }
    case "monitor quit":
      return { ...running, held: [] }
    default:
      return running
  }
}

/** Folds entries given oldest first. @since 0.1.0 */
export const fold = (entries: Iterable<JournalEntry>, from: Running = empty): Running => {
  let running = from
  for (const entry of entries) running = step(running, entry)
  return running
}

/** The latest running spawn of a service, if any. @since 0.1.0 */
export const processOf = (running: Running, file: string): Spawned | undefined =>
  running.processes.findLast((spawned) => spawned.data.file === file)
