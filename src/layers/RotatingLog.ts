/**
 * One service's log file, written in batches and rotated by size at line
 * boundaries, never slowing down the service that fills it.
 *
 * Output is taken as it arrives (`push` never waits) and written by one
 * asynchronous loop: everything that arrived during a write goes out in the
 * next one, so a fast writer costs one `write(2)` per batch, not per chunk
 * or line. When the disk is full or slower than the service, output is
 * dropped (past `maxPendingBytes` waiting) with a warning, at most one a
 * minute, rather than letting the pipe fill and the service block.
 *
 * Rotation: `NAME.log` becomes `NAME.log.1`, `.1` becomes `.2`, … up to
 * `keep` (0: the log is simply started again). No file grows past
 * `maxBytes`: rotation happens at the last line end that fits; a line is
 * split across two files only when it cannot fit whole (longer than
 * `maxBytes`, or its start already written, a prompt), and then where the
 * file is full. To know where lines end, the start of a line waits for its
 * end, up to 100 ms (then it is written: a prompt).
 *
 * Timestamps mark where the service started a line: a line split by
 * rotation (or written in parts, a prompt) has one, before its first part;
 * its continuation carries none. When a run of the service ends in the
 * middle of a line, the line is ended (`endLine`), so that the next run's
 * first line gets its own timestamp.
 *
 * @since 0.1.0
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { promisify } from "node:util"
import { errorMessage } from "../domain/Errors.ts"
import { ensureDirectory } from "./Directories.ts"
import { release } from "./OutputBlocks.ts"

const NEWLINE = 0x0a
const WARN_EVERY_MILLIS = 60_000
// How long a writer waits for room before output is dropped instead.
const ROOM_PATIENCE_MILLIS = 5_000
// How long the start of a line waits for its end before it is written anyway.
const PARTIAL_LINE_MILLIS = 100
const write = promisify(fs.write)
const writev = promisify(fs.writev)

// Chunks up to and including their last newline, and the rest.
const wholeLines = (
  chunks: ReadonlyArray<Uint8Array>
): { readonly whole: Array<Uint8Array>; readonly rest: Array<Uint8Array> } => {
  for (let i = chunks.length - 1; i >= 0; i--) {
    const chunk = chunks[i]
    if (chunk === undefined) continue
    const newline = chunk.lastIndexOf(NEWLINE)
    if (newline < 0) continue
    const tail = [chunk.subarray(newline + 1), ...chunks.slice(i + 1)].filter((part) => part.length > 0)
    return { whole: [...chunks.slice(0, i), chunk.subarray(0, newline + 1)], rest: tail }
  }
  return { whole: [], rest: [...chunks] }
}

// The offset of the last newline among the first `limit` bytes of `chunks`, or -1.
const lastNewlineBefore = (chunks: ReadonlyArray<Uint8Array>, limit: number): number => {
  let offset = 0
  let found = -1
  for (const chunk of chunks) {
    if (offset >= limit) break
    const within = Math.min(chunk.length, limit - offset)
    const at = chunk.subarray(0, within).lastIndexOf(NEWLINE)
    if (at >= 0) found = offset + at
    offset += chunk.length
  }
  return found
}

// The first `bytes` of `chunks`.
const head = (chunks: ReadonlyArray<Uint8Array>, bytes: number): Array<Uint8Array> => {
  const taken: Array<Uint8Array> = []
  let left = bytes
  for (const chunk of chunks) {
    if (left <= 0) break
    taken.push(left >= chunk.length ? chunk : chunk.subarray(0, left))
    left -= chunk.length
  }
  return taken
}

// What is left of `chunks` once their first `bytes` are written.
const skip = (chunks: ReadonlyArray<Uint8Array>, bytes: number): ReadonlyArray<Uint8Array> => {
  let left = bytes
  let i = 0
  while (i < chunks.length && left >= (chunks[i]?.length ?? 0)) left -= chunks[i++]?.length ?? 0
  const partial = chunks[i]
  if (partial === undefined) return []
  return [partial.subarray(left), ...chunks.slice(i + 1)]
}

/**
 * How a log is written.
 *
 * @since 0.1.0
 */
export interface RotatingLogOptions {
  /** Absolute path of `NAME.log`. */
  readonly file: string
  /** Rotate before the file would grow past this. */
  readonly maxBytes: number
  /** Rotated files kept. */
  readonly keep: number
  /** Prefix each line with the time it was read (RFC 3339, then a space). */
  readonly timestamps: boolean
  /** Output waiting to be written beyond this is dropped (default 64 MiB). */
  readonly maxPendingBytes?: number | undefined
  /** Epoch milliseconds (for timestamps and the warnings' rate). */
  readonly now: () => number
  /** Says that output was dropped, or a file could not be rotated. */
  readonly warn: (message: string) => void
}

