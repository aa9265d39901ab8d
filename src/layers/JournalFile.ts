/**
 * The journal as a line-delimited JSON file held under an exclusive
 * `flock(2)` for the daemon's whole life.
 *
 * Opening it: create the directory (0750) and the file (0600), take the lock
 * (or fail with `JournalLocked`), refuse a file that is not a journal
 * untouched, cut a torn or corrupt last line, read what earlier sessions
 * left, and write `acquired lock` (unwritable: `JournalUnavailable`). Then
 * `append` shows the event on the `HumanLog` and queues it; one writer fiber
 * writes the queue in order on a descriptor opened `O_SYNC`, in libuv's
 * thread pool, so that no append waits for the disk: the lines queued while
 * it wrote go in one `write(2)` (a group commit), one at a time only when
 * the bound, a truncation or an outage needs it. The writer's pieces:
 * `writeEntry` (one line; `: > journal` under it), `writeTogether` (the
 * group), `makeRoom`, `shrink`, `beginAgain` (the size bound), `carryOver`
 * (what a new file must hold), `reopen` (the file moved away), `record`
 * (outages).
 *
 * @since 0.1.0
 */
import { Clock, Deferred, Effect, Exit, Layer, Queue, Ref } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import type { RestartPolicy } from "../domain/Backoff.ts"
import { errorMessage } from "../domain/Errors.ts"
import { type Cut, cutToBound } from "../domain/JournalBound.ts"
import { encodeLine, Events, type JournalEntry, type JournalEvent } from "../domain/JournalEvent.ts"
import { notAJournal, tailCut } from "../domain/JournalShape.ts"
import { linesBackward, type RandomAccess } from "../domain/LinesBackward.ts"
import { type Leftover, previousStateOf } from "../domain/PreviousState.ts"
import * as Running from "../domain/Running.ts"
import { HumanLog } from "../services/HumanLog.ts"
import { Journal, JournalLocked, JournalUnavailable } from "../services/Journal.ts"
import { System } from "../services/System.ts"
import { ensureDirectory } from "../internal/Directories.ts"
import { randomAccess } from "../internal/Files.ts"
import * as JournalFeed from "../internal/JournalFeed.ts"

/**
 * How the journal file is opened.
 *
 * @since 0.1.0
 */
export interface Options {
  readonly path: string
  /** Keeps the journal under this many bytes by dropping whole old sessions (unbounded when unset). */
  readonly maxBytes?: number | undefined
  /** The daemon's restart policy, recorded in `acquired lock` for `status`. */
  readonly restartPolicy?: RestartPolicy | undefined
  /** The scripts directory the daemon watches, recorded in `acquired lock` for the next invocation. */
  readonly scriptsDir?: string | undefined
}


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

// Opens the journal, refusing without a write what is not a regular file
// (O_NONBLOCK: a FIFO must not hang the open) or not a journal.
const openFile = (file: string) => {
  ensureDirectory(path.dirname(file), 0o750)
  const { O_APPEND, O_CREAT, O_NONBLOCK, O_RDWR, O_SYNC } = fs.constants
  const fd = fs.openSync(file, O_RDWR | O_CREAT | O_APPEND | O_SYNC | O_NONBLOCK, 0o600)
  const refusal = fs.fstatSync(fd).isFile() ? notAJournal(randomAccess(fd)) : "not a regular file"
  if (refusal === undefined) return fd
  fs.closeSync(fd)
  throw new Error(refusal)
}

// Opens and locks the journal at `file`. The lock is on the file, not the
// path: when the path was renamed or removed between the open and the lock,
// the lock is on a file nobody will look at again, so try again.
const openJournal = (system: typeof System.Service, file: string) =>
  Effect.gen(function*() {
    const unavailable = (error: unknown) => new JournalUnavailable({ path: file, reason: errorMessage(error) })
    for (let attempt = 0; attempt < 5; attempt++) {
      const fd = yield* Effect.try({ try: () => openFile(file), catch: unavailable })
      const close = Effect.sync(() => fs.closeSync(fd))
      const locked = yield* system.tryLockExclusive(fd).pipe(Effect.mapError(unavailable), Effect.tapError(() => close))
      if (!locked) return yield* Effect.andThen(close, new JournalLocked({ path: file }))
      if (isFileAt(fd, file)) return fd
      yield* close
    }
    return yield* unavailable("the file keeps being replaced")
  })

