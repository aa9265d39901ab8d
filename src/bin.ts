/**
 * The `cronmon` executable: on a Node older than it needs, runs again on the
 * checkout's pinned Node or refuses; answers a cron tick while a daemon
 * runs, else loads the CLI.
 *
 * @since 0.1.0
 */
import { alreadyRunning } from "./domain/AlreadyRunning.ts"
import { nodeTooOld } from "./domain/NodeVersion.ts"
import { execOnPinnedNode } from "./internal/PinnedNode.ts"
import { daemonPaths, isLockedElsewhere, runningDaemon } from "./internal/LockCheck.ts"

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
    process.stderr.write(`${alreadyRunning(runningDaemon(asked.journal), asked.scripts)}\n`)
  } else {
    const { run } = await import("./cli.ts")
    run(argv)
  }
}
