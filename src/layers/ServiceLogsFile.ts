/**
 * Services' output appended to `NAME.log` in the logs directory.
 *
 * @since 0.1.0
 */
import { Effect, Layer, Stream } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { errorMessage } from "../domain/Errors.ts"
import { Events } from "../domain/JournalEvent.ts"
import { Journal } from "../services/Journal.ts"
import { ServiceLogs } from "../services/ServiceLogs.ts"
import { Settings } from "../services/Settings.ts"
import { ensureDirectory } from "./Directories.ts"

/**
 * The live `ServiceLogs`: the logs directory is created (0750) when missing,
 * each log (0600) is opened for appending for as long as output flows.
 *
 * @since 0.1.0
 */
export const layer: Layer.Layer<ServiceLogs, never, Journal | Settings> = Layer.effect(
  ServiceLogs,
  Effect.gen(function*() {
    const journal = yield* Journal
    const { logsDir } = yield* Settings
    const warn = (error: string) => journal.append(Events.warning("logs", error))
    const open = (file: string) =>
      Effect.tryPromise({
        try: () => {
          ensureDirectory(logsDir, 0o750)
          return fs.promises.open(file, "a", 0o600)
        },
        catch: errorMessage
      })
    const appendAll = (file: string, handle: fs.promises.FileHandle, output: Stream.Stream<Uint8Array, unknown>) => {
      // One warning per outage (a full disk), not one per chunk.
      let failing = false
      const append = (chunk: Uint8Array) =>
        Effect.tryPromise({ try: () => handle.write(chunk), catch: errorMessage }).pipe(
          Effect.andThen(Effect.sync(() => {
            failing = false
          })),
          Effect.catch((reason) => {
            const first = !failing
            failing = true
            return first ? warn(`${file}: output dropped: ${reason}`) : Effect.void
          })
        )
      return Effect.ignore(Stream.runForEach(output, append))
    }
    return ServiceLogs.of({
      write: (name, output) => {
        const file = path.join(logsDir, `${name}.log`)
        return Effect.acquireUseRelease(
          open(file),
          (handle) => appendAll(file, handle, output),
          (handle) => Effect.promise(() => handle.close())
        ).pipe(
          // Still drain the output of a service whose log cannot be opened,
          // so that it never blocks on a full pipe.
          Effect.catch((reason) =>
            Effect.andThen(warn(`${file}: cannot open: ${reason}`), Effect.ignore(Stream.runDrain(output)))
          )
        )
      }
    })
  })
)
