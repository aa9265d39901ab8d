/**
 * The `cronmon` command line: parses arguments and runs a program.
 *
 * Exit codes: 0 success (or a daemon is already running), 1 a fatal error
 * with a one-line message, 2 a usage error.
 *
 * @since 0.1.0
 */
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as NodeServices from "@effect/platform-node/NodeServices"
import { Cause, Console, Data, Duration, Effect, Exit, Option } from "effect"
import { Argument, Command, Flag } from "effect/cli"
import * as fs from "node:fs"
import * as path from "node:path"
import { errorMessage } from "./domain/Errors.ts"
import { defaultPaths, parseDurationMillis, parseSizeBytes } from "./domain/Paths.ts"
import { prepareScriptsDirectory } from "./layers/Directories.ts"
import * as HumanLogConsole from "./layers/HumanLogConsole.ts"
import * as Live from "./layers/Live.ts"
import { crontab } from "./programs/cron.ts"
import { daemon } from "./programs/daemon.ts"
import { journalCommand, parseSince } from "./programs/journal.ts"
import { lockState } from "./programs/lockCheck.ts"
import { logsCommand } from "./programs/logs.ts"
import { styleFor } from "./programs/Output.ts"
import { describeError, quietUsagePresenter, usageLine } from "./programs/Usage.ts"
import { statusExitCode, statusJson, statusReport, statusText } from "./programs/status.ts"
import * as SystemLinux from "./layers/SystemLinux.ts"
import { defaultSettings, makeSettings, type SettingsShape } from "./services/Settings.ts"

declare const CRONMON_VERSION: string | undefined

/**
 * The version printed by `--version` (set by the build; `dev` from source).
 *
 * @since 0.1.0
 */
export const version: string = typeof CRONMON_VERSION === "string" ? CRONMON_VERSION : "dev"

/**
 * A condition that stops a command: printed as one line, exit code 1.
 *
 * @since 0.1.0
 */
export class Fatal extends Data.TaggedError("Fatal")<{ readonly message: string }> {}

/**
 * A command that ends with a code other than 0 without an error (`status`
 * when the daemon is not running: 3).
 *
 * @since 0.1.0
 */
export class ExitWith extends Data.TaggedError("ExitWith")<{ readonly code: number }> {}

const fatal = (message: string) => new Fatal({ message })

const defaults = defaultPaths(process.env)

const stopTimeoutFlag = Flag.String("stop-timeout").pipe(
  Flag.withDefault(`${Duration.toMillis(defaultSettings.stopTimeout)}ms`),
  Flag.withMetavar("DURATION"),
  Flag.withDescription("Time between SIGTERM and SIGKILL when stopping a service: 500ms, 3s, 1m (default: 3s)"),
  Flag.filterMap(
    (text) => Option.fromUndefinedOr(parseDurationMillis(text)),
    (text) => `not a duration: ${text} (try 3s, 500ms or 1m)`
  )
)

const sizeFlag = (name: string, fallback: string, description: string) =>
  Flag.String(name).pipe(
    Flag.withDefault(fallback),
    Flag.withMetavar("SIZE"),
    Flag.withDescription(description),
    Flag.filterMap(
      (text) => Option.filter(Option.fromUndefinedOr(parseSizeBytes(text)), (bytes) => bytes > 0),
      (text) => `not a size: ${text} (try 16M, 512k or 1G)`
    )
  )

const daemonFlags = {
  stopTimeout: stopTimeoutFlag,
  journalMaxSize: sizeFlag(
    "journal-max-size",
    "16M",
    "Keep the journal under this size by dropping its oldest sessions: 512k, 16M, 1G (default: 16M)"
  ),
  strictModes: Flag.Boolean("strict-modes").pipe(
    Flag.withDefault(true),
    Flag.withDescription(
      "Refuse scripts writable by group or others or owned by another user (default: on; --no-strict-modes turns it off)"
    )
  ),
  logMaxSize: sizeFlag("log-max-size", "10M", "Rotate a service's log when it reaches this size (default: 10M)"),
  logKeep: Flag.Int("log-keep").pipe(
    Flag.withDefault(5),
    Flag.withMetavar("N"),
    Flag.withDescription("Rotated logs kept per service, NAME.log.1 … NAME.log.N (default: 5)"),
    Flag.filter((count) => count >= 0, (count) => `not a count of files: ${count}`)
  ),
  logTimestamps: Flag.Boolean("log-timestamps").pipe(
    Flag.withDefault(false),
    Flag.withDescription("Prefix each line of a service's output with the time it was read (default: off)")
  )
} as const

