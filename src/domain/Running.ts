/**
 * What is running, folded from journal entries in the order they were
 * written: the processes spawned and not yet seen to exit, and the services
 * the scripts directory holds. The one reading of these events: previous
 * state folds the unclean sessions with it, `status` the last session, and
 * the journal what a journal begun again (or carried to a new file) holds.
 *
 * A new fact recorded in an optional field (a hold, readiness) is one more
 * field of `Running` and one more case of `step`.
 *
 * @since 0.1.0
 */
import { HashMap, HashSet } from "effect"
import type { JournalEntry } from "./JournalEvent.ts"

/**
 * A `process spawned` entry.
 *
 * @since 0.1.0
 */
export type Spawned = Extract<JournalEntry, { readonly type: "process spawned" }>

/**
 * The state the entries folded so far describe.
 *
 * @since 0.1.0
 */
export interface Running {
  /** Spawns with no later exit of the same file and pid, each with its place in spawn order. */
  readonly processes: HashMap.HashMap<string, { readonly spawned: Spawned; readonly order: number }>
  /** Services added or updated, and not removed since. */
  readonly services: HashSet.HashSet<string>
  readonly spawns: number
}

/**
 * Nothing running, no service known.
 *
 * @since 0.1.0
 */
export const empty: Running = { processes: HashMap.empty(), services: HashSet.empty(), spawns: 0 }

const key = (file: string, pid: number) => `${pid}\u0000${file}`

/**
 * The state after one more entry. A pid spawned again (reused) counts once,
 * by its latest spawn.
 *
 * @example
 * ```ts
 * const running = step(empty, { time: 0, ...Events.spawned("web", 4242) })
 * ```
 * @since 0.1.0
 */
export const step = (running: Running, entry: JournalEntry): Running => {
  switch (entry.type) {
    case "process spawned":
      return {
        ...running,
        processes: HashMap.set(running.processes, key(entry.data.file, entry.data.pid), {
          spawned: entry,
          order: running.spawns
        }),
        spawns: running.spawns + 1
      }
    case "process exited":
      return { ...running, processes: HashMap.remove(running.processes, key(entry.data.file, entry.data.pid)) }
    case "process list modified":
      return {
        ...running,
        services: entry.data.op === "remove"
          ? HashSet.remove(running.services, entry.data.file)
          : HashSet.add(running.services, entry.data.file)
      }
    default:
      return running
  }
}

/**
 * Folds entries given oldest first.
 *
 * @example
 * ```ts
 * const running = fold(entriesOldestFirst)
 * ```
 * @since 0.1.0
 */
export const fold = (entries: Iterable<JournalEntry>, from: Running = empty): Running => {
  let running = from
  for (const entry of entries) running = step(running, entry)
  return running
}

/**
 * The running processes' spawns, oldest first.
 *
 * @since 0.1.0
 */
export const processes = (running: Running): ReadonlyArray<Spawned> =>
  Array.from(HashMap.values(running.processes)).sort((a, b) => a.order - b.order).map(({ spawned }) => spawned)

/**
 * The latest running spawn of a service, if any.
 *
 * @since 0.1.0
 */
export const processOf = (running: Running, file: string): Spawned | undefined =>
  processes(running).findLast((spawned) => spawned.data.file === file)
