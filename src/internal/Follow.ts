/**
 * Following a growing line file as `tail -F` does: new complete lines as
 * they are written; a truncated file is read again from its start; a file
 * moved away (a rotation, a journal moved aside) is read to its end, then
 * the new file at the path is followed from its start, so no line is lost.
 *
 * @since 0.1.0
 */
import * as fs from "node:fs"
import { errorCode } from "../domain/Errors.ts"
import { endOfLastNewline } from "../domain/LinesBackward.ts"
import { openRegularFile, randomAccess } from "./Files.ts"

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

// One by one: `push(...many)` passes each line as an argument, and a poll
// after a burst of output (a rotated file of 150,000 short lines) overflowed
// the stack.
const append = (lines: Array<string>, more: ReadonlyArray<string>): void => {
  for (const line of more) lines.push(line)
}

/** A rotated file, opened: its name when listed and its identity (`dev:ino`). */
interface Opened {
  readonly name: string
  readonly fd: number
  readonly id: string
}

// Opens each file (newest first); one gone meanwhile is left out.
const openAll = (names: ReadonlyArray<string>): Array<Opened> => {
  const opened: Array<Opened> = []
  for (const name of names) {
    const fd = tryOpen(name)
    if (fd === undefined) continue
    const stats = fs.fstatSync(fd)
    opened.push({ name, fd, id: `${stats.dev}:${stats.ino}` })
  }
  return opened
}

const closeAll = (opened: ReadonlyArray<Opened>): void => {
  for (const { fd } of opened) fs.closeSync(fd)
}

const tryOpen = (file: string): number | undefined => {
  try {
    return openRegularFile(file)
  } catch (error) {
    if (errorCode(error) === "ENOENT") return undefined
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
  let fd: number | undefined = options.missingOk === true ? tryOpen(file) : openRegularFile(file)
  let initial: { readonly fd: number; readonly end: number } | undefined
  try {
    initial = fd === undefined ? undefined : { fd, end: endOfLastNewline(randomAccess(fd)) }
  } catch (error) {
    if (fd !== undefined) fs.closeSync(fd)
    throw error
  }
  let offset = initial?.end ?? 0
  const idOf = (descriptor: number): string => {
    const stats = fs.fstatSync(descriptor)
    return `${stats.dev}:${stats.ino}`
  }

  // The rotated files, newest first, opened. A rotation renames every file
  // while this lists and opens them, so a listing is used only when the next
  // one finds the same files under the same names: then no rotation fell
  // inside it, and its files are read through their descriptors, whatever
  // their names have become since. (Read by name, a file rotated between
  // the listing and the read was skipped and the next one read twice.)
  const openRotations = (): Array<Opened> => {
    let previous: Array<Opened> | undefined
    for (let attempt = 0; attempt < 20; attempt++) {
      const current = openAll(options.rotations?.() ?? [])
      const stable = previous !== undefined && previous.length === current.length &&
        previous.every((opened, i) => opened.name === current[i]?.name && opened.id === current[i]?.id)
      if (previous !== undefined) closeAll(previous)
      if (stable) return current
      previous = current
    }
    return previous ?? []
  }

  // Rotated files there at the start: never printed again.
  const atStart = openRotations()
  const seen = new Set(atStart.map((opened) => opened.id))
  closeAll(atStart)
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

  // The files rotated after `held` (undefined: none held yet, so every one
  // not seen) and before `next` (the file now at the path, opened before
  // this listing, so that a rotation in between shows as one more file here,
  // not a file skipped), read whole, oldest first. By identity: names shift
  // with every rotation.
  const missedRotations = (
    held: number | undefined,
    next: number | undefined,
    notices: Array<string>
  ): Array<string> => {
    const rotated = openRotations()
    try {
      const heldId = held === undefined ? undefined : idOf(held)
      const nextId = next === undefined ? undefined : idOf(next)
      const at = heldId === undefined ? -1 : rotated.findIndex((opened) => opened.id === heldId)
      const nextAt = nextId === undefined ? -1 : rotated.findIndex((opened) => opened.id === nextId)
      if (held !== undefined && at < 0 && rotated.length > 0) {
        notices.push(`${file} was rotated faster than it was read: lines may be missing`)
      }
      return readWhole(rotated.slice(nextAt + 1, at < 0 ? undefined : at))
    } finally {
      closeAll(rotated)
    }
  }

  // Files given newest first, read whole, oldest first; each read once.
  const readWhole = (files: ReadonlyArray<Opened>): Array<string> => {
    const lines: Array<string> = []
    for (const opened of [...files].reverse()) {
      if (seen.has(opened.id)) continue
      seen.add(opened.id)
      append(lines, fs.readFileSync(opened.fd, "utf8").split("\n").filter((line) => line !== ""))
    }
    return lines
  }

  return {
    openedAt: () => initial,
    poll: () => {
      const notices: Array<string> = []
      const lines: Array<string> = []
      if (fd !== undefined) {
        append(lines, readNew(fd, notices))
        if (replaced(fd)) {
          // What was written before the move, then the files rotated since.
          append(lines, readNew(fd, notices))
          const next = tryOpen(file)
          append(lines, missedRotations(fd, next, notices))
          fs.closeSync(fd)
          fd = next
          offset = 0
          if (fd !== undefined) {
            if (options.quietOnReplace !== true) notices.push(`${file} was replaced: following the new file`)
            append(lines, readNew(fd, notices))
          }
          return { lines, notice: notices.length === 0 ? undefined : notices.join("; ") }
        }
      }
      if (fd === undefined) {
        fd = tryOpen(file)
        // Missing until now: rotations may have happened before it was
        // opened (listed after opening it, so none falls in between).
        append(lines, missedRotations(undefined, fd, notices))
        if (fd !== undefined) append(lines, readNew(fd, notices))
      }
      return { lines, notice: notices.length === 0 ? undefined : notices.join("; ") }
    },
    close: () => {
      if (fd !== undefined) fs.closeSync(fd)
      fd = undefined
    }
  }
}
