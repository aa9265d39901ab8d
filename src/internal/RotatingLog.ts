/**
 * One service's log file, `NAME.log`: appended in batches, rotated by size
 * at line ends, optionally time-stamped per line.
 *
 * Pacing: `write` returns once its batch is written, and its caller takes
 * the next batch of output only then. A service writing faster than the
 * disk therefore waits in `write(2)` once its pipe is full, as it would
 * writing to the file itself, and nothing is lost. Output is dropped only
 * when a write fails (a full disk) or has not finished after 5 s (a stalled
 * disk: until it finishes, batches are dropped at once, so that the service
 * goes on), with a `warning` when the outage starts, then at most one a
 * minute.
 *
 * Rotation: `NAME.log` becomes `NAME.log.1`, `.1` becomes `.2`, … up to
 * `keep` (0: the log starts again). No file grows past `maxBytes`: a file
 * ends at the last line end that fits, and a line is split only when it
 * cannot fit whole (longer than `maxBytes`, or its start already written),
 * where the file is full. So that rotation sees where lines end, the start
 * of a line is held until its end comes: at most 100 ms (then it is
 * written: a prompt), or until its writer ends.
 *
 * Timestamps mark where the service started a line: a line written in
 * parts has one, before its first part. A line left open when a writer ends
 * is ended, so that the next run's first line gets its own.
 *
 * @since 0.1.0
 */
import { Clock, Data, Effect, Fiber, Option, Scope, Semaphore } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { promisify } from "node:util"
import { errorMessage } from "../domain/Errors.ts"
import { ensureDirectory } from "./Directories.ts"
import { release } from "./OutputBlocks.ts"

const NEWLINE = 0x0a
const WARN_EVERY_MILLIS = 60_000
const STALL_MILLIS = 5_000
const PARTIAL_LINE_MILLIS = 100
const writev = promisify(fs.writev)

class WriteFailed extends Data.TaggedError("WriteFailed")<{ readonly reason: string }> {}
const failed = (error: unknown) => new WriteFailed({ reason: errorMessage(error) })
const attempt = <A>(evaluate: () => A) => Effect.try({ try: evaluate, catch: failed })

const bytesOf = (chunks: ReadonlyArray<Uint8Array>): number => chunks.reduce((n, chunk) => n + chunk.length, 0)

