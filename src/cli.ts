/**
 * The `cronmon` command line: parses arguments and runs a program.
 *
 * Exit codes: 0 success (or a daemon is already running), 1 a fatal error
 * with a one-line message, 2 a usage error; `status` 3 (not running) and 4
 * (unknown). Each failure's line and code come from one table, `Failures`,
 * which the control commands' lean path shares; `main` says them.
 *
 * @since 0.1.0
 */
import * as NodeServices from "@effect/platform-node/NodeServices"
import { Console, Data, Effect, Option } from "effect"
import { Argument, Command, Flag } from "effect/cli"
import * as fs from "node:fs"
import * as path from "node:path"
import * as Cronmon from "./Cronmon.ts"
import { daemonCommand, runMain, said } from "./daemonEntry.ts"
import {
  AMOUNTS,
  CONTROL_FLAGS,
  type ControlAction,
  DAEMON_FLAGS,
  type FlagSpec,
  NOTIFY_FLAGS,
  readAmount
} from "./domain/DaemonFlags.ts"
import { SERVICE_MARK, SERVICE_NAME } from "./domain/ServiceEnvironment.ts"
import { failureOf, isFailure } from "./domain/Failures.ts"
import { defaultPaths } from "./domain/Paths.ts"
import { signalNamed, signalRefusal } from "./domain/Signals.ts"
import * as ControlClient from "./layers/ControlClient.ts"
import * as SystemLinux from "./layers/SystemLinux.ts"
import { runControl } from "./programs/control.ts"
import { cronCommand } from "./programs/cron.ts"
import { journalCommand, parseSince } from "./programs/journal.ts"
import { lockState } from "./internal/LockCheck.ts"
import { logsCommand } from "./programs/logs.ts"
import { styleFor } from "./internal/Terminal.ts"
import { statusJsonOf } from "./domain/Status.ts"
import { statusExitCode, statusJson, statusReport, statusText } from "./programs/status.ts"
import { cronmonGlobalFlags, describeError, joinDashedValues, quietUsagePresenter, usageLine } from "./internal/Usage.ts"

declare const CRONMON_VERSION: string | undefined

/**
 * The version printed by `--version` (set by the build; `dev` from source).
 *
 * @since 0.1.0
 */
export const version: string = typeof CRONMON_VERSION === "string" ? CRONMON_VERSION : "dev"

// A command's exit code other than 0 that is no error (`status`, not running: 3).
class ExitWith extends Data.TaggedError("ExitWith")<{ readonly code: number }> {}

const defaults = defaultPaths(process.env)

// The effect/cli side of the daemon's flag table: alias, placeholder and help text.
const described = (spec: FlagSpec, suffix = "") => <A>(self: Flag.Flag<A>): Flag.Flag<A> => {
  const aliased = spec.alias === undefined ? self : Flag.withAlias(self, spec.alias)
  return Flag.withDescription(spec.metavar === undefined ? aliased : Flag.withMetavar(aliased, spec.metavar), spec.description + suffix)
}

const pathFlag = (spec: FlagSpec & { readonly name: keyof typeof defaults }) =>
  Flag.String(spec.name).pipe(described(spec, ` (default: ${defaults[spec.name]})`), Flag.withDefault(defaults[spec.name]))

// A duration, size or count, refused in the table's words when out of its
// range. Flags left out are `undefined`: `Cronmon.settings` gives them its defaults.
const amountFlag = (spec: FlagSpec & { readonly kind: keyof typeof AMOUNTS }) =>
  Flag.String(spec.name).pipe(
    Flag.filterMap(
      (text) => {
        const read = readAmount(spec, text)
        return "value" in read ? Option.some(read.value) : Option.none()
      },
      (text) => {
        const read = readAmount(spec, text)
        return "refusal" in read ? read.refusal : ""
      }
    ),
    described(spec)
  )

const switchFlag = (spec: FlagSpec & { readonly kind: "switch" }) =>
  Flag.Boolean(spec.name).pipe(described(spec), Flag.withDefault(undefined))

// What every command takes: the journal, and the logs directory (the
// commands that read what the daemon writes take the daemon's paths, before
// or after their name).
const sharedFlags = { journal: pathFlag(DAEMON_FLAGS.journal), logs: pathFlag(DAEMON_FLAGS.logs) } as const

