/**
 * `cronmon cron`: the crontab lines that keep cronmon running.
 *
 * @since 0.1.0
 */
import { Console, Data, Duration, Effect } from "effect"
import { AMOUNTS, DAEMON_FLAGS, type FlagSpec, isAmount } from "../domain/DaemonFlags.ts"
import { defaultPaths } from "../domain/Paths.ts"
import { defaultSettings, type SettingsShape } from "../services/Settings.ts"

/**
 * A word of the command (a path) holds a newline, which no crontab line can.
 *
 * @since 0.1.0
 */
export class NewlineInPath extends Data.TaggedError("NewlineInPath")<{ readonly word: string }> {
  override get message() {
    return `a path or variable holds a newline, which no crontab line can: ${JSON.stringify(this.word)}`
  }
}

// A word in single quotes, for `/bin/sh`.
const singleQuoted = (word: string): string => `'${word.replaceAll("'", `'\\''`)}'`

/**
 * Quotes a word for the shell cron runs (`/bin/sh`); `%` is escaped because
 * cron turns it into a newline.
 *
 * @since 0.1.0
 */
export const quote = (word: string): string => singleQuoted(word).replaceAll("%", "\\%")

// A word as typed into a shell (a comment's command is copied, not run by
// cron): bare when nothing in it is special.
const shellWord = (word: string): string => /^[\w@%+=:,./-]+$/.test(word) ? word : singleQuoted(word)

// After each line's command: output goes nowhere (see `crontab`).
const DISCARD_OUTPUT = " >/dev/null 2>&1"

/**
 * Vixie cron (Debian's) reads at most this many characters of a command
 * (`MAX_COMMAND` 1000, with its NUL) and silently cuts the rest.
 *
 * @since 0.1.0
 */
export const VIXIE_MAX_COMMAND = 999

/**
 * What a crontab's lines are made of: the command (Node, cronmon's script
 * and the daemon's flags), the environment it runs with, and the `cronmon
 * cron` flags that print these lines again.
 *
 * @since 0.1.0
 */
export interface CrontabParts {
  readonly command: ReadonlyArray<string>
  readonly environment: ReadonlyArray<readonly [name: string, value: string]>
  readonly again: ReadonlyArray<string>
}

const and = (words: ReadonlyArray<string>): string =>
  words.length <= 1 ? words.join("") : `${words.slice(0, -1).join(", ")} and ${words.at(-1)}`

/**
 * The command of a crontab line: the environment's assignments, then the
 * command's words, each quoted for cron's shell.
 *
 * @since 0.1.0
 */
export const crontabCommand = (parts: Pick<CrontabParts, "command" | "environment">): string =>
  [...parts.environment.map(([name, value]) => `${name}=${quote(value)}`), ...parts.command.map(quote)].join(" ")

/**
 * The crontab: start at boot, and every minute (a no-op while a daemon holds
 * the journal). Output goes nowhere: the journal is the record, and a line on
 * stderr every minute would become a mail every minute. Comments say how to
 * add it, what it runs and with which environment.
 *
 * @example
 * ```ts
 * crontab({ command: ["/usr/bin/node", "/opt/cronmon/dist/cronmon.js", "-j", "/home/me/j.json"], environment: [["PATH", "/usr/bin:/bin"]], again: ["-j", "/home/me/j.json"] })
 * ```
 * @since 0.1.0
 */
export const crontab = (parts: CrontabParts): string => {
  const line = `${crontabCommand(parts)}${DISCARD_OUTPUT}`
  const [node = "", script = ""] = parts.command
  const names = parts.environment.map(([name]) => name)
  const locale = names.filter((name) => name !== "PATH")
  const carried = [...(names.includes("PATH") ? ["PATH"] : []), ...(locale.length === 0 ? [] : [`locale (${and(locale)})`])]
  return [
    "# cronmon: keep every executable of the scripts directory running.",
    // Adding to the crontab, not replacing it: `cronmon cron | crontab -` would drop the user's entries.
    `# Add to your crontab, keeping its entries: (crontab -l 2>/dev/null; ${
      ["cronmon", "cron", ...parts.again].map(shellWord).join(" ")
    }) | crontab -`,
    `# It runs this Node and this cronmon (${node}, ${script}): if either moves, print these lines again.`,
    ...(carried.length === 0 ? [] : [
      `# Services get this ${and(carried)}, not cron's bare environment; a script sets any other variable it needs.`
    ]),
    `@reboot ${line}`,
    `* * * * * ${line}`,
    ""
  ].join("\n")
}

