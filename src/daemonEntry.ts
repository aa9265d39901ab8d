/**
 * The daemon's entry: what `cronmon` runs when its arguments ask for the
 * daemon alone (`bin.ts` reads them from the flag table with
 * `readDaemonArguments`), without the CLI's parser and help, which a daemon
 * would otherwise carry in memory for its whole life. The CLI runs the same
 * `daemonCommand` for its root command, so both end alike: each way is one
 * line and an exit code, said here.
 *
 * @since 0.1.0
 */
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import { Cause, Console, Effect, Exit } from "effect"
import * as path from "node:path"
import * as Cronmon from "./Cronmon.ts"
import type { DaemonArguments } from "./domain/DaemonFlags.ts"
import { failureOf } from "./domain/Failures.ts"
import { defaultPaths } from "./domain/Paths.ts"
import * as HumanLogConsole from "./layers/HumanLogConsole.ts"
import { alreadyRunningLine } from "./internal/LockCheck.ts"

/**
 * Says `line` on stderr, then gives `code`.
 *
 * @since 0.1.0
 */
export const said = (line: string, code: number): Effect.Effect<number> => Effect.as(Console.error(line), code)

/**
 * Runs the daemon until SIGINT, SIGTERM or SIGHUP: 0 once it stopped
 * cleanly, or when another daemon holds the journal (said as the cron tick
 * says it); 1 when the journal, the scripts directory or the logs directory
 * cannot be used (said in one line).
 *
 * @since 0.1.0
 */
export const daemonCommand = (options: Cronmon.Options): Effect.Effect<number> =>
  Effect.forkScoped(Cronmon.releaseMemoryWhenQuiet).pipe(
    Effect.andThen(Cronmon.superviseUntilSignal),
    Effect.scoped,
    Effect.provide(Cronmon.controlSocket),
    Effect.provide(Cronmon.services(options)),
    Effect.provide(HumanLogConsole.layer),
    Effect.as(0),
    // Another daemon holds the journal: said as the cron tick says it.
    Effect.catchTag("JournalLocked", (locked) => said(alreadyRunningLine(locked.path, path.resolve(options.scripts)), 0)),
    Effect.catch((error) => {
      const { line, code } = failureOf(error)
      return said(line, code)
    })
  )

/**
 * Runs `program` as the process's main program and exits with the code it
 * gives: 1, said in one line, for a defect; a SIGINT or SIGTERM that
 * interrupts it is a clean stop.
 *
 * @since 0.1.0
 */
export const runMain = (program: Effect.Effect<number>): void => {
  // A closed stderr (`cronmon | head`) must not crash the daemon.
  process.stderr.on("error", () => {})
  process.stdout.on("error", () => {})
  const withCode = Effect.flatMap(program, (code) =>
    Effect.sync(() => {
      process.exitCode = code
    }))
  NodeRuntime.runMain(withCode, {
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

/**
 * Runs the daemon with the flags `bin.ts` read, the paths not given at
 * their defaults (as the CLI has them), as the process's main program.
 *
 * @since 0.1.0
 */
export const run = (given: DaemonArguments): void => {
  const defaults = defaultPaths(process.env)
  runMain(daemonCommand({
    ...given,
    scripts: given.scripts ?? defaults.scripts,
    journal: given.journal ?? defaults.journal,
    logs: given.logs ?? defaults.logs
  }))
}