// What only running the daemon takes: on the root command and on `cron`,
// which prints the command line that runs it (not inherited, so that
// `status`, `journal` and `logs` neither list nor accept them). Keyed as
// `Cronmon.Options`, which they become.
const daemonOnlyFlags = {
  scripts: pathFlag(DAEMON_FLAGS.scripts),
  stopTimeout: amountFlag(DAEMON_FLAGS.stopTimeout).pipe(Flag.withDefault(undefined)),
  journalMaxBytes: amountFlag(DAEMON_FLAGS.journalMaxBytes).pipe(Flag.withDefault(undefined)),
  strictModes: switchFlag(DAEMON_FLAGS.strictModes),
  logMaxBytes: amountFlag(DAEMON_FLAGS.logMaxBytes).pipe(Flag.withDefault(undefined)),
  logKeep: amountFlag(DAEMON_FLAGS.logKeep).pipe(Flag.withDefault(undefined)),
  logTimestamps: switchFlag(DAEMON_FLAGS.logTimestamps)
} as const

const root = Command.make("cronmon", daemonOnlyFlags).pipe(
  Command.withSharedFlags(sharedFlags),
  // The daemon's own entry runs it too (bin.ts takes that path for plain
  // daemon flags): it says how it ended, and its code is the CLI's.
  Command.withHandler((options) =>
    Effect.flatMap(daemonCommand(options), (code) => code === 0 ? Effect.void : Effect.fail(new ExitWith({ code })))
  ),
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
  Effect.flatMap(root, ({ journal, logs }) =>
    cronCommand(
      [process.execPath, fs.realpathSync(process.argv[1] ?? "cronmon")],
      Cronmon.settings({ ...own, journal, logs }),
      process.env
    )
  )).pipe(
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
    Flag.withDescription("Print the status as JSON (documented in docs/status.md)")
  )
}, ({ json }) =>
  Effect.gen(function*() {
    const file = path.resolve((yield* root).journal)
    const style = styleFor(process.stdout.isTTY === true, process.env)
    // A daemon that answers within a second says it live; else the journal.
    const live = yield* ControlClient.make(file).pipe(
      Effect.flatMap(({ control }) => control.status),
      Effect.scoped,
      Effect.timeoutOption("1 second"),
      Effect.catch(() => Effect.succeedNone)
    )
    if (Option.isSome(live)) return yield* Console.log(json ? statusJson(live.value) : statusText(live.value, style))
    const report = yield* statusReport(file, lockState(file)).pipe(Effect.provide(SystemLinux.layer))
    const status = statusJsonOf(report)
    yield* Console.log(json ? statusJson(status) : statusText(status, style, report.found))
    const code = statusExitCode(report)
    if (code !== 0) return yield* new ExitWith({ code })
  })).pipe(
    Command.withDescription(
      "Shows whether the daemon runs and how each service is doing: the daemon's answer when it runs, else the journal's (exit 3: not running)"
    ),
    Command.withExamples([
      { command: "cronmon status", description: "The daemon and a table of services" },
      { command: "cronmon status -j ~/cm/journal.json --json", description: "The same as JSON" }
    ])
  )

const journal = Command.make("journal", {
  service: Flag.String("service").pipe(
    Flag.withMetavar("NAME"),
    Flag.withDefault(undefined),
    Flag.withDescription("Only the events of this service")
  ),
  since: Flag.String("since").pipe(
    Flag.withMetavar("DURATION|TIME"),
    // A value that is neither is a usage error (exit 2), found before reading.
    Flag.filterMap(
      (text) => Option.fromUndefinedOr(parseSince(text, Date.now())),
      (text) => `not a duration or a time: ${text} (use 10m, 2h, 1d or 2026-11-23T19:00:00Z)`
    ),
    Flag.withDefault(undefined),
    Flag.withDescription("Only events since then: 10m, 2h, 1d, or a time such as 2026-11-23T19:00:00Z")
  ),
  follow: Flag.Boolean("follow").pipe(
    Flag.withAlias("f"),
    Flag.withDefault(false),
    Flag.withDescription("Keep printing new events as they are written (Ctrl-C stops)")
  ),
  json: Flag.Boolean("json").pipe(Flag.withDefault(false), Flag.withDescription("Print the journal's raw JSON lines"))
}, (filter) => Effect.flatMap(root, ({ journal }) => journalCommand(path.resolve(journal), filter))).pipe(
    Command.withDescription("Prints the journal's events in a readable form"),
    Command.withExamples([
      { command: "cronmon journal --service web --since 1h", description: "What happened to web in the last hour" },
      { command: "cronmon journal --follow", description: "Every new event as it happens" }
    ])
  )

