/**
 * Services' output appended to `NAME.log` in the logs directory (see
 * `RotatingLog` for pacing, rotation and timestamps).
 *
 * @since 0.1.0
 */
import { Effect, Layer, RcMap, Stream } from "effect"
import * as path from "node:path"
import { Events } from "../domain/JournalEvent.ts"
import { Journal } from "../services/Journal.ts"
import { ServiceLogs } from "../services/ServiceLogs.ts"
import { Settings } from "../services/Settings.ts"
import * as RotatingLog from "../internal/RotatingLog.ts"

/**
 * The live `ServiceLogs`. Every writer of one name (a service's runs, and
 * processes an earlier run left behind that still print) shares one
 * `RotatingLog`, so that rotation is decided in one place. The last of them
 * to end has written all it held (`endLine`), so the log is closed at once,
 * its descriptor and memory released; a later writer opens it again.
 *
 * @since 0.1.0
 */
export const layer: Layer.Layer<ServiceLogs, never, Journal | Settings> = Layer.effect(
  ServiceLogs,
  Effect.gen(function*() {
    const journal = yield* Journal
    const settings = yield* Settings
    const warn = (message: string) => journal.append(Events.warning("logs", message))
    const logs = yield* RcMap.make({
      lookup: (name: string) =>
        RotatingLog.make({
          file: path.join(settings.logsDir, `${name}.log`),
          maxBytes: settings.logMaxBytes,
          keep: settings.logKeep,
          timestamps: settings.logTimestamps,
          warn
        })
    })
    return ServiceLogs.of({
      write: (name, output) =>
        RcMap.get(logs, name).pipe(
          Effect.flatMap((log) => Stream.runForEachArray(output, log.write).pipe(Effect.ignore, Effect.ensuring(log.endLine))),
          Effect.scoped
        )
    })
  })
)