// What every command takes: the journal, and the logs directory (the
// commands that read what the daemon writes take the daemon's paths, before
// or after their name).
const sharedFlags = {
  journal: Flag.String("journal").pipe(
    Flag.withAlias("j"),
    Flag.withMetavar("FILE"),
    Flag.withDefault(defaults.journal),
    Flag.withDescription(`Journal file; also the lock that keeps one daemon per journal (default: ${defaults.journal})`)
  ),
  logs: Flag.String("logs").pipe(
    Flag.withMetavar("DIR"),
    Flag.withDefault(defaults.logs),
    Flag.withDescription(`Directory of the services' output, NAME.log each (default: ${defaults.logs})`)
  )
} as const

// What only running the daemon takes: on the root command and on `cron`,
// which prints the command line that runs it (not inherited, so that
// `status`, `journal` and `logs` neither list nor accept them).
const daemonOnlyFlags = {
  scripts: Flag.String("scripts").pipe(
    Flag.withAlias("s"),
    Flag.withMetavar("DIR"),
    Flag.withDefault(defaults.scripts),
    Flag.withDescription(`Directory of services: every executable file in it is kept running (default: ${defaults.scripts})`)
  ),
  ...daemonFlags
} as const

type SharedFlags = { readonly journal: string; readonly scripts: string; readonly logs: string }

const absolute = (flags: SharedFlags) => ({
  journal: path.resolve(flags.journal),
  scripts: path.resolve(flags.scripts),
  logs: path.resolve(flags.logs)
})

// A scripts path that exists must be a directory; a missing one is created.
const prepareScriptsDir = (dir: string) =>
  Effect.try({
    try: () => prepareScriptsDirectory(dir),
    catch: (error) =>
      new Fatal({
        message: errorMessage(error)
      })
  })

type DaemonFlags = SharedFlags & {
  readonly stopTimeout: number
  readonly journalMaxSize: number
  readonly strictModes: boolean
  readonly logMaxSize: number
  readonly logKeep: number
  readonly logTimestamps: boolean
}

const settingsOf = (flags: DaemonFlags): SettingsShape => {
  const paths = absolute(flags)
  return makeSettings({
    scriptsDir: paths.scripts,
    journalPath: paths.journal,
    logsDir: paths.logs,
    stopTimeout: Duration.millis(flags.stopTimeout),
    journalMaxBytes: flags.journalMaxSize,
    strictModes: flags.strictModes,
    logMaxBytes: flags.logMaxSize,
    logKeep: flags.logKeep,
    logTimestamps: flags.logTimestamps
  })
}

const runDaemon = (flags: DaemonFlags) =>
  Effect.gen(function*() {
    const settings = settingsOf(flags)
    yield* prepareScriptsDir(settings.scriptsDir)
    yield* daemon.pipe(
      Effect.provide(Live.layer(settings)),
      Effect.provide(HumanLogConsole.layer),
      Effect.catchTag("JournalLocked", (locked) => Console.error(locked.message)),
      Effect.catchTag("JournalUnavailable", (error) => Effect.fail(new Fatal({ message: error.message })))
    )
  })

// The daemon flags whose values differ from the defaults, as arguments again.
const nonDefaultArguments = (settings: SettingsShape): ReadonlyArray<string> => [
  ...(Duration.equals(settings.stopTimeout, defaultSettings.stopTimeout)
    ? []
    : ["--stop-timeout", `${Duration.toMillis(settings.stopTimeout)}ms`]),
  ...(settings.journalMaxBytes === defaultSettings.journalMaxBytes
    ? []
    : ["--journal-max-size", `${settings.journalMaxBytes}`]),
  ...(settings.strictModes ? [] : ["--no-strict-modes"]),
  ...(settings.logMaxBytes === defaultSettings.logMaxBytes ? [] : ["--log-max-size", `${settings.logMaxBytes}`]),
  ...(settings.logKeep === defaultSettings.logKeep ? [] : ["--log-keep", `${settings.logKeep}`]),
  ...(settings.logTimestamps ? ["--log-timestamps"] : [])
]