const logs = Command.make("logs", {
  name: Argument.String("NAME").pipe(Argument.withDescription("The service (its file name)")),
  lines: amountFlag({ name: "lines", alias: "n", kind: "count", metavar: "N", description: "How many of the last lines to print (default: 10)" })
    .pipe(Flag.withDefault(10)),
  follow: Flag.Boolean("follow").pipe(
    Flag.withAlias("f"),
    Flag.withDefault(false),
    Flag.withDescription("Keep printing what the service prints, through rotations (Ctrl-C stops)")
  )
}, ({ name, lines, follow }) =>
  Effect.flatMap(root, ({ logs }) => logsCommand(path.resolve(logs), name, { count: lines, follow }))).pipe(
    Command.withDescription("Prints a service's output (stdout and stderr), across its rotated logs"),
    Command.withExamples([
      { command: "cronmon logs web -n 50", description: "The last 50 lines web printed" },
      { command: "cronmon logs web --follow", description: "What web prints, as it prints it" }
    ])
  )

// `restart`, `stop`, `start`, `kill`: parsed here, run by the control
// program (the lean path `bin.ts` takes for their plain forms).
const controlFlags = {
  names: Argument.String("NAME").pipe(Argument.atLeast(1), Argument.withDescription("The services (their file names)")),
  noWait: Flag.Boolean(CONTROL_FLAGS.noWait.name).pipe(
    Flag.withoutNegation,
    Flag.withDefault(false),
    Flag.withDescription(CONTROL_FLAGS.noWait.description)
  ),
  timeout: amountFlag(CONTROL_FLAGS.timeout).pipe(Flag.withDefault(undefined))
} as const

// `restart`'s and `start`'s: wait for readiness.
const readyFlag = Flag.Boolean(CONTROL_FLAGS.ready.name).pipe(
  Flag.withoutNegation,
  Flag.withDefault(false),
  Flag.withDescription(CONTROL_FLAGS.ready.description)
)

// Says `line` (a usage error, a refusal) and ends with `code`.
const refuse = (line: string, code: number) => Effect.andThen(Console.error(line), Effect.fail(new ExitWith({ code })))

const say = ({ stream, line }: { readonly stream: "stdout" | "stderr"; readonly line: string }) =>
  process[stream].write(`${line}\n`)

const runControlCommand = (
  action: ControlAction,
  { names, noWait, ready = false, signal = "SIGTERM", timeout }: {
    readonly names: ReadonlyArray<string>
    readonly noWait: boolean
    readonly ready?: boolean
    readonly timeout: number | undefined
    readonly signal?: NodeJS.Signals
  }
) =>
  Effect.gen(function*() {
    const { journal } = yield* root
    if (ready && noWait) return yield* refuse(`cronmon: --ready and --no-wait do not go together (see cronmon ${action} --help)`, 2)
    const request = { action, names, journal: path.resolve(journal), signal, wait: !noWait, ready, timeoutMillis: timeout }
    const code = yield* Effect.promise(() => runControl(request, say))
    if (code !== 0) return yield* new ExitWith({ code })
  })

const EXIT_CODES = "Exit: 0 done, 1 failed or timed out, 2 usage, 3 no daemon on that journal, 4 no such service."

const restart = Command.make("restart", { ...controlFlags, ready: readyFlag }, (flags) => runControlCommand("restart", flags)).pipe(
  Command.withDescription(
    `Stops each service (SIGTERM, then SIGKILL after the stop timeout) and starts it again now; returns once a new instance runs (with --ready, once it says it is ready). ${EXIT_CODES}`
  ),
  Command.withExamples([
    { command: "cronmon restart web worker", description: "Restart two services" },
    { command: "cronmon restart web --ready --timeout 30s", description: "Restart web and wait until it serves" }
  ])
)

const stop = Command.make("stop", controlFlags, (flags) => runControlCommand("stop", flags)).pipe(
  Command.withDescription(
    `Stops each service and holds it down (not restarted, not started by a change of its file) until \`cronmon start\`; returns once it is gone. ${EXIT_CODES}`
  ),
  Command.withExamples([{ command: "cronmon stop web", description: "Stop web and keep it stopped" }])
)

