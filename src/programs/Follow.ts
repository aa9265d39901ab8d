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
  options: { readonly missingOk?: boolean | undefined; readonly quietOnReplace?: boolean | undefined } = {}
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

  return {
    openedAt: () => initial,
    poll: () => {
      const notices: Array<string> = []
      const lines: Array<string> = []
      const had = fd !== undefined
      if (fd !== undefined) {
        lines.push(...readNew(fd, notices))
        if (replaced(fd)) {
          fs.closeSync(fd)
          fd = undefined
          offset = 0
        }
      }
      if (fd === undefined) {
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
