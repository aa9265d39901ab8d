/**
 * Following a growing line file as `tail -F` does: new complete lines as
 * they are written; a truncated file is read again from its start; a file
 * moved away (a rotation, a journal moved aside) is read to its end, then
 * the new file at the path is followed from its start, so no line is lost.
 *
 * @since 0.1.0
 */
import * as fs from "node:fs"
import { errorMessage } from "../domain/Errors.ts"
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
 * (then it is followed once it appears).
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
  let fd: number | undefined
  try {
    fd = tryOpen(file)
  } catch (error) {
    throw new Error(`cannot read ${file}: ${errorMessage(error)}`)
  }
  if (fd === undefined && options.missingOk !== true) throw new Error(`cannot read ${file}: no such file`)
  const initial = fd === undefined ? undefined : { fd, end: endOfLastNewline(randomAccess(fd)) }
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

  // The files rotated after the one `held` (now one of `rotations`), oldest first, read whole.
  const missedRotations = (held: number, notices: Array<string>): Array<string> => {
    const names = options.rotations?.() ?? []
    if (names.length === 0) return []
    const { ino, dev } = fs.fstatSync(held)
    const at = names.findIndex((name) => {
      try {
        const stats = fs.statSync(name)
        return stats.ino === ino && stats.dev === dev
      } catch {
        return false
      }
    })
    if (at < 0) {
      notices.push(`${file} was rotated faster than it was read: lines may be missing`)
      return []
    }
    return readWhole(names.slice(0, at))
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
      const had = fd !== undefined
      if (fd !== undefined) {
        lines.push(...readNew(fd, notices))
        if (replaced(fd)) {
          // What was written before the move, then the files rotated since.
          lines.push(...readNew(fd, notices))
          lines.push(...missedRotations(fd, notices))
          fs.closeSync(fd)
          fd = undefined
          offset = 0
        }
      }
      if (fd === undefined) {
        // Missing until now: rotations may have happened before it was opened.
        if (!had) lines.push(...readWhole((options.rotations?.() ?? []).filter((name) => !seen.has(identity(name)))))
        fd = tryOpen(file)
        if (fd !== undefined) {
          if (had && options.quietOnReplace !== true) notices.push(`${file} was replaced: following the new file`)
          lines.push(...readNew(fd, notices))
        }
      }
      return { lines, notice: notices.length === 0 ? undefined : notices.join("; ") }
    },
    close: () => {
      if (fd !== undefined) fs.closeSync(fd)
      fd = undefined
    }
  }
}
