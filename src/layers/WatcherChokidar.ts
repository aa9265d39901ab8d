/**
 * The live `Watcher`: chokidar on the top level of the scripts directory.
 *
 * chokidar's own events miss `chmod ±x` (it reports a change only when the
 * modification time moves), so its raw events, one per inotify event of the
 * directory, are used as hints too; the settler then looks at the file itself.
 *
 * @since 0.1.0
 */
import { watch } from "chokidar"
import { type Duration, Deferred, Effect, Exit, Layer, Queue, Stream } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { isIgnoredName, type WatcherEvent } from "../domain/ServiceFile.ts"
import { inspectFile, strictModesUid } from "../internal/ScriptInspection.ts"
import { makeSettler, type Settler } from "../internal/Settler.ts"
import { errorCode, errorMessage } from "../domain/Errors.ts"
import { Events } from "../domain/JournalEvent.ts"
import { Journal } from "../services/Journal.ts"
import { Settings } from "../services/Settings.ts"
import { Watcher, WatchError } from "../services/Watcher.ts"

const reasonOf = (error: unknown): string => errorCode(error) ?? errorMessage(error)

const watchedPathOf = (details: unknown): string | undefined =>
  typeof details === "object" && details !== null && "watchedPath" in details &&
    typeof details.watchedPath === "string"
    ? details.watchedPath
    : undefined

/**
 * The names in the scripts directory that may be services.
 *
 * @since 0.1.0
 */
export const listNames = (dir: string): Effect.Effect<ReadonlyArray<string>, WatchError> =>
  Effect.tryPromise({
    try: () => fs.promises.readdir(dir),
    catch: (error) => new WatchError({ path: dir, reason: reasonOf(error) })
  }).pipe(Effect.map((names) => names.filter((name) => !isIgnoredName(name)).sort()))

const isReadable = (dir: string): boolean => {
  try {
    fs.accessSync(dir, fs.constants.R_OK | fs.constants.X_OK)
    return true
  } catch {
    return false
  }
}

const directoryIdentity = (dir: string): string | undefined => {
  try {
    const stats = fs.statSync(dir)
    return stats.isDirectory() ? `${stats.dev}:${stats.ino}` : undefined
  } catch {
    return undefined
  }
}

/**
 * Watches `dir` until the watch breaks: the directory is removed, replaced
 * (moved, re-created, a symlink to it swapped) or chokidar fails. Rescans
 * once watching, so the settler emits whatever changed meanwhile, then runs
 * `scanned`. Returns why it ended.
 */
const watchSession = (
  dir: string,
  settler: Settler,
  hint: (name: string) => void,
  warn: (message: string) => Effect.Effect<void>,
  scanned: Effect.Effect<void>
) =>
  Effect.scoped(Effect.gen(function*() {
    const identity = directoryIdentity(dir)
    if (identity === undefined) return "missing"
    const ended = yield* Deferred.make<string>()
    const end = (reason: string) => Deferred.doneUnsafe(ended, Exit.succeed(reason))
    const watcher = yield* Effect.acquireRelease(
      Effect.sync(() => watch(dir, { depth: 0, ignoreInitial: true, atomic: false, persistent: true })),
      (watcher) => Effect.promise(() => watcher.close())
    )
    watcher.on("all", (event, changed) => {
      if (changed === dir && event === "unlinkDir") end("the scripts directory was removed")
      else if (path.dirname(changed) === dir) hint(path.basename(changed))
    })
    // A chmod or chown of the directory itself: every file is looked at
    // again (strict modes judge the directory too).
    const rescans = yield* Queue.sliding<void>(1)
    watcher.on("raw", (_event, changed, details) => {
      const watched = watchedPathOf(details)
      // The directory's own events come named after the path watched (a
      // symlink's name, when the scripts path is one).
      if (watched === dir && changed === path.basename(dir)) Queue.offerUnsafe(rescans, undefined)
      if (watched === dir && changed !== null) hint(changed)
      else if (watched !== undefined && path.dirname(watched) === dir) hint(path.basename(watched))
    })
    // An error about one entry (a symlink loop, a file gone mid-scan) is
    // said once; only an error about the directory itself ends the session.
    const said = new Set<string>()
    const entryErrors = yield* Queue.unbounded<string>()
    yield* Effect.forkScoped(Stream.runForEach(Stream.fromQueue(entryErrors), (reason) => warn(`watching: ${reason}`)))
    watcher.on("error", (error) => {
      const about = error instanceof Error && "path" in error && typeof error.path === "string" ? error.path : dir
      const reason = `${reasonOf(error)} on ${about}`
      if (path.resolve(about) === dir) return end(`watching failed: ${reason}`)
      // An entry of a directory that cannot be read: the rescan says it once.
      if (!isReadable(dir)) return
      if (!said.has(reason)) {
        said.add(reason)
        Queue.offerUnsafe(entryErrors, reason)
      }
    })
    // The parent shows the path itself being moved, re-created or
    // re-pointed, and the directory's own chmod or chown too.
    // A directory that cannot be listed (chmod 000 while watched) is said
    // once; what can no longer be seen stops, and comes back with it.
    let unreadable = false
    const rescan = Effect.gen(function*() {
      const listed = yield* Effect.result(listNames(dir))
      if (listed._tag === "Failure") {
        if (!unreadable) {
          yield* warn(
            `the scripts directory ${dir} cannot be read (${listed.failure.reason}): services of files no longer ` +
              "seen stop, and start again when it can be read"
          )
        }
        unreadable = true
        return yield* settler.checkAll([])
      }
      if (unreadable) yield* warn(`the scripts directory ${dir} can be read again`)
      unreadable = false
      yield* settler.checkAll(listed.success)
    })
    yield* Effect.forkScoped(Stream.runForEach(Stream.fromQueue(rescans), () => rescan))
    const parent = path.dirname(dir)
    yield* Effect.acquireRelease(
      Effect.sync(() => {
        try {
          return fs.watch(parent, { persistent: false }, (_event, name) => {
            if (name !== path.basename(dir)) return
            if (directoryIdentity(dir) !== identity) end("the scripts directory was replaced")
            else Queue.offerUnsafe(rescans, undefined)
          }).on("error", () => {})
        } catch {
          return undefined
        }
      }),
      (parentWatcher) => Effect.sync(() => parentWatcher?.close())
    )
    yield* Effect.raceFirst(
      Effect.callback<void>((resume) => {
        watcher.once("ready", () => resume(Effect.void))
      }),
      Deferred.await(ended)
    )
    // Rescanned once chokidar is ready: a file created in between is both
    // scanned and hinted, and the settler emits it once.
    yield* rescan
    yield* scanned
    return yield* Deferred.await(ended)
  }))