/**
 * The rotated names of a log, newest first: `NAME.log.1` … `NAME.log.keep`.
 *
 * @since 0.1.0
 */
export const rotatedNames = (file: string, keep: number): ReadonlyArray<string> =>
  Array.from({ length: keep }, (_, i) => `${file}.${i + 1}`)

/**
 * A log being written.
 *
 * @example
 * ```ts
 * const log = new RotatingLog({ file: "/logs/web.log", maxBytes: 10 << 20, keep: 5, timestamps: false, now: Date.now, warn: console.error })
 * log.push(Buffer.from("hello\n"))
 * await log.close()
 * ```
 * @since 0.1.0
 */
export class RotatingLog {
  private readonly options: RotatingLogOptions
  private readonly maxPending: number
  private fd: number | undefined
  private size = 0
  private endsWithNewline = true
  // Input side: whether the next byte read starts a line (for timestamps).
  private atLineStart = true
  private pending: Array<Uint8Array> = []
  // Waiting and being written.
  private queuedBytes = 0
  private writing: Promise<void> | undefined
  // The start of a line whose end has not come yet.
  private carry: Array<Uint8Array> = []
  private flushCarry = false
  private idleTimer: NodeJS.Timeout | undefined
  private dropped = 0
  // Readers waiting for the queue to have room again.
  private roomWaiters: Array<() => void> = []
  private lastWarning = Number.NEGATIVE_INFINITY
  private failing = false

  constructor(options: RotatingLogOptions) {
    this.options = options
    this.maxPending = options.maxPendingBytes ?? 64 * 1024 * 1024
  }

  /** Takes a chunk of output; never waits. */
  push(chunk: Uint8Array): void {
    if (chunk.length === 0) return
    let data = chunk
    if (this.options.timestamps) {
      data = this.stamp(chunk)
      release(chunk)
    }
    if (this.queuedBytes + data.length > this.maxPending) {
      release(data)
      this.drop(data.length, "the disk is slower than the service")
      return
    }
    this.pending.push(data)
    this.queuedBytes += data.length
    this.writing ??= this.drain().finally(() => {
      this.writing = undefined
    })
  }

  /**
   * One writer's output ended (a run of the service exited and its pipe
   * closed): with timestamps, a line it left open is ended, so that the
   * next run's first line starts a line of its own, with its timestamp.
   */
  endLine(): void {
    if (this.options.timestamps && !this.atLineStart) this.push(Buffer.from("\n"))
  }

  /**
   * Whether the writer should wait before pushing more: half the pending
   * bound is queued. Pushing on is never refused; past the whole bound,
   * output is dropped.
   */
  get behind(): boolean {
    return this.queuedBytes >= this.maxPending / 2
  }

  /**
   * Resolves when the queue is no longer `behind`, or after `patienceMillis`
   * (a disk that stalls must not stop the service for good: output is then
   * dropped instead, with a warning).
   */
  room(patienceMillis = ROOM_PATIENCE_MILLIS): Promise<void> {
    if (!this.behind) return Promise.resolve()
    return new Promise((resolve) => {
      const timer = setTimeout(done, patienceMillis)
      timer.unref()
      function done() {
        clearTimeout(timer)
        resolve()
      }
      this.roomWaiters.push(done)
    })
  }

  /** Resolves once everything pushed so far is written (or dropped). */
  async flushed(): Promise<void> {
    while (this.writing !== undefined) await this.writing
  }

  /** Writes what is pending, then closes the file. */
  async close(): Promise<void> {
    await this.flushed()
    clearTimeout(this.idleTimer)
    this.flushPartial()
    await this.flushed()
    if (this.fd !== undefined) fs.closeSync(this.fd)
    this.fd = undefined
  }

  private stamp(chunk: Uint8Array): Uint8Array {
    const prefix = Buffer.from(`${new Date(this.options.now()).toISOString()} `)
    const parts: Array<Uint8Array> = []
    let start = 0
    while (start < chunk.length) {
      if (this.atLineStart) parts.push(prefix)
      const newline = chunk.indexOf(NEWLINE, start)
      const end = newline < 0 ? chunk.length : newline + 1
      parts.push(chunk.subarray(start, end))
      this.atLineStart = newline >= 0
      start = end
    }
    return Buffer.concat(parts)
  }

  private drop(bytes: number, why: string): void {
    this.dropped += bytes
    const now = this.options.now()
    // One warning when an outage starts, then at most one a minute.
    if (!this.failing || now - this.lastWarning >= WARN_EVERY_MILLIS) {
      this.options.warn(`${this.options.file}: output dropped (${this.dropped} bytes so far): ${why}`)
      this.lastWarning = now
    }
    this.failing = true
  }

