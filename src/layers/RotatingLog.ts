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
import { Clock, Data, Effect, Fiber, FiberHandle, Option, Scope, Semaphore } from "effect"
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

// Chunks up to and including their last newline, and the rest.
const wholeLines = (chunks: ReadonlyArray<Uint8Array>) => {
  for (let i = chunks.length - 1; i >= 0; i--) {
    const chunk = chunks[i]
    const newline = chunk?.lastIndexOf(NEWLINE) ?? -1
    if (chunk === undefined || newline < 0) continue
    const rest = [chunk.subarray(newline + 1), ...chunks.slice(i + 1)].filter((part) => part.length > 0)
    return { whole: [...chunks.slice(0, i), chunk.subarray(0, newline + 1)], rest }
  }
  return { whole: [], rest: chunks }
}

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
   * Appends a batch of output; returns once it is written or dropped (see
   * the module's pacing). Chunks from `OutputBlocks` are given back either
   * way.
   */
  readonly write: (chunks: ReadonlyArray<Uint8Array>) => Effect.Effect<void>
  /** One writer's output ended: the line it left open is ended (with timestamps) or written as it is. */
  readonly endLine: Effect.Effect<void>
}

// The file, rotated so that it never grows past maxBytes; opened at the first write.
const logFile = ({ file, maxBytes, keep, warn }: RotatingLogOptions) => {
  let fd: number | undefined
  let size = 0
  let endsWithNewline = true

  const open = attempt(() => {
    if (fd !== undefined) return fd
    ensureDirectory(path.dirname(file), 0o750)
    const opened = fs.openSync(file, "a+", 0o600)
    fd = opened
    size = fs.fstatSync(opened).size
    const last = Buffer.alloc(1)
    endsWithNewline = size === 0 || (fs.readSync(opened, last, 0, 1, size - 1) === 1 && last[0] === NEWLINE)
    return opened
  })

  const writeAll = (opened: number, chunks: ReadonlyArray<Uint8Array>) =>
    Effect.gen(function*() {
      const last = chunks.at(-1)
      if (last !== undefined && last.length > 0) endsWithNewline = last[last.length - 1] === NEWLINE
      let rest = chunks
      while (rest.length > 0) {
        const { bytesWritten } = yield* Effect.tryPromise({ try: () => writev(opened, rest), catch: failed })
        size += bytesWritten
        rest = skip(rest, bytesWritten)
      }
    })

  const close = () => {
    if (fd !== undefined) fs.closeSync(fd)
    fd = undefined
  }

  const rotate = attempt(() => {
    close()
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

  // Each file ends at the last line end that fits; a line that fits in no
  // file of its own, or whose start is already in the file, is split where
  // the file is full. The usual case, no rotation due: one writev(2).
  const append = (chunks: ReadonlyArray<Uint8Array>) =>
    Effect.gen(function*() {
      let rest: ReadonlyArray<Uint8Array> = chunks.filter((chunk) => chunk.length > 0)
      while (rest.length > 0) {
        const opened = yield* open
        const room = maxBytes - size
        if (bytesOf(rest) <= room) return yield* writeAll(opened, rest)
        const cut = room > 0 ? lastNewlineBefore(rest, room) : -1
        if (cut >= 0 || size === 0 || !endsWithNewline) {
          const take = cut >= 0 ? cut + 1 : room
          yield* writeAll(opened, head(rest, take))
          rest = skip(rest, take)
        }
        yield* rotate
      }
    })

  return { append, close }
}

// What becomes of a line left open at the end of an append: held for its
// end, written as it is (it waited long enough: a prompt), or ended (its
// writer ended: with timestamps, a newline).
type OpenLine = "hold" | "write" | "end"

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
  Effect.gen(function*() {
    const scope = yield* Effect.scope
    const file = logFile(options)
    yield* Scope.addFinalizer(scope, Effect.sync(file.close))
    const lock = yield* Semaphore.make(1)
    const heldTimer = yield* FiberHandle.make()
    // Whether the next byte read starts a line (for timestamps), and the
    // start of a line waiting for its end (copied out of pooled memory).
    let atLineStart = true
    let held: ReadonlyArray<Uint8Array> = []
    // The outage: bytes dropped so far, whether the last write failed, when
    // that was said, and the last write not finished after STALL_MILLIS.
    let dropped = 0
    let failing = false
    let lastWarning = Number.NEGATIVE_INFINITY
    let stalled: Fiber.Fiber<void> | undefined

    const drop = (bytes: number, why: string) =>
      Effect.flatMap(Clock.currentTimeMillis, (now) => {
        dropped += bytes
        // One warning when an outage starts, then at most one a minute.
        if (failing && now - lastWarning < WARN_EVERY_MILLIS) return Effect.void
        failing = true
        lastWarning = now
        return options.warn(`${options.file}: output dropped (${dropped} bytes so far): ${why}`)
      })

    // Each line the service starts, prefixed with the time it was read.
    const stamp = (chunks: ReadonlyArray<Uint8Array>, now: number): ReadonlyArray<Uint8Array> => {
      const prefix = Buffer.from(`${new Date(now).toISOString()} `)
      const parts: Array<Uint8Array> = []
      for (const chunk of chunks) {
        for (let start = 0; start < chunk.length;) {
          if (atLineStart) parts.push(prefix)
          const newline = chunk.indexOf(NEWLINE, start)
          const end = newline < 0 ? chunk.length : newline + 1
          parts.push(chunk.subarray(start, end))
          atLineStart = newline >= 0
          start = end
        }
      }
      return parts
    }

    // Writes what is held and `chunks` up to their last line end (all of it
    // when the open line is not held, or is longer than a file); gives the
    // chunks back. Run under the lock and uninterruptibly: nothing is lost
    // to an interruption, and the file is closed only between writes.
    const append = (chunks: ReadonlyArray<Uint8Array>, openLine: OpenLine): Effect.Effect<void> =>
      Effect.gen(function*() {
        const input = openLine === "end" && options.timestamps && !atLineStart ? [...chunks, Buffer.from("\n")] : chunks
        const stamped = options.timestamps ? stamp(input, yield* Clock.currentTimeMillis) : input
        const { whole, rest } = wholeLines([...held, ...stamped])
        const all = openLine !== "hold" || bytesOf(rest) > options.maxBytes
        held = all || rest.length === 0 ? [] : [Buffer.concat(rest)]
        const lines = all ? [...whole, ...rest] : whole
        yield* file.append(lines).pipe(
          Effect.andThen(Effect.sync(() => {
            failing = false
          })),
          Effect.catch((error) => drop(bytesOf(lines), error.reason))
        )
        if (held.length > 0) yield* FiberHandle.run(heldTimer, writeHeld)
      }).pipe(Effect.ensuring(Effect.sync(() => chunks.forEach(release))))

    const writeHeld: Effect.Effect<void> = Effect.andThen(
      Effect.sleep(PARTIAL_LINE_MILLIS),
      lock.withPermit(Effect.uninterruptible(append([], "write")))
    )

    // Waits for the disk at most STALL_MILLIS; the write goes on meanwhile,
    // and until it is done, batches are dropped.
    const appendPatiently = (chunks: ReadonlyArray<Uint8Array>, openLine: OpenLine) =>
      Effect.suspend(() => {
        if (stalled !== undefined && stalled.pollUnsafe() === undefined) {
          chunks.forEach(release)
          return drop(bytesOf(chunks), `the disk has not finished a write for ${STALL_MILLIS / 1000} s`)
        }
        return Effect.forkIn(lock.withPermit(append(chunks, openLine)), scope, { startImmediately: true, uninterruptible: true }).pipe(
          Effect.flatMap((writing) =>
            Effect.timeoutOption(Fiber.await(writing), STALL_MILLIS).pipe(Effect.map((done) => {
              if (Option.isNone(done)) stalled = writing
            }))
          )
        )
      })

    return {
      write: (chunks) => appendPatiently(chunks, "hold"),
      endLine: appendPatiently([], "end")
    }
  })
