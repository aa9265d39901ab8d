/**
 * Services' output appended to `NAME.log` in the logs directory, rotated by
 * size (`NAME.log.1` … `NAME.log.N`), optionally time-stamped per line.
 *
 * @since 0.1.0
 */
import { Effect, Layer, Stream } from "effect"
import * as path from "node:path"
import { Events } from "../domain/JournalEvent.ts"
import { Journal } from "../services/Journal.ts"
import { ServiceLogs } from "../services/ServiceLogs.ts"
import { Settings } from "../services/Settings.ts"
import { RotatingLog } from "./RotatingLog.ts"

/**
 * The live `ServiceLogs`. Every writer of one name (a service's run, and
 * processes an earlier run left behind that still print) shares one
 * `RotatingLog`, so that rotation is decided in one place; it is closed
 * when the last of them ends. Output is read as fast as it comes: a slow or
 * full disk drops output with a rate-limited `warning`, never blocks the
 * service.
 *
 * @since 0.1.0
 */
export const layer: Layer.Layer<ServiceLogs, never, Journal | Settings> = Layer.effect(
  ServiceLogs,
  Effect.gen(function*() {
    const journal = yield* Journal
    const settings = yield* Settings
    const warn = (error: string) => {
      Effect.runFork(journal.append(Events.warning("logs", error)))
    }
    const open = new Map<string, { readonly log: RotatingLog; users: number }>()
    // A log being closed is finished before the next one of that name opens.
    const closing = new Map<string, Promise<void>>()

    const acquire = (name: string) =>
      Effect.promise(async () => {
        await closing.get(name)
        const current = open.get(name)
        if (current !== undefined) {
          current.users++
          return current.log
        }
        const log = new RotatingLog({
          file: path.join(settings.logsDir, `${name}.log`),
          maxBytes: settings.logMaxBytes,
          keep: settings.logKeep,
          timestamps: settings.logTimestamps,
          now: Date.now,
          warn
        })
        open.set(name, { log, users: 1 })
        return log
      })

    const release = (name: string) =>
      Effect.promise(async () => {
        const current = open.get(name)
        if (current === undefined || --current.users > 0) return
        open.delete(name)
        const done = current.log.close().catch(() => {}).finally(() => closing.delete(name))
        closing.set(name, done)
        await done
      })

    return ServiceLogs.of({
      write: (name, output) =>
        Effect.acquireUseRelease(
          acquire(name),
          (log) =>
            // Behind the disk, stop taking output: the pipe fills and the
            // service waits, as it would writing to the file itself, rather
            // than lose lines (dropped only when the disk stalls or fails).
            Effect.ignore(Stream.runForEach(output, (chunk) =>
              Effect.andThen(
                Effect.sync(() => log.push(chunk)),
                Effect.suspend(() => log.behind ? Effect.promise(() => log.room()) : Effect.void)
              ))).pipe(
              Effect.ensuring(Effect.sync(() => log.endLine()))
            ),
          () => release(name)
        )
    })
  })
)
