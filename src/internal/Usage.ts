/**
 * Usage errors as one line: effect/cli reports a bad flag or value with the
 * whole help on stdout and a block of errors; cronmon says what is wrong in
 * one line on stderr and where the help is (exit 2).
 *
 * @since 0.1.0
 */
import { Effect } from "effect"
import { type CliError, CliOutput } from "effect/cli"

const suggest = (suggestions: ReadonlyArray<string>): string =>
  suggestions.length === 0 ? "" : ` (did you mean ${suggestions.join(" or ")}?)`

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
      return `unknown flag ${error.option}${suggest(error.suggestions)}`
    case "UnknownSubcommand":
      return `unknown command ${error.subcommand}${suggest(error.suggestions)}`
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
      return /^not an? /.test(expected)
        ? `${what}: ${expected}`
        : `bad value for ${what}: ${JSON.stringify(error.value)} (expected ${expected})`
    }
    default:
      // One line of whatever else effect/cli says.
      return (error.message.split("\n")[0] ?? error._tag).replace(/^[A-Z]/, (c) => c.toLowerCase())
  }
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

/**
 * A presenter that leaves invalid invocations to `usageLine` (nothing
 * printed) and shows help and the version as effect/cli does.
 *
 * @since 0.1.0
 */
export const quietUsagePresenter = CliOutput.layerPresenter({
  present: (event) => event._tag === "InvalidInvocation" ? Effect.void : CliOutput.defaultPresenter.present(event)
})
