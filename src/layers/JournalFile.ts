/**
 * The journal as a line-delimited JSON file held under an exclusive
 * `flock(2)` for the daemon's whole life.
 *
 * Opening it: create the directory (0750) and the file (0600), take the lock
 * (or fail with `JournalLocked`), cut a torn or corrupt last line, read what
 * earlier sessions left from the tail, and record `acquired lock`. Every
 * append is one `write(2)` of one line on a descriptor opened `O_SYNC`, and is
 * echoed to stderr in a readable form.
 *
 * @since 0.1.0
 */
import { Clock, Deferred, Effect, Layer, Queue } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { errorMessage } from "../domain/Errors.ts"
import { encodeLine, Events, formatHuman, type JournalEntry, type JournalEvent } from "../domain/JournalEvent.ts"
import { type Cut, cutToBound } from "../domain/JournalBound.ts"
import { endOfLastNewline, linesBackward, type RandomAccess } from "../domain/LinesBackward.ts"
import { previousStateOf } from "../domain/PreviousState.ts"
import { Journal, JournalLocked, JournalUnavailable } from "../services/Journal.ts"
import { ensureDirectory } from "./Directories.ts"
import { System } from "../services/System.ts"

/**
 * How the journal file is opened.
 *
 * @since 0.1.0
 */
export interface Options {
  readonly path: string
  /** Writes each event to stderr as a readable line too (the daemon does). */
  readonly echo?: ((line: string) => void) | undefined
  /**
   * Keeps the journal under this many bytes by dropping its oldest whole
   * sessions (never those previous state needs, nor the current one),
   * checked at open and whenever an append crosses it. Unbounded when unset.
   */
  readonly maxBytes?: number | undefined
  /** The daemon's restart policy, recorded in `acquired lock` for `status`. */
  readonly restartPolicy?: import("../domain/Backoff.ts").RestartPolicy | undefined
}

/**
 * Positioned reads on an open descriptor.
 *
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

/** Whether `fd` is the file now at `file` (not one moved away or removed). */
const isFileAt = (fd: number, file: string): boolean => {
  try {
    const open = fs.fstatSync(fd)
    const now = fs.statSync(file)
    return open.dev === now.dev && open.ino === now.ino
  } catch {
    return false
  }
}

const openFile = (file: string) => {
  ensureDirectory(path.dirname(file), 0o750)
  const { O_APPEND, O_CREAT, O_NONBLOCK, O_RDWR, O_SYNC } = fs.constants
  // O_NONBLOCK: a FIFO in the journal's place must not hang the open.
  const fd = fs.openSync(file, O_RDWR | O_CREAT | O_APPEND | O_SYNC | O_NONBLOCK, 0o600)
  if (!fs.fstatSync(fd).isFile()) {
    fs.closeSync(fd)
    throw new Error("not a regular file")
  }
  return fd
}

// Opens and locks the file at `file`. The lock is on the file, not the path:
// when the path was renamed or removed between the open and the lock, the
// lock is on a file nobody will look at again, so try again.
const openLocked = (file: string) =>
  Effect.gen(function*() {
    const system = yield* System
    for (let attempt = 0; attempt < 5; attempt++) {
      const fd = yield* Effect.try({
        try: () => openFile(file),
        catch: (error) => new JournalUnavailable({ path: file, reason: errorMessage(error) })
      })
      const locked = yield* system.tryLockExclusive(fd).pipe(
        Effect.mapError((error) => new JournalUnavailable({ path: file, reason: error.message })),
        Effect.tapError(() => Effect.sync(() => fs.closeSync(fd)))
      )
      if (!locked) {
        fs.closeSync(fd)
        return yield* new JournalLocked({ path: file })
      }
      if (isFileAt(fd, file)) return fd
      fs.closeSync(fd)
    }
    return yield* new JournalUnavailable({ path: file, reason: "the file keeps being replaced" })
  })

/**
 * Cuts a torn last line (no final newline) or a last line that is not JSON
 * (a crash mid-write), and says what was cut. A last line that is whole
 * JSON without its newline only gets the newline.
 *
 * @since 0.1.0
 */
export const repairTail = (fd: number): string | undefined => {
  const file = randomAccess(fd)
  const lastNewline = endOfLastNewline(file)
  if (lastNewline < file.size) {
    // A whole event whose newline was not written: keep it, end the line.
    const tail = new TextDecoder().decode(file.read(lastNewline, file.size - lastNewline))
    if (isJson(tail)) {
      fs.writeSync(fd, "\n")
      return undefined
    }
    fs.ftruncateSync(fd, lastNewline)
    return `the last line was torn: ${file.size - lastNewline} bytes cut off`
  }
  if (file.size === 0) return undefined
  const [lastLine] = linesBackward(file)
  if (lastLine === undefined || isJson(lastLine)) return undefined
  const start = endOfLastNewline(file, file.size - 1)
  fs.ftruncateSync(fd, start)
  return `the last line was corrupt: ${file.size - start} bytes cut off`
}

