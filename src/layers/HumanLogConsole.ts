/**
 * The human log on stderr through Effect's `Console` (which a test's
 * `TestConsole` captures), or each event handed to a function.
 *
 * @since 0.1.0
 */
import { Console, Effect, Layer } from "effect"
import { formatHuman } from "../domain/JournalEvent.ts"
import { HumanLog } from "../services/HumanLog.ts"

/** Each event as a readable line given to `echo`; notices on stderr. @since 0.1.0 */
export const layerEcho = (echo: (line: string) => Effect.Effect<void>): Layer.Layer<never> =>
  Layer.succeed(HumanLog, { ...HumanLog.defaultValue(), echoes: true, event: (entry) => echo(formatHuman(entry)) })

/**
 * The `echo` option of `Cronmon.Options`: each event as a readable line
 * handed to it; nothing (the `HumanLog` in context) when it is not given.
 *
 * @since 0.1.0
 */
export const layerEchoOption = (echo: ((line: string) => void) | undefined): Layer.Layer<never> =>
  echo === undefined ? Layer.empty : layerEcho((line) => Effect.sync(() => echo(line)))

/** Every event and every notice on stderr, as the daemon shows them. @since 0.1.0 */
export const layer: Layer.Layer<never> = layerEcho((line) => Console.error(line))
