/**
 * `cronmon cron`: the crontab lines that keep cronmon running.
 *
 * @since 0.1.0
 */
import { Console, Data, Duration, Effect, Equal } from "effect"
import { DAEMON_FLAGS } from "../domain/DaemonFlags.ts"
import { defaultSettings, type SettingsShape } from "../services/Settings.ts"

/**
 * A word of the command (a path) holds a newline, which no crontab line can.
 *
 * @since 0.1.0
 */
export class NewlineInPath extends Data.TaggedError("NewlineInPath")<{ readonly word: string }> {
  override get message() {
    return `a path holds a newline, which no crontab line can: ${JSON.stringify(this.word)}`
  }
}

/**
 * Quotes a word for the shell cron runs (`/bin/sh`); `%` is escaped because
 * cron turns it into a newline.
 *
 * @since 0.1.0
 */
export const quote = (word: string): string => `'${word.replaceAll("'", `'\\''`).replaceAll("%", "\\%")}'`

/**
 * The crontab: start at boot, and every minute (a no-op while a daemon holds
 * the journal). Output goes nowhere: the journal is the record, and a line on
 * stderr every minute would become a mail every minute.
 *
 * @example
 * ```ts
 * crontab(["/usr/bin/node", "/opt/cronmon/dist/cronmon.js", "-j", "/home/me/j.json"])
 * ```
 * @since 0.1.0
 */
export const crontab = (command: ReadonlyArray<string>): string => {
  const line = `${command.map(quote).join(" ")} >/dev/null 2>&1`
  return [
    "# cronmon: keep every executable of the scripts directory running.",
    // Adding to the crontab, not replacing it: `cronmon cron | crontab -` would drop the user's entries.
    "# Add to your crontab, keeping its entries: (crontab -l 2>/dev/null; cronmon cron) | crontab -",
    `@reboot ${line}`,
    `* * * * * ${line}`,
    ""
  ].join("\n")
}

// The settings that differ from the defaults, as the daemon's flags again.
const nonDefaultArguments = (settings: SettingsShape): Array<string> =>
  (["stopTimeout", "journalMaxBytes", "strictModes", "logMaxBytes", "logKeep", "logTimestamps"] as const).flatMap((key) => {
    const value = settings[key]
    const { name } = DAEMON_FLAGS[key]
    if (Equal.equals(value, defaultSettings[key])) return []
    if (typeof value === "boolean") return [value ? `--${name}` : `--no-${name}`]
    return [`--${name}`, Duration.isDuration(value) ? `${Duration.toMillis(value)}ms` : `${value}`]
  })

/**
 * Prints the crontab that runs `self` (node and cronmon's script, absolute)
 * on `settings`: its paths, and each other setting that is not the default.
 * Fails with `NewlineInPath` when a path holds a newline.
 *
 * @since 0.1.0
 */
export const cronCommand = (self: ReadonlyArray<string>, settings: SettingsShape): Effect.Effect<void, NewlineInPath> => {
  const paths = ["-j", settings.journalPath, "-s", settings.scriptsDir, "--logs", settings.logsDir]
  const words = [...self, ...paths, ...nonDefaultArguments(settings)]
  // A crontab entry is one line: no quoting carries a newline through.
  const broken = words.find((word) => /[\n\r]/.test(word))
  return broken === undefined ? Console.log(crontab(words).trimEnd()) : Effect.fail(new NewlineInPath({ word: broken }))
}
