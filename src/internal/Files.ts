/**
 * Opening the files cronmon only reads (journals, logs) without ever
 * hanging: a FIFO or a device at a journal's path would block `open(2)` or
 * the reads after it.
 *
 * @since 0.1.0
 */
import * as fs from "node:fs"
import type { RandomAccess } from "../domain/LinesBackward.ts"

const wrongType = (file: string, stats: fs.Stats): NodeJS.ErrnoException =>
  Object.assign(new Error(`${file} is ${stats.isDirectory() ? "a directory" : "not a regular file"}`), {
    // EISDIR as read(2) would say it; EFTYPE (BSD's "inappropriate file type") for the rest.
    code: stats.isDirectory() ? "EISDIR" : "EFTYPE"
  })

/**
 * Opens a regular file for reading, or throws: the errors of `open(2)`, or
 * one with code `EISDIR` or `EFTYPE` for anything but a regular file.
 *
 * @example
 * ```ts
 * const fd = openRegularFile("/home/me/.config/cronmon/journal.json")
 * ```
 * @since 0.1.0
 */
export const openRegularFile = (file: string): number => {
  // Non-blocking, so that opening a FIFO returns at once; fstat then refuses it.
  const fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK)
  try {
    const stats = fs.fstatSync(fd)
    if (!stats.isFile()) throw wrongType(file, stats)
    return fd
  } catch (error) {
    fs.closeSync(fd)
    throw error
  }
}

/**
 * Positioned reads on an open descriptor.
 *
 * @example
 * ```ts
 * const lastLine = linesBackward(randomAccess(fd)).next().value
 * ```
 * @since 0.1.0
 */
export const randomAccess = (fd: number): RandomAccess => ({
  size: fs.fstatSync(fd).size,
  read: (position, length) => {
    const buffer = Buffer.allocUnsafe(length)
    const n = fs.readSync(fd, buffer, 0, length, position)
    return buffer.subarray(0, n)
  }
})