/**
 * Where a journal's compacted copy is written before it is renamed over the
 * journal: beside it (a rename within one directory is atomic), hidden.
 *
 * @since 0.1.0
 */
export const compactingPath = (file: string): string =>
  path.join(path.dirname(file), `.${path.basename(file)}.compacting`)

const removeQuietly = (file: string) => {
  try {
    fs.rmSync(file, { force: true })
  } catch {
    // a directory we may not write: the next compaction will try again
  }
}

// Writes `content` to a new file beside `file`, flushes it, takes its lock
// and renames it over `file`, so that a crash at any instant leaves the old
// journal or the new one, whole, and no other instance can lock the new file
// before this one does. Returns the new file's descriptor.
const replaceLocked = (file: string, content: Uint8Array, like: number, lock: (fd: number) => boolean): number => {
  const temp = compactingPath(file)
  fs.rmSync(temp, { force: true })
  const { O_APPEND, O_CREAT, O_EXCL, O_RDWR, O_SYNC } = fs.constants
  const fd = fs.openSync(temp, O_RDWR | O_CREAT | O_EXCL | O_APPEND | O_SYNC, 0o600)
  try {
    fs.fchmodSync(fd, fs.fstatSync(like).mode & 0o777)
    for (let written = 0; written < content.length;) {
      written += fs.writeSync(fd, content, written, content.length - written)
    }
    fs.fsyncSync(fd)
    if (!lock(fd)) throw new Error("cannot lock the compacted journal")
    fs.renameSync(temp, file)
  } catch (error) {
    fs.closeSync(fd)
    removeQuietly(temp)
    throw error
  }
  // The rename itself is durable once the directory is flushed.
  try {
    const dir = fs.openSync(path.dirname(file), "r")
    try {
      fs.fsyncSync(dir)
    } finally {
      fs.closeSync(dir)
    }
  } catch {
    // a directory that cannot be opened for reading: the rename stands anyway
  }
  return fd
}

const isJson = (text: string): boolean => {
  try {
    JSON.parse(text)
    return true
  } catch {
    return false
  }
}

/**
 * The journal on disk, locked for the life of the layer.
 *
 * @example
 * ```ts
 * JournalFile.layer({ path: "/home/me/.config/cronmon/journal.json", echo: (l) => process.stderr.write(l + "\n") })
 * ```
 * @since 0.1.0
 */