/**
 * What of an environment the crontab lines carry, since cron's is bare
 * (`PATH=/usr/bin:/bin` on Debian): `PATH`, then the locale (`LANG`,
 * `LC_*`), those set and not empty.
 *
 * @example
 * ```ts
 * carriedEnvironment({ LC_TIME: "C", PATH: "/bin", HOME: "/h" }) // [["PATH", "/bin"], ["LC_TIME", "C"]]
 * ```
 * @since 0.1.0
 */
export const carriedEnvironment = (
  env: Readonly<Record<string, string | undefined>>
): Array<readonly [string, string]> =>
  Object.entries(env)
    .flatMap(([name, value]) =>
      value !== undefined && value !== "" && (name === "PATH" || name === "LANG" || name.startsWith("LC_"))
        ? [[name, value] as const]
        : []
    )
    .sort(([a], [b]) => a === "PATH" ? -1 : b === "PATH" ? 1 : a < b ? -1 : a > b ? 1 : 0)

type SettingFlag = Exclude<keyof typeof DAEMON_FLAGS, "scripts" | "journal" | "logs">

// What each setting's flag holds in `settings` (the type asks for every one
// of the table's): milliseconds, bytes, a count, a switch.
const flagValues = (settings: Omit<SettingsShape, "scriptsDir" | "journalPath" | "logsDir">): { readonly [K in SettingFlag]: number | boolean } => ({
  stopTimeout: Duration.toMillis(settings.stopTimeout),
  journalMaxBytes: settings.journalMaxBytes,
  strictModes: settings.strictModes,
  logMaxBytes: settings.logMaxBytes,
  logKeep: settings.logKeep,
  logTimestamps: settings.logTimestamps
})

const keysOf = <K extends string>(record: { readonly [k in K]: unknown }): Array<K> =>
  Object.keys(record).filter((key): key is K => key in record)

/**
 * The settings that differ from the defaults, as the daemon's flags again,
 * each written so that the CLI reads it back to the same value.
 *
 * @example
 * ```ts
 * settingArguments(makeSettings({ ...paths, stopTimeout: Duration.seconds(10) })) // ["--stop-timeout", "10s"]
 * ```
 * @since 0.1.0
 */
export const settingArguments = (settings: SettingsShape): Array<string> => {
  const values = flagValues(settings)
  const defaults = flagValues(defaultSettings)
  return keysOf(values).flatMap((key) => {
    const spec: FlagSpec = DAEMON_FLAGS[key]
    const value = values[key]
    if (value === defaults[key]) return []
    if (typeof value === "boolean") return [value ? `--${spec.name}` : `--no-${spec.name}`]
    return [`--${spec.name}`, isAmount(spec) ? AMOUNTS[spec.kind].format(value) : `${value}`]
  })
}

/**
 * Prints the crontab that runs `self` (node and cronmon's script, absolute)
 * on `settings`: its paths, and each other setting that is not the default,
 * with the `PATH` and locale of `env`. Fails with `NewlineInPath` when a
 * word holds a newline; warns on stderr when the command is longer than
 * Vixie cron reads.
 *
 * @since 0.1.0
 */
export const cronCommand = (
  self: ReadonlyArray<string>,
  settings: SettingsShape,
  env: Readonly<Record<string, string | undefined>>
): Effect.Effect<void, NewlineInPath> => {
  const settingFlags = settingArguments(settings)
  const defaults = defaultPaths(env)
  const pathFlags = ([
    [DAEMON_FLAGS.journal, settings.journalPath, defaults.journal],
    [DAEMON_FLAGS.scripts, settings.scriptsDir, defaults.scripts],
    [DAEMON_FLAGS.logs, settings.logsDir, defaults.logs]
  ] as const).map(([spec, value, fallback]) => ({ flag: "alias" in spec ? `-${spec.alias}` : `--${spec.name}`, value, fallback }))
  const paths = pathFlags.flatMap(({ flag, value }) => [flag, value])
  const given = pathFlags.flatMap(({ flag, value, fallback }) => value === fallback ? [] : [flag, value])
  const parts: CrontabParts = {
    command: [...self, ...paths, ...settingFlags],
    environment: carriedEnvironment(env),
    again: [...given, ...settingFlags]
  }
  // A crontab entry is one line: no quoting carries a newline through.
  const broken = [...parts.command, ...parts.environment.flat()].find((word) => /[\n\r]/.test(word))
  if (broken !== undefined) return Effect.fail(new NewlineInPath({ word: broken }))
  const length = crontabCommand(parts).length + DISCARD_OUTPUT.length
  return Console.log(crontab(parts).trimEnd()).pipe(
    Effect.andThen(length <= VIXIE_MAX_COMMAND ? Effect.void : Console.error(
      `cronmon: warning: these lines' command is ${length} characters long, and Vixie cron (Debian's) ` +
        `cuts commands at ${VIXIE_MAX_COMMAND}: use shorter paths or a shorter PATH`
    ))
  )
}
