/**
 * The cron tick's fast answer. Every minute cron starts cronmon; while a
 * daemon holds the journal's lock the invocation only has to say so and exit
 * 0. That is decided here with nothing but Node and the C library, before the
 * CLI and Effect are loaded.
 *
 * @since 0.1.0
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { defaultPaths, parseDurationMillis } from "../domain/Paths.ts"
import { LOCK_EX, LOCK_NB, loadLibc } from "../layers/Libc.ts"

const DAEMON_FLAGS = new Set(["-j", "--journal", "-s", "--scripts", "--logs", "--stop-timeout"])

/**
 * The journal that `argv` would run a daemon on, or `undefined` when `argv`
 * asks for anything else (a subcommand, `--help`, a typo): the CLI answers
 * those.
 *
 * @since 0.1.0
 */
export const daemonJournal = (
  argv: ReadonlyArray<string>,
  env: Readonly<Record<string, string | undefined>>,
  cwd: string
): string | undefined => {
  let journal = defaultPaths(env).journal
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? ""
    const equals = arg.startsWith("--") ? arg.indexOf("=") : -1
    const flag = equals > 0 ? arg.slice(0, equals) : arg
    if (!DAEMON_FLAGS.has(flag)) return undefined
    const value = equals > 0 ? arg.slice(equals + 1) : argv[++i]
    if (value === undefined) return undefined
    // A value the CLI would refuse is its to report (exit 2), lock or not.
    if (flag === "--stop-timeout" && parseDurationMillis(value) === undefined) return undefined
    if (flag === "-j" || flag === "--journal") journal = value
  }
  return path.resolve(cwd, journal)
}

/**
 * Whether another process holds the lock of the journal at `file`. Any doubt
 * (no file yet, no C library) answers `false`, and the daemon's own locking
 * then decides.
 *
 * @since 0.1.0
 */
export const isLockedElsewhere = (file: string): boolean => {
  let fd: number
  try {
    fd = fs.openSync(file, "r")
  } catch {
    return false
  }
  try {
    const libc = loadLibc()
    // Taken here means free: closing the descriptor gives it back.
    return libc.flock(fd, LOCK_EX | LOCK_NB) !== 0 && libc.errno() === libc.EWOULDBLOCK
  } catch {
    return false
  } finally {
    fs.closeSync(fd)
  }
}
