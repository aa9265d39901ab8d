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
import { openRegularFile } from "../layers/Files.ts"

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
 * Whether `/proc/locks` (its text in `locks`) lists a `flock(2)` lock held on
 * the file of device `dev` (as `stat` gives it) and inode `ino`. Waiters
 * (`->` lines) hold nothing and do not count.
 *
 * @example
 * ```ts
 * flockListed("1: FLOCK  ADVISORY  WRITE 762 fe:00:2146997 0 EOF\n", 65024n, 2146997n) // true
 * ```
 * @since 0.1.0
 */
export const flockListed = (locks: string, dev: bigint, ino: bigint): boolean => {
  // glibc's dev_t encoding; the kernel prints MAJOR:MINOR in hex.
  const major = ((dev >> 8n) & 0xfffn) | ((dev >> 32n) & ~0xfffn)
  const minor = (dev & 0xffn) | ((dev >> 12n) & ~0xffn)
  const file = `${major.toString(16).padStart(2, "0")}:${minor.toString(16).padStart(2, "0")}:${ino}`
  return locks.split("\n").some((line) => {
    const fields = line.trim().split(/\s+/)
    return fields[1] === "FLOCK" && fields[5] === file
  })
}

// Read-only: unlike a probe with flock(2), it never holds the lock for a
// moment, and it needs no C library (koffi costs the tick ~15 ms and ~7 MiB).
// A listed flock lock is one that flock(LOCK_EX | LOCK_NB) would find.
const listedAsLocked = (file: string): boolean => {
  try {
    const { dev, ino } = fs.statSync(file, { bigint: true })
    return flockListed(fs.readFileSync("/proc/locks", "latin1"), dev, ino)
  } catch {
    return false
  }
}

/**
 * Who holds the lock of the journal at `file`: `held` by another process,
 * `free`, or `unknown` (no file, no C library, a probe that failed).
 *
 * `/proc/locks` answers first, without loading the C library; when it lists
 * no lock on the file (or is missing: not Linux; or names the device
 * differently than `stat`, as on some file systems), a `flock(2)` probe
 * decides.
 *
 * @example
 * ```ts
 * lockState("/home/me/.config/cronmon/journal.json") // "held" while a daemon runs on it
 * ```
 * @since 0.1.0
 */
export const lockState = (file: string): "held" | "free" | "unknown" => {
  if (listedAsLocked(file)) return "held"
  let fd: number
  try {
    fd = openRegularFile(file)
  } catch {
    return "unknown"
  }
  try {
    const libc = loadLibc()
    // Taken here means free: closing the descriptor gives it back.
    if (libc.flock(fd, LOCK_EX | LOCK_NB) === 0) return "free"
    return libc.errno() === libc.EWOULDBLOCK ? "held" : "unknown"
  } catch {
    return "unknown"
  } finally {
    fs.closeSync(fd)
  }
}

/**
 * Whether another process holds the lock of the journal at `file`. Any doubt
 * (no file yet, no C library) answers `false`, and the daemon's own locking
 * then decides.
 *
 * @since 0.1.0
 */
export const isLockedElsewhere = (file: string): boolean => lockState(file) === "held"
