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
import { defaultPaths, parseDurationMillis, parseSizeBytes } from "../domain/Paths.ts"
import { LOCK_EX, LOCK_NB, loadLibc } from "../layers/Libc.ts"

const anything = (_value: string) => true
const isCount = (value: string) => /^\d+$/.test(value)
const isSize = (value: string) => (parseSizeBytes(value) ?? 0) > 0

// The daemon's flags that take a value, each with the check the CLI applies:
// a value the CLI would refuse is its to report (exit 2), lock or not.
const VALUE_FLAGS: ReadonlyMap<string, (value: string) => boolean> = new Map([
  ["-j", anything],
  ["--journal", anything],
  ["-s", anything],
  ["--scripts", anything],
  ["--logs", anything],
  ["--stop-timeout", (value: string) => parseDurationMillis(value) !== undefined],
  ["--journal-max-size", isSize],
  ["--log-max-size", isSize],
  ["--log-keep", isCount]
])

const SWITCHES = new Set(["--strict-modes", "--no-strict-modes", "--log-timestamps", "--no-log-timestamps"])

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
    if (SWITCHES.has(arg)) continue
    const accepts = VALUE_FLAGS.get(flag)
    if (accepts === undefined) return undefined
    const value = equals > 0 ? arg.slice(equals + 1) : argv[++i]
    if (value === undefined || !accepts(value)) return undefined
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