/**
 * Changes of the services in `dir`: the initial scan as `Add`s and
 * `Scanned` (once, also when the directory is missing), then settled
 * differences. It does not end: when the directory goes (removed, replaced,
 * unreadable) or the watch fails, the services of files no longer there are
 * removed, a warning is journaled, and watching resumes once the directory
 * is back (checked every `retry` while it is missing).
 *
 * @since 0.1.0
 */
export const watchScripts = (
  dir: string,
  settleTime: Duration.Duration,
  warn: (message: string) => Effect.Effect<void> = () => Effect.void,
  retry: Duration.Input = "1 second",
  strictModesUid?: number
) =>
  Stream.callback<WatcherEvent, WatchError>((queue) =>
    Effect.gen(function*() {
      const hints = yield* Queue.unbounded<string>()
      const settler = yield* makeSettler({
        inspect: (name) => inspectFile(dir, name, strictModesUid),
        settleTime,
        emit: (change) => Effect.sync(() => Queue.offerUnsafe(queue, change))
      })
      yield* Effect.forkScoped(Stream.runForEach(Stream.fromQueue(hints), settler.hint))
      const hint = (name: string) => void Queue.offerUnsafe(hints, name)
      let firstScan = true
      const scanned = Effect.sync(() => {
        if (firstScan) Queue.offerUnsafe(queue, { _tag: "Scanned" })
        firstScan = false
      })
      const loop = Effect.gen(function*() {
        let missing = false
        for (;;) {
          const reason = yield* watchSession(dir, settler, hint, warn, scanned)
          if (reason === "missing") {
            if (!missing) {
              yield* warn(`the scripts directory ${dir} is missing: its services stop, and start again when it is back`)
              yield* settler.checkAll([])
              yield* scanned
            }
            missing = true
            yield* Effect.sleep(retry)
          } else {
            if (missing) yield* warn(`the scripts directory ${dir} is back: watching it again`)
            else yield* warn(`${reason}: watching ${dir} again`)
            missing = false
            // Never faster than the retry time, whatever keeps failing.
            yield* Effect.sleep(retry)
          }
        }
      })
      yield* Effect.forkScoped(loop)
    })
  )

/**
 * The live `Watcher` on the scripts directory of `Settings`; what goes wrong
 * with the directory is journaled as warnings.
 *
 * @since 0.1.0
 */
export const layer: Layer.Layer<Watcher, never, Settings | Journal> = Layer.effect(
  Watcher,
  Effect.gen(function*() {
    const { scriptsDir, settleTime, strictModes } = yield* Settings
    const journal = yield* Journal
    const uid = strictModesUid(strictModes)
    return Watcher.of({
      changes: watchScripts(
        scriptsDir,
        settleTime,
        (message) => journal.append(Events.warning("watcher", message)),
        "1 second",
        uid
      )
    })
  })
)