const root = Command.make("cronmon", daemonOnlyFlags).pipe(
  Command.withSharedFlags(sharedFlags),
  Command.withHandler(runDaemon),
  Command.withExamples([
    { command: "cronmon --scripts ~/services", description: "Run the daemon in the foreground (Ctrl-C stops)" },
    {
      command: "(crontab -l 2>/dev/null; cronmon cron --scripts ~/services) | crontab -",
      description: "Add it to your crontab (at boot and every minute), keeping what is there"
    }
  ]),
  Command.withDescription(
    "Keeps every executable file of a directory running. Run it from cron (see `cronmon cron`): " +
      "the one instance holding the journal's lock supervises, every other exits at once."
  )
)

const cron = Command.make("cron", daemonOnlyFlags, (own) =>
  Effect.gen(function*() {
    const shared = yield* root
    const settings = settingsOf({ ...own, journal: shared.journal, logs: shared.logs })
    const self = [process.execPath, fs.realpathSync(process.argv[1] ?? "cronmon")]
    const words = [
      ...self,
      ...["-j", settings.journalPath, "-s", settings.scriptsDir, "--logs", settings.logsDir],
      ...nonDefaultArguments(settings)
    ]
    // A crontab entry is one line: no quoting carries a newline through.
    const broken = words.find((word) => /[\n\r]/.test(word))
    if (broken !== undefined) {
      return yield* new Fatal({ message: `a path holds a newline, which no crontab line can: ${JSON.stringify(broken)}` })
    }
    yield* Console.log(crontab(words).trimEnd())
  })).pipe(
    Command.withDescription("Prints crontab lines that start cronmon at boot and every minute, with these flags"),
    Command.withExamples([
      {
        command: "(crontab -l 2>/dev/null; cronmon cron -s ~/services) | crontab -",
        description: "Add cronmon to the crontab"
      }
    ])
  )

const status = Command.make("status", {
  json: Flag.Boolean("json").pipe(
    Flag.withDefault(false),
    Flag.withDescription("Print the status as JSON (documented in the README)")
  )
}, ({ json }) =>
  Effect.gen(function*() {
    const flags = yield* root
    const file = path.resolve(flags.journal)
    const report = yield* statusReport(file, lockState(file)).pipe(
      Effect.provide(SystemLinux.layer),
      // Unreadable: the daemon's state is unknown (exit 4, as init scripts have it).
      Effect.catch((message) => Effect.andThen(Console.error(`cronmon: ${message}`), new ExitWith({ code: 4 })))
    )
    yield* Console.log(json ? statusJson(report) : statusText(report, styleFor(process.stdout.isTTY === true, process.env)))
    const code = statusExitCode(report)
    if (code !== 0) return yield* new ExitWith({ code })
  })).pipe(
    Command.withDescription(
      "Shows whether the daemon runs and how each service is doing, from the journal (exit 3: not running)"
    ),
    Command.withExamples([
      { command: "cronmon status", description: "The daemon and a table of services" },
      { command: "cronmon status -j ~/cm/journal.json --json", description: "The same as JSON" }
    ])
  )

const journal = Command.make("journal", {
  service: Flag.String("service").pipe(
    Flag.withMetavar("NAME"),
    Flag.optional,
    Flag.withDescription("Only the events of this service")
  ),
  since: Flag.String("since").pipe(
    Flag.withMetavar("DURATION|TIME"),
    // A value that is neither is a usage error (exit 2), found before reading.
    Flag.filter(
      (text) => parseSince(text, Date.now()) !== undefined,
      (text) => `not a duration or a time: ${text} (try 10m, 2h, 1d or 2026-11-23T19:00:00Z)`
    ),
    Flag.optional,
    Flag.withDescription("Only events since then: 10m, 2h, 1d, or a time such as 2026-11-23T19:00:00Z")
  ),
  follow: Flag.Boolean("follow").pipe(
    Flag.withAlias("f"),
    Flag.withDefault(false),
    Flag.withDescription("Keep printing new events as they are written (Ctrl-C stops)")
  ),
  json: Flag.Boolean("json").pipe(Flag.withDefault(false), Flag.withDescription("Print the journal's raw JSON lines"))
}, (options) =>
  Effect.gen(function*() {
    const flags = yield* root
    yield* journalCommand(path.resolve(flags.journal), {
      service: Option.getOrUndefined(options.service),
      sinceText: Option.getOrUndefined(options.since),
      follow: options.follow,
      json: options.json
    }).pipe(Effect.mapError(fatal))
  })).pipe(
    Command.withDescription("Prints the journal's events in a readable form"),
    Command.withExamples([
      { command: "cronmon journal --service web --since 1h", description: "What happened to web in the last hour" },
      { command: "cronmon journal --follow", description: "Every new event as it happens" }
    ])
  )

