/**
 * The `cronmon` executable: answers a cron tick while a daemon runs, else
 * loads the CLI.
 *
 * @since 0.1.0
 */
import { ALREADY_RUNNING } from "./domain/AlreadyRunning.ts"
import { daemonJournal, isLockedElsewhere } from "./programs/lockCheck.ts"

const argv = process.argv.slice(2)
const journal = daemonJournal(argv, process.env, process.cwd())
if (journal !== undefined && isLockedElsewhere(journal)) {
  process.stderr.write(`${ALREADY_RUNNING}\n`)
} else {
  const { run } = await import("./cli.ts")
  run(argv)
}
