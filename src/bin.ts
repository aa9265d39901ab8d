/**
 * The `cronmon` executable: on a Node older than it needs, runs again on the
 * checkout's pinned Node or refuses; answers a cron tick while a daemon
 * runs; runs the daemon, asked for with its flags alone, on its own entry
 * (again with the daemon's Node flags first); runs a control command in
 * its plain form (`restart web`) on its lean path; else loads the CLI.
 *
 * @since 0.1.0
 */
import * as module from "node:module"
import { isControlAction, readDaemonArguments } from "./domain/DaemonFlags.ts"
import { nodeTooOld } from "./domain/NodeVersion.ts"
import { compileCacheDirectory } from "./domain/Paths.ts"
import { execOnPinnedNode, execWithDaemonFlags } from "./internal/PinnedNode.ts"
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
  const daemon = readDaemonArguments(argv)
  if (asked !== undefined && isLockedElsewhere(asked.journal)) {
    process.stderr.write(`${alreadyRunningLine(asked.journal, asked.scripts)}\n`)
  } else if (daemon !== undefined) {
    execWithDaemonFlags() // returns once they are in place (or cannot be)
    // The daemon's code compiled once, then read back from Node's compile
    // cache at each start (the tick, which exits above, never writes it).
    module.enableCompileCache(compileCacheDirectory(process.env))
    const entry = await import("./daemonEntry.ts")
    module.flushCompileCache()
    entry.run(daemon)
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
