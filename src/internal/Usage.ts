/**
 * Usage errors as one line: effect/cli reports a bad flag or value with the
 * whole help on stdout and a block of errors; cronmon says what is wrong in
 * one line on stderr and where the help is (exit 2).
 *
 * @since 0.1.0
 */
import { Effect } from "effect"
import { CliConfig, type CliError, CliOutput, GlobalFlag, type HelpDoc } from "effect/cli"

// Edit distance (insertions, deletions, substitutions), for small words.
const distance = (a: string, b: string): number => {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j)
  for (let i = 1; i <= a.length; i++) {
    const current = [i]
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min((previous[j] ?? 0) + 1, (current[j - 1] ?? 0) + 1, (previous[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1))
    }
    previous = current
  }
  return previous[b.length] ?? 0
}

// effect/cli suggests anything within two edits: `--bogus` got `--logs`, `-5`
// got `-f`. A suggestion is kept when the edits are a third of the word or less.
const suggest = (word: string, suggestions: ReadonlyArray<string>): string => {
  const bare = (text: string) => text.replace(/^-+/, "")
  const close = suggestions.filter((suggestion) =>
    distance(bare(word), bare(suggestion)) * 3 <= Math.max(bare(word).length, bare(suggestion).length)
  )
  return close.length === 0 ? "" : ` (did you mean ${close.join(" or ")}?)`
}

// effect/cli's expectations read "Expected: …" or "Expected …"; ours (from
// Flag.filterMap) already say what is wrong.
const expectation = (expected: string): string => expected.replace(/^Expected:?\s*/, "")

/**
 * One parse error in a few words, without effect/cli's multi-line layout.
 *
 * @example
 * ```ts
 * describeError(new CliError.UnrecognizedOption({ option: "--bogus", suggestions: [] })) // "unknown flag --bogus"
 * ```
 * @since 0.1.0
 */
export const describeError = (error: CliError.CliError): string => {
  switch (error._tag) {
    case "UnrecognizedOption":
      return `unknown flag ${error.option}${suggest(error.option, error.suggestions)}`
    case "UnknownSubcommand":
      return `unknown command ${error.subcommand}${suggest(error.subcommand, error.suggestions)}`
    case "MissingArgument":
      return `missing ${error.argument}`
    case "MissingOption":
      return `missing --${error.option}`
    case "UnexpectedArgument":
      return `unexpected argument${error.arguments.length === 1 ? "" : "s"} ${error.arguments.join(" ")}`
    case "InvalidValue": {
      const what = error.kind === "argument" ? error.option : `--${error.option}`
      if (error.value.length === 0) return `${what} needs a value (${expectation(error.expected)})`
      const expected = expectation(error.expected)
      // One wording for every bad value, `--flag: what is wrong: value (what to use)`:
      // ours (`not a duration: -1s (use 500ms, 3s, 1m)`) say it all.
      return /^(not an? |too )/.test(expected)
        ? `${what}: ${expected}`
        : `${what}: bad value: ${error.value} (expected ${expected})`
    }
    default:
      // One line of whatever else effect/cli says.
      return (error.message.split("\n")[0] ?? error._tag).replace(/^[A-Z]/, (c) => c.toLowerCase())
  }
}

/**
 * `argv` with each value that begins with a dash and a digit (`-5m`, `-1s`)
 * joined to the flag before it (`--since=-5m`), so that it is read as that
 * flag's value (to be refused in the flag's own words) and not as flags `-5`
 * and `-m`: no flag of cronmon is a digit.
 *
 * @example
 * ```ts
 * joinDashedValues(["journal", "--since", "-5m"]) // ["journal", "--since=-5m"]
 * ```
 * @since 0.1.0
 */
export const joinDashedValues = (argv: ReadonlyArray<string>): Array<string> => {
  const joined: Array<string> = []
  for (const [i, arg] of argv.entries()) {
    const flag = joined.at(-1)
    const afterEnd = argv.slice(0, i).includes("--")
    if (!afterEnd && /^-\d/.test(arg) && flag !== undefined && /^--?[a-z]/i.test(flag) && !flag.includes("=")) {
      joined[joined.length - 1] = `${flag}=${arg}`
    } else {
      joined.push(arg)
    }
  }
  return joined
}

/**
 * The line printed for a usage error: `cronmon: unknown flag --bogus (see
 * cronmon --help)`, several errors joined with `; `.
 *
 * @since 0.1.0
 */
export const usageLine = (help: CliError.ShowHelp): string => {
  const what = help.errors.map(describeError).join("; ")
  return `cronmon: ${what} (see ${help.commandPath.join(" ")} --help)`
}

// What each command's help lists of the flags every command takes: those it
// reads (`logs` reads no journal; the others no logs). All take both, so
// that one set of paths serves every command.
const READS: Readonly<Record<string, ReadonlyArray<string>>> = {
  status: ["journal"],
  journal: ["journal"],
  logs: ["logs"],
  restart: ["journal"],
  stop: ["journal"],
  start: ["journal"],
  kill: ["journal"],
  notify: []
}

/**
 * Help as cronmon shows it: the root's usage says that a subcommand is
 * optional (the daemon needs none), and each command lists only the shared
 * flags it reads.
 *
 * @since 0.1.0
 */
export const cronmonHelp = (help: HelpDoc.HelpDoc, commandPath: ReadonlyArray<string>): HelpDoc.HelpDoc => {
  const [, command] = commandPath
  if (command === undefined) return { ...help, usage: help.usage.replace(" <subcommand>", " [<subcommand>]") }
  const reads = READS[command]
  return reads === undefined || help.inheritedFlags === undefined
    ? help
    : { ...help, inheritedFlags: help.inheritedFlags.filter((flag) => reads.includes(flag.name)) }
}

/**
 * A presenter that leaves invalid invocations to `usageLine` (nothing
 * printed), shows help as `cronmonHelp` makes it, and the version as
 * effect/cli does.
 *
 * @since 0.1.0
 */
export const quietUsagePresenter = CliOutput.layerPresenter({
  present: (event) => {
    switch (event._tag) {
      case "InvalidInvocation":
        return Effect.void
      case "Help":
        return CliOutput.defaultPresenter.present({ ...event, helpDoc: cronmonHelp(event.helpDoc, event.commandPath) })
      default:
        return CliOutput.defaultPresenter.present(event)
    }
  }
})

/**
 * The global flags cronmon supports: help, version and completions
 * (effect/cli's `--wizard` and `--log-level` are not offered).
 *
 * @since 0.1.0
 */
export const cronmonGlobalFlags = CliConfig.layer({ builtIns: [GlobalFlag.Help, GlobalFlag.Version, GlobalFlag.Completions] })