export const layer = (options: Options): Layer.Layer<Journal, JournalLocked | JournalUnavailable, System> =>
  Layer.effect(
    Journal,
    Effect.gen(function*() {
      const file = path.resolve(options.path)
      const system = yield* System
      let fd: number = yield* openLocked(file)
      yield* Effect.addFinalizer(() => Effect.sync(() => fs.closeSync(fd)))
      const repaired = yield* Effect.try({
        try: () => {
          // Left by a daemon that crashed while compacting: its journal is whole.
          removeQuietly(compactingPath(file))
          const cut = repairTail(fd)
          return { cut, previousState: previousStateOf(linesBackward(randomAccess(fd))) }
        },
        catch: (error) => new JournalUnavailable({ path: file, reason: errorMessage(error) })
      })

      // The size bound. Within a session only the earlier sessions may be
      // dropped, and they do not grow: once nothing more can go, stop looking.
      const { maxBytes } = options
      let sessionStart = fs.fstatSync(fd).size
      let mayShrink = maxBytes !== undefined
      let rewatch: (() => void) | undefined
      const lock = (target: number) => Effect.runSync(Effect.orElseSucceed(system.tryLockExclusive(target), () => false))
      // Replaces the journal with `content`, the lock moving with it.
      const replaceWith = (content: Uint8Array) => {
        const previous = fd
        fd = replaceLocked(file, content, previous, lock)
        fs.closeSync(previous)
        // The watch was on the old file: the path's new file is ours.
        rewatch?.()
      }
      const shrink = (target: number | undefined): Cut | undefined => {
        if (target === undefined || !mayShrink) return undefined
        const journal = randomAccess(fd)
        if (journal.size <= target) return undefined
        try {
          const content = journal.read(0, journal.size)
          const cut = cutToBound(content, target, sessionStart)
          if (cut === undefined) {
            mayShrink = false
            return undefined
          }
          replaceWith(content.subarray(cut.bytes))
          sessionStart -= cut.bytes
          return cut
        } catch (error) {
          mayShrink = false
          process.stderr.write(`cronmon: cannot keep the journal ${file} under ${maxBytes} bytes: ${errorMessage(error)}\n`)
          return undefined
        }
      }
      const shrunk = (cut: Cut) =>
        Events.logTruncated(
          `the journal passed ${maxBytes} bytes: its ${cut.sessions} oldest ` +
            `${cut.sessions === 1 ? "session" : "sessions"} (${cut.bytes} bytes) dropped`
        )
      // Three quarters of the bound: room for a while, not a rewrite per event.
      const roomTarget = maxBytes === undefined ? undefined : Math.floor(maxBytes * 0.75)
      const shrunkAtOpen = maxBytes !== undefined && fs.fstatSync(fd).size > maxBytes ? shrink(roomTarget) : undefined

      // This session's spawns not yet seen to exit: carried into a new file
      // if the journal is moved away, so that no leftover is ever forgotten.
      const running = new Map<number, JournalEntry>()
      for (const leftover of repaired.previousState.leftovers) {
        const identity = {
          ...(leftover.pgid === undefined ? {} : { pgid: leftover.pgid }),
          ...(leftover.startTime === undefined ? {} : { start_time: leftover.startTime })
        }
        running.set(leftover.pid, { time: leftover.spawnedAt, ...Events.spawned(leftover.file, leftover.pid, identity) })
      }
      // The services this session knows of, carried with the running ones.
      const known = new Set<string>()
      // While the journal cannot be written: how many events were lost, and
      // the spawns among them (written once it can be, if still running, so
      // that the next start's previous state knows them).
      let failing = false
      let lostEvents = 0
      const lostSpawns = new Set<number>()
      // Where this layer's last line ended, to notice the journal truncated
      // under it (`: > journal`): what it must hold is then written again.
      let writtenFd = -1
      let writtenEnd = 0
      const truncatedUnderUs = (): boolean => {
        try {
          return fd === writtenFd && fs.fstatSync(fd).size < writtenEnd
        } catch {
          return false
        }
      }
      // Keeps the journal within its bound, before a line would pass it:
      // drops the oldest sessions down to the room target, or, when the
      // current session alone is too big, begins the journal again.
      const overBound = (bytes: number): boolean => {
        try {
          return maxBytes !== undefined && fs.fstatSync(fd).size + bytes > maxBytes
        } catch {
          return false
        }
      }
      const makeRoom = (bytes: number, time: number): { readonly cut?: Cut; readonly restarted: boolean } => {
        if (failing || !overBound(bytes)) return { restarted: false }
        const cut = shrink(roomTarget)
        // No cut allowed, or not enough: only beginning again makes room.
        if (cut === undefined || overBound(bytes)) return { restarted: restart(time) }
        return { cut, restarted: false }
      }
      const write = (entry: JournalEntry): void => {
        if (truncatedUnderUs()) {
          writtenFd = -1
          const why = Events.warning("journal", "the journal was truncated: continuing with what is running")
          for (const kept of carried(entry.time, why)) write(kept)
        }
        const line = Buffer.from(encodeLine(entry) + "\n")
        // Room is made before the entry joins what a journal begun again
        // holds, so that it is not written twice.
        const madeRoom = makeRoom(line.length, entry.time)
        // A journal begun again already holds this session's acquired lock.
        if (madeRoom.restarted && entry.type === "acquired lock" && entry.time === sessionBegan) return
        if (entry.type === "process spawned") running.set(entry.data.pid, entry)
        if (entry.type === "process exited") running.delete(entry.data.pid)
        if (entry.type === "process list modified") {
          if (entry.data.op === "remove") known.delete(entry.data.file)
          else known.add(entry.data.file)
        }
        options.echo?.(formatHuman(entry))
        try {
          const end = fs.fstatSync(fd).size
          if (fs.writeSync(fd, line) < line.length) {
            // A short write (the disk filled mid-line) would glue the next
            // line onto this one: cut it back and report the failure.
            fs.ftruncateSync(fd, end)
            throw new Error("no space left on device (short write)")
          }
          writtenFd = fd
          writtenEnd = end + line.length
          if (failing) {
            failing = false
            const lost = lostEvents
            const spawns = [...lostSpawns]
            lostEvents = 0
            lostSpawns.clear()
            process.stderr.write(`cronmon: the journal ${file} is writable again\n`)
            write({ time: entry.time, ...Events.warning("journal", `the journal could not be written: ${lost} events lost`) })
            for (const pid of spawns) {
              const spawned = running.get(pid)
              if (spawned !== undefined) write(spawned)
            }
          }
          if (madeRoom.cut !== undefined) write({ time: entry.time, ...shrunk(madeRoom.cut) })
        } catch (error) {
          // Reported once per outage, not once per event.
          if (!failing) process.stderr.write(`cronmon: cannot write the journal ${file}: ${errorMessage(error)}\n`)
          failing = true
          lostEvents++
          if (entry.type === "process spawned") lostSpawns.add(entry.data.pid)
        }
      }
      const append = (event: JournalEvent) =>
        Effect.map(Clock.currentTimeMillis, (time) => write({ time, ...event }))
      const id = `file:${file}${options.echo === undefined ? "" : "+stderr"}`
      let sessionBegan: number | undefined
      // What a journal begun again must hold for previous state and status:
      // this session's `acquired lock`, why it begins again, the services
      // known and the processes still running (leftovers of earlier
      // sessions not yet cleaned up included), so nothing running is ever
      // forgotten.
      const carried = (time: number, why: JournalEvent): Array<JournalEntry> => [
        { time: sessionBegan ?? time, ...Events.acquiredLock(id, process.pid, options.restartPolicy) },
        { time, ...why },
        ...[...known].map((name) => ({ time, ...Events.listModified("add", name) })),
        ...running.values()
      ]
      // The current session alone outgrew the bound (a long run, a crash
      // loop): begin the journal again with what it must hold.
      let carriedTooBig = false
      const restart = (time: number): boolean => {
        const entries = carried(
          time,
          Events.logTruncated(`the current session passed ${maxBytes} bytes: the journal begins again with what is running`)
        )
        const content = Buffer.from(entries.map((entry) => encodeLine(entry) + "\n").join(""))
        // A bound too small for what must be kept would rewrite the journal
        // at every event: say so once and let it grow.
        if (maxBytes === undefined || content.length > maxBytes / 2) {
          if (!carriedTooBig) {
            process.stderr.write(`cronmon: the journal ${file} cannot be kept under ${maxBytes} bytes: what is running alone needs ${content.length}\n`)
          }
          carriedTooBig = true
          return false
        }
        try {
          replaceWith(content)
          sessionStart = 0
          mayShrink = true
          for (const entry of entries) options.echo?.(formatHuman(entry))
          return true
        } catch (error) {
          process.stderr.write(`cronmon: cannot keep the journal ${file} under ${maxBytes} bytes: ${errorMessage(error)}\n`)
          return false
        }
      }
      sessionBegan = yield* Clock.currentTimeMillis
      write({ time: sessionBegan, ...Events.acquiredLock(id, process.pid, options.restartPolicy) })
      if (repaired.cut !== undefined) yield* append(Events.logTruncated(repaired.cut))
      if (shrunkAtOpen !== undefined) yield* append(shrunk(shrunkAtOpen))
      if (repaired.previousState.badLines > 0) {
        yield* append(Events.warning("journal", `${repaired.previousState.badLines} unreadable lines skipped`))
      }

      // The lock is on the file, not on its path: if the file is moved away
      // or removed, the next cron run would lock a new file at the path and
      // start a second daemon. So watch the path; when it no longer leads to
      // our file, lock a new one there and carry the running processes over.
      const lost = yield* Deferred.make<void>()
      const moved = yield* Queue.sliding<void>(1)
      let watcher: fs.FSWatcher | undefined
      const watch = () => {
        watcher?.close()
        try {
          watcher = fs.watch(file, { persistent: false }, () => Queue.offerUnsafe(moved, undefined))
          watcher.on("error", () => Queue.offerUnsafe(moved, undefined))
        } catch {
          watcher = undefined
        }
      }
      rewatch = watch
      yield* Effect.acquireRelease(Effect.sync(watch), () => Effect.sync(() => watcher?.close()))
      const reopen = Effect.gen(function*() {
        if (isFileAt(fd, file)) return
        const next = yield* Effect.exit(openLocked(file))
        if (next._tag === "Failure") {
          process.stderr.write(`cronmon: the journal ${file} was moved or removed, and cannot be locked again\n`)
          return yield* Deferred.succeed(lost, undefined)
        }
        const previous = fd
        fd = next.value
        fs.closeSync(previous)
        sessionStart = fs.fstatSync(fd).size
        watch()
        const time = yield* Clock.currentTimeMillis
        for (const entry of carried(time, Events.warning("journal", "the journal was moved or removed: continuing in a new file"))) {
          write(entry)
        }
      })
      yield* Effect.forkScoped(Effect.forever(Effect.andThen(Queue.take(moved), reopen)))

      return Journal.of({ id, append, previousState: repaired.previousState, lost: Deferred.await(lost) })
    })
  )