  private async drain(): Promise<void> {
    while (this.pending.length > 0 || (this.flushCarry && this.carry.length > 0)) {
      const queued = this.pending
      const bytes = queued.reduce((n, chunk) => n + chunk.length, 0)
      this.pending = []
      // Whole lines are written; the start of a line waits for its end (so
      // that rotation sees whole lines), unless it is flushed (idle, closing)
      // or longer than a log.
      const split = wholeLines([...this.carry, ...queued])
      const restBytes = split.rest.reduce((n, chunk) => n + chunk.length, 0)
      const all = this.flushCarry || restBytes > this.options.maxBytes
      const chunks = all ? [...split.whole, ...split.rest] : split.whole
      // What waits is copied out of the pooled chunks, which go back below.
      this.carry = all || restBytes === 0 ? [] : [Buffer.concat(split.rest)]
      this.flushCarry = false
      const size = chunks.reduce((n, chunk) => n + chunk.length, 0)
      try {
        if (size > 0) {
          const fd = this.open()
          // The usual case, no rotation due: one writev(2), nothing copied.
          if (this.size + size <= this.options.maxBytes) await this.writeAll(fd, chunks)
          else await this.writeRotating(chunks)
        }
        this.failing = false
      } catch (error) {
        this.drop(size, errorMessage(error))
      }
      for (const chunk of queued) release(chunk)
      this.queuedBytes -= bytes
      if (!this.behind && this.roomWaiters.length > 0) {
        const waiters = this.roomWaiters
        this.roomWaiters = []
        for (const wake of waiters) wake()
      }
    }
    if (this.carry.length > 0) {
      clearTimeout(this.idleTimer)
      this.idleTimer = setTimeout(() => this.flushPartial(), PARTIAL_LINE_MILLIS)
      this.idleTimer.unref()
    }
  }

  // Writes the start of a line that has waited long enough (a prompt).
  private flushPartial(): void {
    if (this.carry.length === 0) return
    this.flushCarry = true
    this.writing ??= this.drain().finally(() => {
      this.writing = undefined
    })
  }


  private open(): number {
    if (this.fd !== undefined) return this.fd
    ensureDirectory(path.dirname(this.options.file), 0o750)
    const fd = fs.openSync(this.options.file, "a+", 0o600)
    this.fd = fd
    this.size = fs.fstatSync(fd).size
    this.endsWithNewline = true
    if (this.size > 0) {
      const last = Buffer.alloc(1)
      fs.readSync(fd, last, 0, 1, this.size - 1)
      this.endsWithNewline = last[0] === NEWLINE
    }
    return fd
  }

  // Writes `chunks` across as many files as it takes, none past maxBytes:
  // each file ends at the last line end that fits; a line that does not fit
  // in a file of its own, or whose start is already in the file, is split
  // where the file is full.
  private async writeRotating(chunks: ReadonlyArray<Uint8Array>): Promise<void> {
    const { maxBytes } = this.options
    let rest: ReadonlyArray<Uint8Array> = chunks.filter((chunk) => chunk.length > 0)
    while (rest.length > 0) {
      const fd = this.open()
      const room = maxBytes - this.size
      const total = rest.reduce((n, chunk) => n + chunk.length, 0)
      if (total <= room) {
        await this.writeAll(fd, rest)
        return
      }
      const cut = room > 0 ? lastNewlineBefore(rest, room) : -1
      if (cut < 0 && this.size > 0 && this.endsWithNewline) {
        this.rotate()
        continue
      }
      // Up to the last line end that fits, else as much as fits.
      const take = cut >= 0 ? cut + 1 : room
      if (take > 0) await this.writeAll(fd, take === total ? rest : head(rest, take))
      rest = skip(rest, take)
      this.rotate()
    }
  }

  private async writeAll(fd: number, chunks: ReadonlyArray<Uint8Array>): Promise<void> {
    const last = chunks[chunks.length - 1]
    if (last !== undefined && last.length > 0) this.endsWithNewline = last[last.length - 1] === NEWLINE
    let rest = chunks
    while (rest.length > 0) {
      const [only] = rest
      const written = rest.length === 1 && only !== undefined
        ? (await write(fd, only, 0, only.length)).bytesWritten
        : (await writev(fd, rest)).bytesWritten
      this.size += written
      rest = skip(rest, written)
    }
  }

  private rotate(): void {
    const { file, keep } = this.options
    if (this.fd !== undefined) fs.closeSync(this.fd)
    this.fd = undefined
    try {
      const names = [file, ...rotatedNames(file, keep)]
      if (keep === 0) fs.rmSync(file, { force: true })
      for (let i = names.length - 1; i > 0; i--) {
        const from = names[i - 1]
        const to = names[i]
        if (from !== undefined && to !== undefined && fs.existsSync(from)) fs.renameSync(from, to)
      }
    } catch (error) {
      this.options.warn(`${file}: cannot rotate: ${errorMessage(error)}`)
      // Start again rather than grow without bound.
      fs.rmSync(file, { force: true })
    }
  }
}
