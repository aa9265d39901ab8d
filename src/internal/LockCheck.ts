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
import { alreadyRunning, type RunningDaemon } from "../domain/AlreadyRunning.ts"
import { DAEMON_FLAGS, flagsByArgument, scanArguments } from "../domain/DaemonFlags.ts"
import { linesBackward } from "../domain/LinesBackward.ts"
import { defaultPaths } from "../domain/Paths.ts"
import { LOCK_EX, LOCK_NB, loadLibc } from "./Libc.ts"
import { openRegularFile, randomAccess } from "./Files.ts"

const DAEMON_ARGUMENTS = flagsByArgument(Object.values(DAEMON_FLAGS), { negations: true })

/**
 * The journal and scripts directory (absolute) that `argv` would run a
 * daemon on, or `undefined` when `argv` asks for anything else (a
 * subcommand, `--help`, a typo) or holds a value the CLI would refuse: the
 * CLI answers those (exit 2), lock or not.
 *
 * @since 0.1.0
 */
export const daemonPaths = (
  argv: ReadonlyArray<string>,
  env: Readonly<Record<string, string | undefined>>,
  cwd: string
): { readonly journal: string; readonly scripts: string } | undefined => {
  const scanned = scanArguments(argv, DAEMON_ARGUMENTS)
  if (scanned === undefined || scanned.words.length > 0) return undefined
  const defaults = defaultPaths(env)
  return {
    journal: path.resolve(cwd, scanned.values.get(DAEMON_FLAGS.journal) ?? defaults.journal),
    scripts: path.resolve(cwd, scanned.values.get(DAEMON_FLAGS.scripts) ?? defaults.scripts)
  }
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
 * Whether a daemon holds a journal's lock: `held` by another process, `free`,
 * or `unknown` (no file, no C library, a probe that failed).
 *
 * @since 0.1.0
 */
export type LockState = "held" | "free" | "unknown"

/**
 * Who holds the lock of the journal at `file`.
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
export const lockState = (file: string): LockState => {
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

/**
 * How far back from the journal's end `runningDaemon` looks for the start
 * of the current session: every minute's tick reads this much at most.
 *
 * @since 0.1.0
 */
export const SESSION_SEARCH_BYTES = 1024 * 1024

/**
 * The pid and scripts directory of the daemon that holds the journal at
 * `file`, from its session's `acquired lock`, read back from the journal's
 * end (at most `SESSION_SEARCH_BYTES`), with nothing but Node: only when the
 * lock is held, so the tick stays light. Whatever cannot be known is left out.
 *
 * @example
 * ```ts
 * runningDaemon("/home/me/.config/cronmon/journal.json") // { pid: 4242, scripts: "/home/me/.config/cronmon/scripts" }
 * ```
 * @since 0.1.0
 */
export const runningDaemon = (file: string): RunningDaemon => {
  let fd: number
  try {
    fd = openRegularFile(file)
  } catch {
    return {}
  }
  try {
    let read = 0
    for (const line of linesBackward(randomAccess(fd))) {
      read += line.length + 1
      if (read > SESSION_SEARCH_BYTES) return {}
      // Only the two lines that bound a session are parsed.
      const quit = line.includes(`"type":"monitor quit"`)
      if (!quit && !line.includes(`"type":"acquired lock"`)) continue
      const entry: unknown = JSON.parse(line)
      // The session that ends here is not the running daemon's.
      if (quit || typeof entry !== "object" || entry === null || !("data" in entry)) return {}
      const { data } = entry
      if (typeof data !== "object" || data === null) return {}
      return {
        pid: "pid" in data && typeof data.pid === "number" ? data.pid : undefined,
        scripts: "scripts" in data && typeof data.scripts === "string" ? data.scripts : undefined
      }
    }
    return {}
  } catch {
    return {}
  } finally {
    fs.closeSync(fd)
  }
}

/**
 * What an invocation says when a daemon holds the journal at `file` (the
 * tick, and the CLI when it finds the lock taken): who runs, and a warning
 * when it watches another scripts directory than `asked`.
 *
 * @example
 * ```ts
 * alreadyRunningLine("/home/me/.config/cronmon/journal.json") // "cronmon is already running (pid 4242, scripts …)"
 * ```
 * @since 0.1.0
 */
export const alreadyRunningLine = (file: string, asked?: string): string => alreadyRunning(runningDaemon(file), asked)
