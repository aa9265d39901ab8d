/**
 * Following a growing line file as `tail -F` does: new complete lines as
 * they are written; a truncated file is read again from its start; a file
 * moved away (a rotation, a journal moved aside) is read to its end, then
 * the new file at the path is followed from its start, so no line is lost.
 *
 * @since 0.1.0
 */
import * as fs from "node:fs"
import { endOfLastNewline } from "../domain/LinesBackward.ts"
import { randomAccess } from "../layers/JournalFile.ts"

/**
 * A followed file.
 *
 * @since 0.1.0
 */
export interface Follower {
  /** The file as first opened: its descriptor and the end of its last complete line (where following starts). */
  readonly openedAt: () => { readonly fd: number; readonly end: number } | undefined
  /** The complete lines written since the last poll, and a notice about the file (truncated, replaced). */
  readonly poll: () => { readonly lines: ReadonlyArray<string>; readonly notice?: string | undefined }
  readonly close: () => void
}

const isMissing = (error: unknown) => error instanceof Error && "code" in error && error.code === "ENOENT"

const tryOpen = (file: string): number | undefined => {
  try {
    return fs.openSync(file, "r")
  } catch (error) {
    if (isMissing(error)) return undefined
    throw error
  }
}

/**
 * Opens `file` to follow it. A missing file is an error unless `missingOk`
 * (then it is followed once it appears). Throws Node's error when `file`
 * cannot be read (a directory: EISDIR), for the caller to name the file.
 *
 * @since 0.1.0
 */
export const follower = (
  file: string,
  options: {
    readonly missingOk?: boolean | undefined
    readonly quietOnReplace?: boolean | undefined
    /** Where a moved file goes, newest first (`NAME.log.1`, `.2`, …): read when skipped over. */
    readonly rotations?: (() => ReadonlyArray<string>) | undefined
  } = {}
): Follower => {
  // Node's errors as they are (with their code): the caller says what the file is.
  let fd: number | undefined = options.missingOk === true ? tryOpen(file) : fs.openSync(file, "r")
  let initial: { readonly fd: number; readonly end: number } | undefined
  try {
    initial = fd === undefined ? undefined : { fd, end: endOfLastNewline(randomAccess(fd)) }
  } catch (error) {
    if (fd !== undefined) fs.closeSync(fd)
    throw error
  }
  let offset = initial?.end ?? 0
  const identity = (name: string): string | undefined => {
    try {
      const stats = fs.statSync(name)
      return `${stats.dev}:${stats.ino}`
    } catch {
      return undefined
    }
  }
  // Rotated files there at the start: never printed again.
  const seen = new Set((options.rotations?.() ?? []).map(identity))
  const decoder = new TextDecoder()

  // The complete lines from `offset` to the end of what `fd` holds now.
  const readNew = (current: number, notices: Array<string>): Array<string> => {
    const size = fs.fstatSync(current).size
    if (size < offset) {
      notices.push(`${file} was truncated: reading it from its start`)
      offset = 0
    }
    if (size === offset) return []
    const bytes = Buffer.allocUnsafe(size - offset)
    const n = fs.readSync(current, bytes, 0, bytes.length, offset)
    const complete = bytes.subarray(0, n).lastIndexOf(0x0a) + 1
    if (complete === 0) return []
    offset += complete
    return decoder.decode(bytes.subarray(0, complete - 1)).split("\n").filter((line) => line !== "")
  }

  const replaced = (current: number): boolean => {
    try {
      const now = fs.statSync(file)
      const held = fs.fstatSync(current)
      return now.ino !== held.ino || now.dev !== held.dev
    } catch {
      return true
    }
  }

  const sameFile = (name: string, stats: fs.Stats): boolean => {
    try {
      const other = fs.statSync(name)
      return other.ino === stats.ino && other.dev === stats.dev
    } catch {
      return false
    }
  }

  // The files rotated after `held` and before `next` (the file now at the
  // path, opened before this listing so that a rotation in between shows as
  // one more name here, not a file skipped), read whole, oldest first.
  // Listed by identity: names shift with every rotation.
  const missedRotations = (held: number, next: number | undefined, notices: Array<string>): Array<string> => {
    const names = options.rotations?.() ?? []
    if (names.length === 0) return []
    const heldStats = fs.fstatSync(held)
    const at = names.findIndex((name) => sameFile(name, heldStats))
    const nextStats = next === undefined ? undefined : fs.fstatSync(next)
    const nextAt = nextStats === undefined ? -1 : names.findIndex((name) => sameFile(name, nextStats))
    if (at < 0) {
      notices.push(`${file} was rotated faster than it was read: lines may be missing`)
      return readWhole(names.slice(nextAt + 1))
    }
    return readWhole(names.slice(nextAt + 1, at))
  }

  // Files given newest first, read whole, oldest first; each read once.
  const readWhole = (names: ReadonlyArray<string>): Array<string> =>
    [...names].reverse().flatMap((name) => {
      const id = identity(name)
      if (seen.has(id)) return []
      seen.add(id)
      try {
        return fs.readFileSync(name, "utf8").split("\n").filter((line) => line !== "")
      } catch {
        return []
      }
    })

  return {
    openedAt: () => initial,
    poll: () => {
      const notices: Array<string> = []
      const lines: Array<string> = []
      if (fd !== undefined) {
        lines.push(...readNew(fd, notices))
        if (replaced(fd)) {
          // What was written before the move, then the files rotated since.
          lines.push(...readNew(fd, notices))
          const next = tryOpen(file)
          lines.push(...missedRotations(fd, next, notices))
          fs.closeSync(fd)
          fd = next
          offset = 0
          if (fd !== undefined) {
            if (options.quietOnReplace !== true) notices.push(`${file} was replaced: following the new file`)
            lines.push(...readNew(fd, notices))
          }
          return { lines, notice: notices.length === 0 ? undefined : notices.join("; ") }
        }
      }
      if (fd === undefined) {
        fd = tryOpen(file)
        // Missing until now: rotations may have happened before it was
        // opened (listed after opening it, so none falls in between).
        const opened = fd === undefined ? undefined : fs.fstatSync(fd)
        const names = options.rotations?.() ?? []
        const nextAt = opened === undefined ? -1 : names.findIndex((name) => sameFile(name, opened))
        lines.push(...readWhole(names.slice(nextAt + 1)))
        if (fd !== undefined) lines.push(...readNew(fd, notices))
      }
      return { lines, notice: notices.length === 0 ? undefined : notices.join("; ") }
    },
    close: () => {
      if (fd !== undefined) fs.closeSync(fd)
      fd = undefined
    }
  }
}