// The offset of the last newline among the first `limit` bytes of `chunks`, or -1.
const lastNewlineBefore = (chunks: ReadonlyArray<Uint8Array>, limit: number): number => {
  let offset = 0
  let found = -1
  for (const chunk of chunks) {
    if (offset >= limit) break
    const at = chunk.subarray(0, limit - offset).lastIndexOf(NEWLINE)
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
  return partial === undefined ? [] : [partial.subarray(left), ...chunks.slice(i + 1)]
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
  /** Says that output was dropped, or a file could not be rotated; must not wait for the disk. */
  readonly warn: (message: string) => Effect.Effect<void>
}

/**
 * The rotated names of a log, newest first: `NAME.log.1` … `NAME.log.keep`.
 *
 * @since 0.1.0
 */
export const rotatedNames = (file: string, keep: number): ReadonlyArray<string> =>
  Array.from({ length: keep }, (_, i) => `${file}.${i + 1}`)

/**
 * A log being written, by one writer at a time or several.
 *
 * @since 0.1.0
 */
export interface RotatingLog {
  /**
   * Appends a batch of output; returns once it is written or dropped, or
   * after 5 s of a stalled disk (see the module's pacing). Chunks from
   * `OutputBlocks` are given back either way.
   */
  readonly write: (chunks: ReadonlyArray<Uint8Array>) => Effect.Effect<void>
  /** One writer's output ended: the line it left open is ended (with timestamps) or written as it is. */
  readonly endLine: Effect.Effect<void>
}

// One log between writes. Plain fields and the functions below, not
// closures: a service that prints nothing still has its log open.
interface Log {
  readonly options: RotatingLogOptions
  readonly scope: Scope.Scope
  readonly lock: Semaphore.Semaphore
  // The file: its descriptor once opened, its size, whether it ends a line.
  fd: number | undefined
  size: number
  endsWithNewline: boolean
  // Whether the next byte read starts a line (for timestamps); the start of
  // a line waiting for its end (copied out of pooled memory), and the timer
  // that writes it if the end does not come.
  atLineStart: boolean
  held: ReadonlyArray<Uint8Array>
  heldTimer: Fiber.Fiber<void> | undefined
  // The outage: bytes dropped so far, whether the last write failed, when
  // that was said, and the last write not finished after STALL_MILLIS.
  dropped: number
  failing: boolean
  lastWarning: number
  stalled: Fiber.Fiber<void> | undefined
}

const openFile = (log: Log) =>
  attempt(() => {
    if (log.fd !== undefined) return log.fd
    const { file } = log.options
    ensureDirectory(path.dirname(file), 0o750)
    const fd = fs.openSync(file, "a+", 0o600)
    log.fd = fd
    log.size = fs.fstatSync(fd).size
    const last = Buffer.alloc(1)
    log.endsWithNewline = log.size === 0 || (fs.readSync(fd, last, 0, 1, log.size - 1) === 1 && last[0] === NEWLINE)
    return fd
  })

const closeFile = (log: Log) => {
  if (log.fd !== undefined) fs.closeSync(log.fd)
  log.fd = undefined
}

const writeAll = (log: Log, fd: number, chunks: ReadonlyArray<Uint8Array>) =>
  Effect.gen(function*() {
    const last = chunks.at(-1)
    if (last !== undefined && last.length > 0) log.endsWithNewline = last[last.length - 1] === NEWLINE
    let rest = chunks
    while (rest.length > 0) {
      const { bytesWritten } = yield* Effect.tryPromise({ try: () => writev(fd, rest), catch: failed })
      log.size += bytesWritten
      rest = skip(rest, bytesWritten)
    }
  })

const rotate = (log: Log) => {
  const { file, keep, warn } = log.options
  return attempt(() => {
    closeFile(log)
    const names = [file, ...rotatedNames(file, keep)]
    if (keep === 0) fs.rmSync(file, { force: true })
    for (let i = names.length - 1; i > 0; i--) {
      const from = names[i - 1]
      const to = names[i]
      if (from !== undefined && to !== undefined && fs.existsSync(from)) fs.renameSync(from, to)
    }
  }).pipe(Effect.catch((error) =>
    // Start again rather than grow without bound.
    Effect.andThen(warn(`${file}: cannot rotate: ${error.reason}`), attempt(() => fs.rmSync(file, { force: true })))
  ))
}

// Appends to the file, rotating so that it never grows past maxBytes: each
// file ends at the last line end that fits; a line that fits in no file of
// its own, or whose start is already in the file, is split where the file
// is full. The usual case, no rotation due: one writev(2).
const appendToFile = (log: Log, chunks: ReadonlyArray<Uint8Array>) =>
  Effect.gen(function*() {
    let rest: ReadonlyArray<Uint8Array> = chunks.filter((chunk) => chunk.length > 0)
    while (rest.length > 0) {
      const fd = yield* openFile(log)
      const room = log.options.maxBytes - log.size
      if (bytesOf(rest) <= room) return yield* writeAll(log, fd, rest)
      const cut = room > 0 ? lastNewlineBefore(rest, room) : -1
      if (cut >= 0 || log.size === 0 || !log.endsWithNewline) {
        const take = cut >= 0 ? cut + 1 : room
        yield* writeAll(log, fd, head(rest, take))
        rest = skip(rest, take)
      }
      yield* rotate(log)
    }
  })

const drop = (log: Log, bytes: number, why: string) =>
  Effect.flatMap(Clock.currentTimeMillis, (now) => {
    log.dropped += bytes
    // One warning when an outage starts, then at most one a minute.
    if (log.failing && now - log.lastWarning < WARN_EVERY_MILLIS) return Effect.void
    log.failing = true
    log.lastWarning = now
    return log.options.warn(`${log.options.file}: output dropped (${log.dropped} bytes so far): ${why}`)
  })

// Each line the service starts, prefixed with the time it was read.
const stamp = (log: Log, chunks: ReadonlyArray<Uint8Array>, now: number): ReadonlyArray<Uint8Array> => {
  const prefix = Buffer.from(`${new Date(now).toISOString()} `)
  const parts: Array<Uint8Array> = []
  for (const chunk of chunks) {
    for (let start = 0; start < chunk.length;) {
      if (log.atLineStart) parts.push(prefix)
      const newline = chunk.indexOf(NEWLINE, start)
      const end = newline < 0 ? chunk.length : newline + 1
      parts.push(chunk.subarray(start, end))
      log.atLineStart = newline >= 0
      start = end
    }
  }
  return parts
}

// What becomes of a line left open at the end of an append: held for its
// end, written as it is (it waited long enough: a prompt), or ended (its
// writer ended: with timestamps, a newline).
type OpenLine = "hold" | "write" | "end"

// Writes what is held and `chunks` up to their last line end (all of it
// when the open line is not held, or is longer than a file); gives the
// chunks back. Run under the lock and uninterruptibly: nothing is lost to
// an interruption, and the file is closed only between writes.
const append = (log: Log, chunks: ReadonlyArray<Uint8Array>, openLine: OpenLine): Effect.Effect<void> =>
  Effect.gen(function*() {
    const { timestamps, maxBytes } = log.options
    const input = openLine === "end" && timestamps && !log.atLineStart ? [...chunks, Buffer.from("\n")] : chunks
    const stamped = timestamps ? stamp(log, input, yield* Clock.currentTimeMillis) : input
    const pending = [...log.held, ...stamped]
    const lineEnd = lastNewlineBefore(pending, bytesOf(pending)) + 1
    const [whole, rest] = [head(pending, lineEnd), skip(pending, lineEnd)]
    const all = openLine !== "hold" || bytesOf(rest) > maxBytes
    log.held = all || rest.length === 0 ? [] : [Buffer.concat(rest)]
    const lines = all ? [...whole, ...rest] : whole
    if (lines.length > 0) {
      yield* appendToFile(log, lines).pipe(
        Effect.andThen(Effect.sync(() => {
          log.failing = false
        })),
        Effect.catch((error) => drop(log, bytesOf(lines), error.reason))
      )
    }
    if (log.held.length === 0) return
    // The end may not come (a prompt): written after PARTIAL_LINE_MILLIS without more output.
    if (log.heldTimer !== undefined) yield* Fiber.interrupt(log.heldTimer)
    log.heldTimer = yield* Effect.forkIn(writeHeld(log), log.scope)
  }).pipe(Effect.ensuring(Effect.sync(() => chunks.forEach(release))))

const writeHeld = (log: Log): Effect.Effect<void> =>
  Effect.sleep(PARTIAL_LINE_MILLIS).pipe(
    Effect.andThen(log.lock.withPermit(Effect.uninterruptible(append(log, [], "write")))),
    Effect.ensuring(Effect.sync(() => {
      log.heldTimer = undefined
    }))
  )

// Waits for the disk at most STALL_MILLIS; the write goes on meanwhile, and
// until it is done, batches are dropped.
const appendPatiently = (log: Log, chunks: ReadonlyArray<Uint8Array>, openLine: OpenLine) =>
  Effect.suspend(() => {
    if (log.stalled !== undefined && log.stalled.pollUnsafe() === undefined) {
      chunks.forEach(release)
      return drop(log, bytesOf(chunks), `the disk has not finished a write for ${STALL_MILLIS / 1000} s`)
    }
    log.stalled = undefined
    const appending = log.lock.withPermit(append(log, chunks, openLine))
    return Effect.forkIn(appending, log.scope, { startImmediately: true, uninterruptible: true }).pipe(
      Effect.flatMap((writing) =>
        Effect.timeoutOption(Fiber.await(writing), STALL_MILLIS).pipe(Effect.map((done) => {
          if (Option.isNone(done)) log.stalled = writing
        }))
      )
    )
  })

/**
 * A log for the life of the current scope. Each writer calls `endLine` when
 * its output ends, so that nothing is left held; closing the scope waits
 * for writes under way (a stalled one too), then closes the file.
 *
 * @example
 * ```ts
 * const log = yield* RotatingLog.make({ file: "/logs/web.log", maxBytes: 10 << 20, keep: 5, timestamps: false, warn: Effect.logWarning })
 * yield* log.write([Buffer.from("hello\n")])
 * ```
 * @since 0.1.0
 */
export const make = (options: RotatingLogOptions): Effect.Effect<RotatingLog, never, Scope.Scope> =>
  Effect.flatMap(Effect.scope, (scope) => {
    const log: Log = {
      options,
      scope,
      lock: Semaphore.makeUnsafe(1),
      fd: undefined,
      size: 0,
      endsWithNewline: true,
      atLineStart: true,
      held: [],
      heldTimer: undefined,
      dropped: 0,
      failing: false,
      lastWarning: Number.NEGATIVE_INFINITY,
      stalled: undefined
    }
    return Effect.as(Scope.addFinalizer(scope, Effect.sync(() => closeFile(log))), {
      write: (chunks) => appendPatiently(log, chunks, "hold"),
      endLine: Effect.suspend(() => appendPatiently(log, [], "end"))
    })
  })