// Cuts a torn or corrupt last line (a crash mid-write) and says what was
// cut; a whole last event whose newline was not written gets its newline.
const repairTail = (fd: number): string | undefined => {
  const cut = tailCut(randomAccess(fd))
  if (cut !== undefined) fs.ftruncateSync(fd, cut.at)
  const file = randomAccess(fd)
  if (file.size > 0 && file.read(file.size - 1, 1)[0] !== 0x0a) fs.writeSync(fd, "\n")
  return cut?.reason
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

// Writes `content`, flushed, to the hidden copy beside `file`, with the
// mode of `like`; returns its descriptor (O_SYNC, as the journal's).
const writeCopy = (file: string, content: Uint8Array, like: number): number => {
  const temp = compactingPath(file)
  fs.rmSync(temp, { force: true })
  const { O_APPEND, O_CREAT, O_EXCL, O_RDWR, O_SYNC } = fs.constants
  const fd = fs.openSync(temp, O_RDWR | O_CREAT | O_EXCL | O_APPEND | O_SYNC, 0o600)
  try {
    fs.fchmodSync(fd, fs.fstatSync(like).mode & 0o777)
    fs.writeFileSync(fd, content)
    fs.fsyncSync(fd)
    return fd
  } catch (error) {
    fs.closeSync(fd)
    removeQuietly(temp)
    throw error
  }
}

// Renames the locked copy over `file`; the rename is durable once the
// directory is flushed (one that cannot be opened: the rename stands).
const renameCopy = (file: string) => {
  fs.renameSync(compactingPath(file), file)
  try {
    const dir = fs.openSync(path.dirname(file), "r")
    fs.fsyncSync(dir)
    fs.closeSync(dir)
  } catch {
    // not flushed: a crash may bring back the old journal, whole
  }
}

// One `write(2)` of the whole line, in libuv's thread pool. A short write
// (the disk filled mid-line) is cut back to `end`, so that the next line is
// not glued onto it.
const writeLine = (fd: number, line: Uint8Array, end: number): Effect.Effect<void, unknown> =>
  Effect.callback<number, unknown>((resume) => {
    fs.write(fd, line, 0, line.length, null, (error, written) =>
      resume(error === null ? Effect.succeed(written) : Effect.fail(error)))
  }).pipe(Effect.flatMap((written) =>
    written === line.length ? Effect.void : attempt(() => {
      fs.ftruncateSync(fd, end)
      throw new Error("no space left on device (short write)")
    })
  ))

const attempt = <A>(f: () => A): Effect.Effect<A, unknown> => Effect.try({ try: f, catch: (error) => error })

interface State {
  readonly fd: number
  /** Where the writer's last line on `fd` ended: a smaller file was truncated under it. */
  readonly end: number | undefined
  /** Where the current session begins: no cut of old sessions goes past it. */
  readonly sessionStart: number
  /** Old sessions do not grow: once none may go, none will until the journal begins again. */
  readonly mayShrink: boolean
  readonly saidTooBig: boolean
  readonly running: Running.Running
  /** While the journal cannot be written: the events lost, and the spawns among them. */
  readonly outage: { readonly lost: number; readonly spawns: ReadonlyArray<JournalEntry> } | undefined
}

// What the writer's pieces share. The writer fiber runs what is queued, in
// order, and alone changes the state (at open, before it starts). `acquired`
// is this session's `acquired lock`; `lost` completes if the file is lost.
interface Writer {
  readonly file: string
  /** The bound (infinite when unset). */
  readonly maxBytes: number
  readonly state: Ref.Ref<State>
  readonly queue: Queue.Queue<Job>
  readonly watcher: Ref.Ref<fs.FSWatcher | undefined>
  readonly human: typeof HumanLog.Service
  readonly system: typeof System.Service
  readonly acquired: JournalEntry
  readonly lost: Deferred.Deferred<void>
}

// What the writer does next: write an appended entry, or run something in
// its turn (a flush's answer, a look at the path).
type Job = { readonly entry: JournalEntry } | { readonly run: Effect.Effect<unknown> }

const set = (w: Writer, change: Partial<State>) => Ref.update(w.state, (state) => ({ ...state, ...change }))

const sizeNow = (w: Writer) => Effect.flatMap(Ref.get(w.state), ({ fd }) => attempt(() => fs.fstatSync(fd).size))

// Puts `content` in the journal's place: written beside it, flushed, locked
// and renamed over it, so that a crash at any instant leaves the old journal
// or the new one, whole, and no other instance can lock the new file first.
const replace = (w: Writer, content: Uint8Array) =>
  Effect.gen(function*() {
    const { fd: previous } = yield* Ref.get(w.state)
    const fd = yield* attempt(() => writeCopy(w.file, content, previous))
    const locked = yield* Effect.orElseSucceed(w.system.tryLockExclusive(fd), () => false)
    yield* attempt(() => {
      if (!locked) throw new Error("cannot lock the compacted journal")
      renameCopy(w.file)
    }).pipe(Effect.tapError(() => Effect.sync(() => (fs.closeSync(fd), removeQuietly(compactingPath(w.file))))))
    yield* Effect.sync(() => fs.closeSync(previous))
    yield* set(w, { fd, end: content.length })
    yield* watch(w)
  })

const shrunk = (w: Writer, cut: Cut) =>
  Events.logTruncated(
    `the journal passed ${w.maxBytes} bytes: its ${cut.sessions} oldest ` +
      `${cut.sessions === 1 ? "session" : "sessions"} (${cut.bytes} bytes) dropped`
  )

const cannotKeep = (w: Writer) => (error: unknown) =>
  w.human.notice(`cannot keep the journal ${w.file} under ${w.maxBytes} bytes: ${errorMessage(error)}`)

// Drops the journal's oldest whole sessions (never those previous state
// needs, nor the current one) down to three quarters of the bound: room for
// a while, not a rewrite per event.
const shrink = (w: Writer): Effect.Effect<Cut | undefined> =>
  Effect.gen(function*() {
    const { fd, sessionStart, mayShrink } = yield* Ref.get(w.state)
    const target = Math.floor(w.maxBytes * 0.75)
    if (!mayShrink) return undefined
    const content = yield* attempt(() => randomAccess(fd).read(0, fs.fstatSync(fd).size))
    if (content.length <= target) return undefined
    const cut = cutToBound(content, target, sessionStart)
    if (cut === undefined) return yield* Effect.as(set(w, { mayShrink: false }), undefined)
    yield* replace(w, content.subarray(cut.bytes))
    yield* set(w, { sessionStart: sessionStart - cut.bytes })
    return cut
  }).pipe(Effect.catch((error) =>
    Effect.as(Effect.andThen(set(w, { mayShrink: false }), cannotKeep(w)(error)), undefined)
  ))

// What a journal begun again, truncated or moved must hold for previous
// state and `status`: this session's `acquired lock`, why, the services
// known, those held down and the processes still running (earlier sessions' leftovers not
// yet cleaned up included), so that nothing running is ever forgotten.
const carried = (w: Writer, time: number, why: JournalEvent) =>
  Effect.map(Ref.get(w.state), ({ running }): ReadonlyArray<JournalEntry> => [
    w.acquired,
    { time, ...why },
    ...running.services.map((name): JournalEntry => ({ time, ...Events.listModified("add", name) })),
    ...running.held.map((name): JournalEntry => ({ time, ...Events.requested("stop", name, { restored: true }) })),
    ...running.processes
  ])

const carryOver = (w: Writer, time: number, why: JournalEvent) =>
  Effect.flatMap(carried(w, time, why), (entries) => Effect.forEach(entries, (entry) => record(w, entry), { discard: true }))

// The current session alone outgrew the bound (a long run, a crash loop):
// the journal begins again with what it must hold. A bound too small even
// for that would rewrite the journal at every event: said once, it grows.
const beginAgain = (w: Writer, time: number): Effect.Effect<boolean> =>
  Effect.gen(function*() {
    const why = `the current session passed ${w.maxBytes} bytes: the journal begins again with what is running`
    const entries = yield* carried(w, time, Events.logTruncated(why))
    const content = Buffer.from(entries.map((entry) => encodeLine(entry) + "\n").join(""))
    if (content.length > w.maxBytes / 2) {
      if (!(yield* Ref.get(w.state)).saidTooBig) {
        const needs = `what is running alone needs ${content.length}`
        yield* w.human.notice(`the journal ${w.file} cannot be kept under ${w.maxBytes} bytes: ${needs}`)
      }
      return yield* Effect.as(set(w, { saidTooBig: true }), false)
    }
    return yield* replace(w, content).pipe(
      Effect.andThen(set(w, { sessionStart: 0, mayShrink: true })),
      Effect.andThen(Effect.forEach(entries, w.human.event, { discard: true })),
      Effect.as(true),
      Effect.catch((error) => Effect.as(cannotKeep(w)(error), false))
    )
  })

// Keeps the journal within its bound before a line of `bytes` would pass
// it: drops old sessions or, when that is not allowed or not enough, begins
// the journal again. Not while the journal cannot be written.
const makeRoom = (w: Writer, size: number, bytes: number, time: number) =>
  Effect.gen(function*() {
    if (size + bytes <= w.maxBytes || (yield* Ref.get(w.state)).outage) return { size }
    const cut = yield* shrink(w)
    const after = yield* sizeNow(w)
    if (cut !== undefined && after + bytes <= w.maxBytes) return { size: after, cut: shrunk(w, cut) }
    const beganAgain = yield* beginAgain(w, time)
    return { size: beganAgain ? yield* sizeNow(w) : after, beganAgain }
  })

// Writes one entry (shown on the human log when `echo`): first what a
// truncation under the writer (`: > journal`) must write again, then the
// room the bound needs. False when a journal begun again holds it already.
const writeEntry = (w: Writer, entry: JournalEntry, echo: boolean): Effect.Effect<boolean, unknown> =>
  Effect.gen(function*() {
    let size = yield* sizeNow(w)
    const { end } = yield* Ref.get(w.state)
    if (end !== undefined && size < end) {
      yield* set(w, { end: undefined })
      yield* carryOver(w, entry.time, Events.warning("journal", "the journal was truncated: continuing with what is running"))
      size = yield* sizeNow(w)
    }
    const line = Buffer.from(encodeLine(entry) + "\n")
    const room = yield* makeRoom(w, size, line.length, entry.time)
    if (room.beganAgain === true && entry === w.acquired) return false
    yield* Ref.update(w.state, (state) => ({ ...state, running: Running.step(state.running, entry) }))
    if (echo) yield* w.human.event(entry)
    yield* writeLine((yield* Ref.get(w.state)).fd, line, room.size)
    yield* set(w, { end: room.size + line.length })
    if (room.cut !== undefined) yield* record(w, { time: entry.time, ...room.cut })
    return true
  })

// Writes an entry, counting what is lost while the journal cannot be
// written (said once per outage); once it can be again, says how many were
// lost and writes the lost spawns of processes still running again, so
// that the next start's previous state knows them. `echo` false: an
// appended entry, shown when it was appended.
const record = (w: Writer, entry: JournalEntry, echo = true): Effect.Effect<void> =>
  writeEntry(w, entry, echo).pipe(Effect.matchEffect({
    onFailure: (error) => lose(w, entry, error),
    onSuccess: () =>
      Effect.gen(function*() {
        const { outage, running } = yield* Ref.get(w.state)
        if (outage === undefined) return
        yield* set(w, { outage: undefined })
        yield* w.human.notice(`the journal ${w.file} is writable again`)
        const lost = Events.warning("journal", `the journal could not be written: ${outage.lost} events lost`)
        yield* record(w, { time: entry.time, ...lost })
        const stillRunning = running.processes.filter((spawned) => outage.spawns.includes(spawned))
        yield* Effect.forEach(stillRunning, (spawned) => record(w, spawned), { discard: true })
      })
  }))

// An entry not written: counted as lost (said once per outage), a spawn kept.
const lose = (w: Writer, entry: JournalEntry, error: unknown) =>
  Effect.gen(function*() {
    const { outage } = yield* Ref.get(w.state)
    if (outage === undefined) yield* w.human.notice(`cannot write the journal ${w.file}: ${errorMessage(error)}`)
    const spawns = outage?.spawns ?? []
    yield* set(w, { outage: { lost: (outage?.lost ?? 0) + 1, spawns: entry.type === "process spawned" ? [...spawns, entry] : spawns } })
  })

// Appended entries, in one write(2) when nothing stands in the way: the
// bound, a truncation under the writer, an outage and an entry that cannot
// be encoded are each handled one entry at a time, by `record`; so is a
// write that fails (a disk that fills mid-write keeps the lines that fit).
const writeTogether = (w: Writer, entries: ReadonlyArray<JournalEntry>): Effect.Effect<void> =>
  Effect.gen(function*() {
    const oneByOne = Effect.forEach(entries, (entry) => Effect.catchDefect(record(w, entry, false), said(w)), {
      discard: true
    })
    const { fd, end, outage, running } = yield* Ref.get(w.state)
    const size = yield* Effect.option(sizeNow(w))
    const lines = yield* Effect.option(attempt(() => entries.map((entry) => Buffer.from(encodeLine(entry) + "\n"))))
    const bytes = lines._tag === "Some" ? lines.value.reduce((sum, line) => sum + line.length, 0) : 0
    if (
      entries.length === 1 || outage !== undefined || size._tag === "None" || lines._tag === "None" ||
      (end !== undefined && size.value < end) || size.value + bytes > w.maxBytes
    ) {
      return yield* oneByOne
    }
    yield* Ref.update(w.state, (state) => ({ ...state, running: entries.reduce(Running.step, state.running) }))
    yield* writeLine(fd, Buffer.concat(lines.value, bytes), size.value).pipe(
      Effect.matchEffect({
        // Cut back to where it began (`writeLine`): the lines are tried again, each alone.
        onFailure: () => Effect.andThen(set(w, { running }), oneByOne),
        onSuccess: () => set(w, { end: size.value + bytes })
      })
    )
  })

// A defect (an event that cannot be encoded) is said, and ends only its own
// job: the writer goes on.
const said = (w: Writer) => (defect: unknown) => w.human.notice(`journal: ${defect}`)

// Runs what the writer took from its queue: the entries, in order and
// together, then the other jobs, in order. A flush then answers for what
// was appended before it (and a little more); a look at the path runs as
// if its event had come a moment later (the journal's own writes raise
// one, which would otherwise cut every group in two).
const work = (w: Writer, jobs: ReadonlyArray<Job>): Effect.Effect<void> =>
  Effect.gen(function*() {
    const entries = jobs.flatMap((job) => "entry" in job ? [job.entry] : [])
    if (entries.length > 0) yield* Effect.catchDefect(writeTogether(w, entries), said(w))
    for (const job of jobs) if ("run" in job) yield* Effect.catchDefect(Effect.asVoid(job.run), said(w))
  })

// The lock is on the file, not on its path: if the file is moved away or
// removed, the next cron run would lock a new file at the path and start a
// second daemon. So when the path no longer leads to the journal, lock a
// new one there and carry over what it must hold; failing that, the
// journal is lost (the daemon must stop).
const reopen = (w: Writer) =>
  Effect.gen(function*() {
    const { fd: previous } = yield* Ref.get(w.state)
    if (yield* Effect.sync(() => isFileAt(previous, w.file))) return
    const next = yield* Effect.exit(openJournal(w.system, w.file))
    if (Exit.isFailure(next)) {
      yield* w.human.notice(`the journal ${w.file} was moved or removed, and cannot be locked again`)
      return yield* Deferred.succeed(w.lost, undefined)
    }
    yield* Effect.sync(() => fs.closeSync(previous))
    yield* set(w, { fd: next.value, end: undefined })
    yield* set(w, { sessionStart: yield* Effect.orElseSucceed(sizeNow(w), () => 0) })
    yield* watch(w)
    const time = yield* Clock.currentTimeMillis
    yield* carryOver(w, time, Events.warning("journal", "the journal was moved or removed: continuing in a new file"))
  })

// Watches the path (the lock is on the file): any event, our own writes
// included, queues a look at whether it still leads to the journal, unless
// one is queued and has not begun (one look answers for every event before it).
const watch = (w: Writer) =>
  Effect.flatMap(Ref.get(w.watcher), (previous) =>
    Effect.sync(() => {
      previous?.close()
      let queued = false
      const look = Effect.andThen(Effect.sync(() => (queued = false)), reopen(w))
      const onEvent = () => {
        if (!queued) queued = Queue.offerUnsafe(w.queue, { run: look })
      }
      try {
        return fs.watch(w.file, { persistent: false }, onEvent).on("error", onEvent)
      } catch {
        return undefined
      }
    })).pipe(Effect.flatMap((next) => Ref.set(w.watcher, next)))

// An earlier session's process, as the spawn that started it.
const spawnOf = (leftover: Leftover): JournalEntry => ({
  time: leftover.spawnedAt,
  ...Events.spawned(leftover.file, leftover.pid, {
    ...(leftover.pgid === undefined ? {} : { pgid: leftover.pgid }),
    ...(leftover.startTime === undefined ? {} : { start_time: leftover.startTime })
  })
})

/**
 * The journal on disk, locked for the life of the layer; closing it writes
 * what was appended first. Events are shown on the `HumanLog`.
 *
 * @example
 * ```ts
 * JournalFile.layer({ path: "/home/me/.config/cronmon/journal.json" }).pipe(Layer.provide(HumanLogConsole.layer))
 * ```
 * @since 0.1.0
 */
export const layer = (options: Options): Layer.Layer<Journal, JournalLocked | JournalUnavailable, System> =>
  Layer.effect(
    Journal,
    Effect.gen(function*() {
      const file = path.resolve(options.path)
      const maxBytes = options.maxBytes ?? Infinity
      const system = yield* System
      const human = yield* HumanLog
      const fd = yield* openJournal(system, file)
      const state = yield* Ref.make<State>({
        fd,
        end: undefined,
        sessionStart: 0,
        mayShrink: Number.isFinite(maxBytes),
        saidTooBig: false,
        running: Running.empty,
        outage: undefined
      })
      yield* Effect.addFinalizer(() => Effect.flatMap(Ref.get(state), (current) => Effect.sync(() => fs.closeSync(current.fd))))
      const { cut, previousState, size } = yield* Effect.try({
        try: () => {
          // Left by a daemon that crashed while compacting: its journal is whole.
          removeQuietly(compactingPath(file))
          const cut = repairTail(fd)
          return { cut, previousState: previousStateOf(linesBackward(randomAccess(fd))), size: fs.fstatSync(fd).size }
        },
        catch: (error) => new JournalUnavailable({ path: file, reason: errorMessage(error) })
      })
      // Earlier sessions' leftovers run until this session says they exited;
      // their holds last until this session releases them.
      const running = { ...Running.fold(previousState.leftovers.map(spawnOf)), held: previousState.held }
      yield* Ref.update(state, (current) => ({ ...current, sessionStart: size, running }))
      const queue = yield* Queue.unbounded<Job>()
      const watcher = yield* Ref.make<fs.FSWatcher | undefined>(undefined)
      const lost = yield* Deferred.make<void>()
      const id = `file:${file}${human.echoes ? "+stderr" : ""}`
      const acquired: JournalEntry = {
        time: yield* Clock.currentTimeMillis,
        ...Events.acquiredLock(id, process.pid, options.restartPolicy, options.scriptsDir)
      }
      const w: Writer = { file, maxBytes, state, queue, watcher, human, system, acquired, lost }
      yield* Effect.acquireRelease(watch(w), () => Effect.flatMap(Ref.get(watcher), (last) => Effect.sync(() => last?.close())))
      const feed = yield* JournalFeed.make
      yield* feed.publish(acquired)
      const append = (event: JournalEvent) =>
        Effect.flatMap(Clock.currentTimeMillis, (time) => {
          const entry: JournalEntry = { time, ...event }
          return Effect.andThen(human.event(entry), Queue.offer(queue, { entry })).pipe(
            Effect.andThen(feed.publish(entry))
          )
        })
      const flush = Effect.flatMap(
        Deferred.make<void>(),
        (done) => Effect.andThen(Queue.offer(queue, { run: Deferred.succeed(done, undefined) }), Deferred.await(done))
      )

      const shrunkAtOpen = size > maxBytes ? yield* shrink(w) : undefined
      // A journal that cannot be written now is an error, not an outage.
      const written = yield* writeEntry(w, acquired, false).pipe(Effect.mapError((error) =>
        new JournalUnavailable({ path: file, reason: `cannot write to it: ${errorMessage(error)}` })
      ))
      if (written) yield* human.event(acquired)
      if (cut !== undefined) yield* append(Events.logTruncated(cut))
      if (shrunkAtOpen !== undefined) yield* append(shrunk(w, shrunkAtOpen))
      if (previousState.badLines > 0) {
        yield* append(Events.warning("journal", `${previousState.badLines} unreadable lines skipped`))
      }

      yield* Effect.forkScoped(Effect.forever(Effect.flatMap(Queue.takeAll(queue), (jobs) => work(w, jobs))))
      // Runs first when the layer closes: what was appended is on disk
      // before the lock is released.
      yield* Effect.addFinalizer(() => flush)
      return Journal.of({
        id,
        append,
        flush,
        previousState,
        lost: Deferred.await(lost),
        events: feed.events,
        sessionStatus: feed.sessionStatus
      })
    })
  )