const logs = Command.make("logs", {
  name: Argument.String("NAME").pipe(Argument.withDescription("The service (its file name)")),
  lines: Flag.Int("lines").pipe(
    Flag.withAlias("n"),
    Flag.withDefault(10),
    Flag.withMetavar("N"),
    Flag.withDescription("How many of the last lines to print"),
    Flag.filter((count) => count >= 0, (count) => `not a count of lines: ${count}`)
  ),
  follow: Flag.Boolean("follow").pipe(
    Flag.withAlias("f"),
    Flag.withDefault(false),
    Flag.withDescription("Keep printing what the service prints, through rotations (Ctrl-C stops)")
  )
}, (options) =>
  Effect.gen(function*() {
    const flags = yield* root
    yield* logsCommand(path.resolve(flags.logs), options.name, { count: options.lines, follow: options.follow }).pipe(
      Effect.mapError(fatal)
    )
  })).pipe(
    Command.withDescription("Prints a service's output (stdout and stderr), across its rotated logs"),
    Command.withExamples([
      { command: "cronmon logs web -n 50", description: "The last 50 lines web printed" },
      { command: "cronmon logs web --follow", description: "What web prints, as it prints it" }
    ])
  )

/**
 * The command tree.
 *
 * @since 0.1.0
 */
export const app = root.pipe(Command.withSubcommands([cron, status, journal, logs]))

/**
 * Runs the CLI on `argv` (without node and the script) and returns the exit code.
 *
 * @since 0.1.0
 */
export const main = (argv: ReadonlyArray<string>): Effect.Effect<number> =>
  Command.runWith(app, { version })(argv).pipe(
    Effect.as(0),
    Effect.catch((error) =>
      error._tag === "Fatal"
        ? Effect.as(Console.error(`cronmon: ${error.message}`), 1)
        : error._tag === "ExitWith"
        ? Effect.succeed(error.code)
        : error._tag === "ShowHelp"
        // Help without errors was asked for and printed; errors are usage errors.
        ? error.errors.length === 0 ? Effect.succeed(0) : Effect.as(Console.error(usageLine(error)), 2)
        : Effect.as(Console.error(`cronmon: ${describeError(error)}`), 2)
    ),
    Effect.provide(quietUsagePresenter),
    Effect.provide(NodeServices.layer)
  )

/**
 * Runs the CLI on `argv` as the process's main program: exits with its code.
 *
 * @since 0.1.0
 */
export const run = (argv: ReadonlyArray<string>): void => {
  // A closed stderr (`cronmon | head`) must not crash the daemon.
  process.stderr.on("error", () => {})
  process.stdout.on("error", () => {})
  const program = Effect.flatMap(main(argv), (code) =>
    Effect.sync(() => {
      process.exitCode = code
    }))
  NodeRuntime.runMain(program, {
    disableErrorReporting: true,
    teardown: (exit) => {
      // Interrupted by SIGINT or SIGTERM: the daemon stopped cleanly.
      const defect = Exit.isFailure(exit) && !Cause.hasInterruptsOnly(exit.cause)
      if (defect) process.stderr.write(`cronmon: ${Cause.pretty(exit.cause).split("\n")[0]}\n`)
      // Exit even if a handle lingers (a pipe held by a service's orphan),
      // once what was printed has reached a pipe (writes to one are
      // asynchronous: `cronmon logs web -n 10000 | less` lost its end).
      const code = defect ? 1 : process.exitCode ?? 0
      process.stdout.write("", () => process.exit(code))
    }
  })
}
