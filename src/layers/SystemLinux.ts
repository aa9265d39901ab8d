/**
 * The `System` service on Linux: `flock(2)` through koffi, identities from
 * `/proc`. Everything Linux-specific lives here; elsewhere (macOS, BSD) the
 * lock still works through the C library and identities are unavailable.
 *
 * @since 0.1.0
 */
import { Effect, Layer, Option } from "effect"
import { readFileSync } from "node:fs"
import { createRequire } from "node:module"
import { type ProcessIdentity, System, SystemCallError } from "../services/System.ts"

const LOCK_EX = 2
const LOCK_NB = 4

type Flock = (fd: number, operation: number) => number

// koffi is a native addon: loaded through require so that the bundled CLI
// keeps it as an external module, and only when the layer is built.
const loadFlock = (): {
  readonly flock: Flock
  readonly errno: () => number
  readonly EWOULDBLOCK: number
  readonly EINTR: number
} => {
  const require = createRequire(import.meta.url)
  const koffi: typeof import("koffi") = require("koffi")
  const libc = koffi.load(process.platform === "darwin" ? "libc.dylib" : "libc.so.6")
  const raw = libc.func("int flock(int fd, int operation)")
  return {
    flock: (fd, operation) => {
      const result: unknown = raw(fd, operation)
      return typeof result === "number" ? result : -1
    },
    errno: () => koffi.errno(),
    EWOULDBLOCK: koffi.os.errno["EWOULDBLOCK"] ?? 11,
    EINTR: koffi.os.errno["EINTR"] ?? 4
  }
}

/**
 * Reads a process's group and start time from `/proc/PID/stat`. The command
 * name (field 2) may hold spaces and parentheses, so fields are counted from
 * its closing parenthesis.
 *
 * @since 0.1.0
 */
export const parseProcStat = (stat: string, bootTime: number): ProcessIdentity | undefined => {
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ")
  // fields[0] is field 3 (state): pgrp is field 5, starttime field 22.
  const pgid = Number(fields[2])
  const startTime = fields[19]
  return Number.isInteger(pgid) && startTime !== undefined && /^\d+$/.test(startTime)
    ? { pgid, startTime, startedAt: bootTime + Number(startTime) * 1000 / CLOCK_TICKS_PER_SECOND }
    : undefined
}

// USER_HZ: 100 on every Linux architecture Node runs on.
const CLOCK_TICKS_PER_SECOND = 100

const readBootTime = (): number => {
  try {
    const btime = /^btime (\d+)$/m.exec(readFileSync("/proc/stat", "latin1"))
    return btime === null ? 0 : Number(btime[1]) * 1000
  } catch {
    return 0
  }
}

/**
 * The live `System`.
 *
 * @since 0.1.0
 */
export const layer: Layer.Layer<System> = Layer.sync(System, () => {
  const { EINTR, EWOULDBLOCK, errno, flock } = loadFlock()
  let bootTime: number | undefined
  return System.of({
    tryLockExclusive: (fd) =>
      Effect.suspend(() => {
        for (;;) {
          if (flock(fd, LOCK_EX | LOCK_NB) === 0) return Effect.succeed(true)
          const code = errno()
          if (code === EINTR) continue
          if (code === EWOULDBLOCK) return Effect.succeed(false)
          return Effect.fail(new SystemCallError({ call: "flock", errno: code, message: `flock failed (errno ${code})` }))
        }
      }),
    identify: (pid) =>
      Effect.sync(() => {
        try {
          const stat = readFileSync(`/proc/${pid}/stat`, "latin1")
          bootTime ??= readBootTime()
          return Option.fromUndefinedOr(parseProcStat(stat, bootTime))
        } catch {
          return Option.none()
        }
      }),
    kill: (pid, signal) =>
      Effect.sync(() => {
        try {
          process.kill(pid, signal)
          return true
        } catch {
          return false
        }
      })
  })
})
