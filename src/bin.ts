/**
 * The `cronmon` executable: on a Node older than it needs, runs again on the
 * checkout's pinned Node or refuses; answers a cron tick while a daemon
 * runs; runs a control command in its plain form (`restart web`) on its
 * lean path; else loads the CLI.
 *
 * @since 0.1.0
 */
import { isControlAction } from "./domain/DaemonFlags.ts"
import { nodeTooOld } from "./domain/NodeVersion.ts"
import { execOnPinnedNode } from "./internal/PinnedNode.ts"
import { alreadyRunningLine, daemonPaths, isLockedElsewhere } from "./internal/LockCheck.ts"

// First: the modules above only define functions (the tick stays one file
// with them), and the CLI, with Effect, is loaded only after this check.
const tooOld = nodeTooOld(process.versions.node)
if (tooOld !== undefined) {
  execOnPinnedNode() // returns only when it could not
  process.stderr.write(`${tooOld}\n`)
  process.exitCode = 1
} else {
  const argv = process.argv.slice(2)
  const asked = daemonPaths(argv, process.env, process.cwd())
  if (asked !== undefined && isLockedElsewhere(asked.journal)) {
    process.stderr.write(`${alreadyRunningLine(asked.journal, asked.scripts)}\n`)
  } else {
    // A control command (`notify` too) is loaded alone (plain Node, no
    // Effect) when it is in its plain form; the CLI says what is wrong with any other.
    const control = isControlAction(argv[0]) || argv[0] === "notify" ? await import("./programs/control.ts") : undefined
    const request = control?.controlRequest(argv, process.env, process.cwd()) ?? control?.notifyRequest(argv, process.env)
    if (control !== undefined && request !== undefined) {
      // A closed pipe (`cronmon restart web | head -0`) is no failure of the command.
      process.stdout.on("error", () => {})
      process.stderr.on("error", () => {})
      process.exitCode = await control.runControl(request, ({ stream, line }) => process[stream].write(`${line}\n`))
    } else {
      const { run } = await import("./cli.ts")
      run(argv)
    }
  }
}