const start = Command.make("start", { ...controlFlags, ready: readyFlag }, (flags) => runControlCommand("start", flags)).pipe(
  Command.withDescription(
    `Starts each service now: releases a hold, or skips a restart delay; one that runs is left alone. Returns once it runs (with --ready, once it says it is ready). ${EXIT_CODES}`
  ),
  Command.withExamples([
    { command: "cronmon start web", description: "Start web again after `cronmon stop web`" },
    { command: "cronmon start web --ready", description: "…and wait until it says it is ready" }
  ])
)

const kill = Command.make("kill", {
  ...controlFlags,
  signal: Flag.String(CONTROL_FLAGS.signal.name).pipe(
    Flag.filterMap((text) => Option.fromUndefinedOr(signalNamed(text)), signalRefusal),
    described(CONTROL_FLAGS.signal),
    Flag.withDefault<NodeJS.Signals>("SIGTERM")
  )
}, (flags) => runControlCommand("kill", flags)).pipe(
  Command.withDescription(
    `Sends a signal to each service's process group; what follows is the usual policy (restarted unless held down). ${EXIT_CODES}`
  ),
  Command.withExamples([{ command: "cronmon kill -s HUP web", description: "Ask web to reload" }])
)

// `notify`: run by a service, for the service it runs in (from its environment).
const notify = Command.make("notify", {
  ready: Flag.Boolean(NOTIFY_FLAGS.ready.name).pipe(
    Flag.withoutNegation,
    Flag.withDefault(false),
    Flag.withDescription(NOTIFY_FLAGS.ready.description)
  ),
  status: Flag.String(NOTIFY_FLAGS.status.name).pipe(described(NOTIFY_FLAGS.status), Flag.withDefault(undefined))
}, ({ ready, status }) =>
  Effect.gen(function*() {
    if (!ready && status === undefined) return yield* refuse("cronmon: notify: say --ready, --status TEXT, or both (see cronmon notify --help)", 2)
    const name = process.env[SERVICE_NAME]
    const journal = process.env[SERVICE_MARK]
    if (name === undefined || journal === undefined) {
      return yield* refuse(`cronmon: notify: not run by a service of cronmon (${SERVICE_NAME} and ${SERVICE_MARK} are not set)`, 1)
    }
    const request = { action: "notify" as const, names: [name], journal, signal: "SIGTERM" as const, wait: true, ready, status, timeoutMillis: undefined }
    const code = yield* Effect.promise(() => runControl(request, say))
    if (code !== 0) return yield* new ExitWith({ code })
  })).pipe(
    Command.withDescription(
      "Run by a service: says to the daemon that started it that it is ready (as READY=1 to NOTIFY_SOCKET), or how it is, for `cronmon status`. The service is the one in CRONMON_SERVICE, checked to be the caller's process group. Exit: 0 done, 1 refused (not run by a service, not its process group), 3 no daemon."
    ),
    Command.withExamples([
      { command: "cronmon notify --ready --status \"serving on :8080\"", description: "In a service's script, once it serves" }
    ])
  )

/**
 * The command tree.
 *
 * @since 0.1.0
 */
export const app = root.pipe(Command.withSubcommands([cron, status, journal, logs, restart, stop, start, kill, notify]))

/**
 * Runs the CLI on `argv` (without node and the script) and returns the exit code.
 *
 * @since 0.1.0
 */
export const main = (argv: ReadonlyArray<string>): Effect.Effect<number> =>
  Command.runWith(app, { version })(joinDashedValues(argv)).pipe(
    Effect.as(0),
    // Every way a command ends other than success: the one line it says, and its exit code.
    Effect.catchTags({
      ExitWith: (exit) => Effect.succeed(exit.code),
      // Help without errors was asked for and printed; errors are usage errors.
      ShowHelp: (help) => help.errors.length === 0 ? Effect.succeed(0) : said(usageLine(help), 2)
    }),
    Effect.catch((error) => {
      if (!isFailure(error)) return said(`cronmon: ${describeError(error)}`, 2)
      const { line, code } = failureOf(error)
      return said(line, code)
    }),
    Effect.provide(quietUsagePresenter),
    Effect.provide(cronmonGlobalFlags),
    Effect.provide(NodeServices.layer)
  )

/**
 * Runs the CLI on `argv` as the process's main program: exits with its code.
 *
 * @since 0.1.0
 */
export const run = (argv: ReadonlyArray<string>): void => runMain(main(argv))
