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
import { Cause, Deferred, Effect, Exit, Layer, Queue, Stream } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { fingerprintOf, type Fingerprint, isIgnoredName, type ScriptChange } from "../domain/ServiceFile.ts"
import { makeSettler } from "../domain/Settler.ts"
import { Settings } from "../services/Settings.ts"
import { Watcher, WatchError } from "../services/Watcher.ts"

const reasonOf = (error: unknown): string =>
  error instanceof Error ? ("code" in error && typeof error.code === "string" ? error.code : error.message) : String(error)

const watchedPathOf = (details: unknown): string | undefined =>
  typeof details === "object" && details !== null && "watchedPath" in details &&
    typeof details.watchedPath === "string"
    ? details.watchedPath
    : undefined

/**
 * The service fingerprint of `dir/name` now (following a symlink), or
 * `undefined` when it is missing or not an executable regular file.
 *
 * @since 0.1.0
 */
export const inspectFile = (dir: string, name: string): Effect.Effect<Fingerprint | undefined> =>
  Effect.callback<Fingerprint | undefined>((resume) => {
    fs.stat(path.join(dir, name), (error, stats) => resume(Effect.succeed(error ? undefined : fingerprintOf(stats))))
  })

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

/**
 * Changes of the services in `dir`: the initial scan as `Add`s, then settled
 * differences.
 *
 * @since 0.1.0
 */
export const watchScripts = (dir: string, settleTime: Settings["Service"]["settleTime"]) =>
  Stream.callback<ScriptChange, WatchError>((queue) =>
    Effect.gen(function*() {
      const hints = yield* Queue.unbounded<string>()
      const watcher = yield* Effect.acquireRelease(
        Effect.sync(() => watch(dir, { depth: 0, ignoreInitial: true, atomic: false, persistent: true })),
        (watcher) => Effect.promise(() => watcher.close())
      )
      const hint = (name: string) => void Queue.offerUnsafe(hints, name)
      watcher.on("all", (_event, changed) => {
        if (path.dirname(changed) === dir) hint(path.basename(changed))
      })
      watcher.on("raw", (_event, changed, details) => {
        const watched = watchedPathOf(details)
        if (watched === dir && changed !== null) hint(changed)
        else if (watched !== undefined && path.dirname(watched) === dir) hint(path.basename(watched))
      })
      // An error before chokidar is ready (no inotify watches left, say)
      // still lets the initial scan through: the services found then run,
      // and the stream fails after their `Add`s.
      let scanned = false
      let startupError: WatchError | undefined
      const started = yield* Deferred.make<void>()
      watcher.on("error", (error) => {
        const failure = new WatchError({ path: dir, reason: reasonOf(error) })
        if (scanned) Queue.failCauseUnsafe(queue, Cause.fail(failure))
        else startupError ??= failure
        Deferred.doneUnsafe(started, Exit.void)
      })
      watcher.once("ready", () => Deferred.doneUnsafe(started, Exit.void))
      yield* Deferred.await(started)
      const settler = yield* makeSettler({
        inspect: (name) => inspectFile(dir, name),
        settleTime,
        emit: (change) => Effect.sync(() => Queue.offerUnsafe(queue, change))
      })
      // Scanned after chokidar is ready: a file created in between is both
      // scanned and hinted, and the settler emits it once.
      yield* Effect.forEach(yield* listNames(dir), settler.check, { discard: true })
      scanned = true
      if (startupError !== undefined) Queue.failCauseUnsafe(queue, Cause.fail(startupError))
      else yield* Effect.forkScoped(Stream.runForEach(Stream.fromQueue(hints), settler.hint))
    })
  )

/**
 * The live `Watcher` on the scripts directory of `Settings`.
 *
 * @since 0.1.0
 */
export const layer: Layer.Layer<Watcher, never, Settings> = Layer.effect(
  Watcher,
  Settings.useSync(({ scriptsDir, settleTime }) => Watcher.of({ changes: watchScripts(scriptsDir, settleTime) }))
)
