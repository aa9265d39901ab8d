/**
 * The `System` service on Linux: `flock`, `prctl` and `waitpid` through koffi,
 * identities and children from `/proc`, the parent-death signal through
 * util-linux `setpriv`. Everything Linux-specific lives here; elsewhere
 * (macOS, BSD) the lock still works through the C library, and identities,
 * the parent-death signal and the subreaper are unavailable.
 *
 * @since 0.1.0
 */
import { Clock, Effect, Layer, Option } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { errorCode } from "../domain/Errors.ts"
import type { ResourceUsage } from "../domain/Status.ts"
import {
  type Child,
  type ProcessIdentity,
  SERVICE_MARK,
  type SpawnRefusal,
  System,
  SystemCallError
} from "../services/System.ts"
import { LOCK_EX, LOCK_NB, loadLibc, PR_SET_CHILD_SUBREAPER } from "../internal/Libc.ts"

/**
 * Reads a process's state, parent, group, start time and CPU time (user
 * plus system, in clock ticks) from `/proc/PID/stat`. The command name
 * (field 2) may hold spaces and parentheses, so fields are counted from its
 * closing parenthesis.
 *
 * @since 0.1.0
 */
export const parseProcStat = (
  stat: string,
  bootTime: number
): (ProcessIdentity & { readonly state: string; readonly ppid: number; readonly cpuTicks: number }) | undefined => {
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ")
  // fields[0] is field 3 (state): ppid is field 4, pgrp 5, utime 14, stime 15, starttime 22.
  const [state = "", ppidText, pgidText] = fields
  const pgid = Number(pgidText)
  const ppid = Number(ppidText)
  const cpuTicks = Number(fields[11]) + Number(fields[12])
  const startTime = fields[19]
  return Number.isInteger(pgid) && Number.isInteger(ppid) && Number.isFinite(cpuTicks) && startTime !== undefined &&
      /^\d+$/.test(startTime)
    ? { state, ppid, pgid, cpuTicks, startTime, startedAt: bootTime + Number(startTime) * 1000 / CLOCK_TICKS_PER_SECOND }
    : undefined
}

// USER_HZ: 100 on every Linux architecture Node runs on.
const CLOCK_TICKS_PER_SECOND = 100

const readBootTime = (): number => {
  try {
    const btime = /^btime (\d+)$/m.exec(fs.readFileSync("/proc/stat", "latin1"))
    return btime === null ? 0 : Number(btime[1]) * 1000
  } catch {
    return 0
  }
}

const readStat = (pid: number, bootTime: number) => {
  try {
    return parseProcStat(fs.readFileSync(`/proc/${pid}/stat`, "latin1"), bootTime)
  } catch {
    return undefined
  }
}

// The live (not zombie) processes of the groups, with their pids.
const liveMembers = (pgids: ReadonlySet<number>, bootTime: number) =>
  fs.readdirSync("/proc").flatMap((entry) => {
    if (!/^\d+$/.test(entry)) return []
    const stat = readStat(Number(entry), bootTime)
    return stat !== undefined && pgids.has(stat.pgid) && stat.state !== "Z" ? [{ ...stat, pid: Number(entry) }] : []
  })

// The children of every thread of this process: an orphan is re-parented to
// whichever thread the kernel picks.
const childPids = (): ReadonlyArray<number> => {
  const pids = new Set<number>()
  for (const tid of fs.readdirSync("/proc/self/task")) {
    try {
      for (const pid of fs.readFileSync(`/proc/self/task/${tid}/children`, "latin1").split(" ")) {
        if (pid !== "" && pid !== "\n") pids.add(Number(pid))
      }
    } catch {
      // a thread that ended while we read
    }
  }
  return [...pids]
}

const findSetpriv = (): string | undefined => {
  const dirs = [...(process.env["PATH"] ?? "").split(":"), "/usr/bin", "/bin"]
  for (const dir of dirs) {
    if (dir === "") continue
    const candidate = path.join(dir, "setpriv")
    try {
      fs.accessSync(candidate, fs.constants.X_OK)
      return candidate
    } catch {
      // not here
    }
  }
  return undefined
}

// The kernel's buffer for the start of an executable (linux/binfmts.h).
const BINPRM_BUF_SIZE = 256
const ELF_MAGIC = Buffer.from([0x7f, 0x45, 0x4c, 0x46])
// e_machine of the architectures Node runs on (elf.h); others are not checked.
const ELF_MACHINE: Readonly<Record<string, number>> = { x64: 62, arm64: 183, ia32: 3, arm: 40, riscv64: 243 }
// The 32-bit binaries a 64-bit kernel usually runs too (IA32_EMULATION, COMPAT).
const ELF_COMPAT_MACHINE: Readonly<Record<string, number>> = { x64: 3, arm64: 40 }

const errnoCode = (error: unknown): string => errorCode(error) ?? "EIO"

const ET_EXEC = 2
const ET_DYN = 3

// The header checks of the kernel's ELF loader (load_elf_binary,
// load_elf_phdrs) that a damaged binary fails with ENOEXEC: its type, the
// size and count of its program headers, and that they lie in the file.
const elfHeaderFault = (head: Buffer, size: number): Option.Option<string> => {
  const is64 = head[4] === 2
  if (head.length < (is64 ? 64 : 52)) return Option.some("a truncated binary")
  const type = head.readUInt16LE(16)
  if (type !== ET_EXEC && type !== ET_DYN) return Option.some(`not an executable binary (ELF type ${type})`)
  const headersAt = is64 ? Number(head.readBigUInt64LE(32)) : head.readUInt32LE(28)
  const headerSize = head.readUInt16LE(is64 ? 54 : 42)
  const headers = head.readUInt16LE(is64 ? 56 : 44)
  const fits = headerSize === (is64 ? 56 : 32) && headers >= 1 && headers * headerSize <= 65536 &&
    headersAt + headers * headerSize <= size
  return fits ? Option.none() : Option.some("a damaged binary (its program headers are missing or out of place)")
}

/**
 * Why `file` cannot be executed, if it cannot: what `execve` would say
 * (ENOENT, EACCES, ENOEXEC for a file that is neither a `#!` script nor an
 * ELF binary), or ENOENT for a missing `#!` interpreter.
 *
 * @since 0.1.0
 */
export const checkExecutable = (file: string): Option.Option<SpawnRefusal> => {
  try {
    fs.accessSync(file, fs.constants.X_OK)
  } catch (error) {
    const code = errnoCode(error)
    return Option.some({ code, message: code === "EACCES" ? "permission denied" : "no such file" })
  }
  let head: Buffer
  let size: number
  try {
    const fd = fs.openSync(file, "r")
    try {
      const buffer = Buffer.alloc(BINPRM_BUF_SIZE)
      head = buffer.subarray(0, fs.readSync(fd, buffer, 0, BINPRM_BUF_SIZE, 0))
      size = fs.fstatSync(fd).size
    } finally {
      fs.closeSync(fd)
    }
  } catch {
    // Executable but unreadable: execve decides (a binary may run, a script may not).
    return Option.none()
  }
  const refuse = (message: string) => Option.some({ code: "ENOEXEC", message })
  if (head.subarray(0, 4).equals(ELF_MAGIC)) {
    // What the kernel would refuse with ENOEXEC, and execvp then hand to /bin/sh.
    if (head.length < 20) return refuse("a truncated binary")
    const machine = head.readUInt16LE(18) // little-endian is what Node runs on (x86, arm)
    const native = ELF_MACHINE[process.arch]
    if (native === undefined) return Option.none()
    if (machine !== native && machine !== ELF_COMPAT_MACHINE[process.arch]) {
      return refuse(`a binary for another machine (ELF machine ${machine})`)
    }
    return Option.flatMap(elfHeaderFault(head, size), refuse)
  }
  const text = head.toString("latin1")
  if (!text.startsWith("#!")) return refuse("not an executable format (no #! line, not a binary)")
  // The kernel reads the #! line from its first BINPRM_BUF_SIZE bytes only.
  const newline = text.indexOf("\n")
  if (newline < 0 && head.length === BINPRM_BUF_SIZE) return refuse(`a #! line longer than ${BINPRM_BUF_SIZE - 1} bytes`)
  const interpreter = /^#!\s*(\S+)/.exec(text)?.[1]
  if (interpreter === undefined) return refuse("an empty #! line")
  try {
    fs.accessSync(interpreter, fs.constants.X_OK)
  } catch (error) {
    const code = errnoCode(error)
    return Option.some({ code, message: `bad interpreter ${interpreter}${code === "EACCES" ? ": permission denied" : ""}` })
  }
  const isFile = fs.statSync(interpreter, { throwIfNoEntry: false })?.isFile() ?? false
  return isFile ? Option.none() : Option.some({ code: "EACCES", message: `bad interpreter ${interpreter}: not a file` })
}

// Resident memory of a process in bytes (VmRSS), 0 when gone or a kernel thread.
const residentBytes = (pid: number): number => {
  try {
    const rss = /^VmRSS:\s+(\d+) kB$/m.exec(fs.readFileSync(`/proc/${pid}/status`, "latin1"))
    return rss === null ? 0 : Number(rss[1]) * 1024
  } catch {
    return 0
  }
}

// The window over which CPU is measured: long enough for clock ticks of
// 10 ms to mean something, short enough for a status to answer at once.
const USAGE_WINDOW_MILLIS = 250

// This process's group, read once: only setpgid/setsid in this process
// could change it, and cronmon calls neither. (Read for every kill before,
// it cost a /proc read per signal: ~0.3 ms per service in a stop-all.)
let ownGroup: number | undefined
const isOwnGroup = (pgid: number): boolean => {
  try {
    ownGroup ??= readStat(process.pid, 0)?.pgid
    return ownGroup === pgid
  } catch {
    return false
  }
}

/**
 * The live `System`.
 *
 * @since 0.1.0
 */
export const layer: Layer.Layer<System> = Layer.sync(System, () => {
  const libc = loadLibc()
  let bootTime: number | undefined
  const linux = process.platform === "linux"
  const setpriv = linux ? findSetpriv() : undefined
  return System.of({
    tryLockExclusive: (fd) =>
      Effect.suspend(() => {
        for (;;) {
          if (libc.flock(fd, LOCK_EX | LOCK_NB) === 0) return Effect.succeed(true)
          const code = libc.errno()
          if (code === libc.EINTR) continue
          if (code === libc.EWOULDBLOCK) return Effect.succeed(false)
          return Effect.fail(new SystemCallError({ call: "flock", errno: code, message: `flock failed (errno ${code})` }))
        }
      }),
    identify: (pid) =>
      Effect.sync(() => {
        bootTime ??= readBootTime()
        const stat = readStat(pid, bootTime)
        // A zombie has ended: only its parent's wait is missing.
        return stat === undefined || stat.state === "Z" ? Option.none() : Option.some(stat)
      }),
    kill: (pid, signal) =>
      Effect.sync(() => {
        // 0, -1 and 1 (as -1) mean "my group", "everyone", "init": never a
        // target, whatever a journal says; nor are this process and its group.
        if (Math.abs(pid) <= 1 || Math.abs(pid) === process.pid || isOwnGroup(Math.abs(pid))) return false
        try {
          process.kill(pid, signal)
          return true
        } catch {
          return false
        }
      }),
    parentDeathSignal: setpriv === undefined ? [] : [setpriv, "--pdeathsig", "SIGTERM", "--"],
    checkExecutable: (file) => Effect.sync(() => checkExecutable(file)),
    bootedAt: Effect.sync(() => (bootTime ??= readBootTime())),
    groupMembers: (pgid) =>
      Effect.sync(() => {
        if (!linux) return []
        bootTime ??= readBootTime()
        return liveMembers(new Set([pgid]), bootTime)
      }),
    becomeSubreaper: Effect.sync(() => linux && libc.prctl(PR_SET_CHILD_SUBREAPER, 1) === 0),
    groupUsage: (pgids) =>
      Effect.gen(function*() {
        const wanted = new Set(pgids)
        if (!linux || wanted.size === 0) return new Map<number, ResourceUsage>()
        const before = new Map(liveMembers(wanted, 0).map(({ cpuTicks, pid }) => [pid, cpuTicks]))
        const startedAt = yield* Clock.currentTimeMillis
        yield* Effect.sleep(USAGE_WINDOW_MILLIS)
        const after = liveMembers(wanted, 0)
        const seconds = ((yield* Clock.currentTimeMillis) - startedAt) / 1000
        const usage = new Map<number, { cpuPercent: number; residentBytes: number }>()
        for (const { cpuTicks, pgid, pid } of after) {
          const used = usage.get(pgid) ?? { cpuPercent: 0, residentBytes: 0 }
          // A process born within the window counts from its start.
          const ran = (cpuTicks - (before.get(pid) ?? 0)) / CLOCK_TICKS_PER_SECOND
          used.cpuPercent += seconds > 0 ? Math.max(0, ran) / seconds * 100 : 0
          used.residentBytes += residentBytes(pid)
          usage.set(pgid, used)
        }
        return usage
      }),
    marked: (journal) =>
      Effect.sync(() => {
        if (!linux) return []
        // NUL-separated entries: the mark is a whole one.
        const mark = Buffer.from(`\0${SERVICE_MARK}=${journal}\0`)
        const nul = Buffer.from([0])
        return fs.readdirSync("/proc").flatMap((entry) => {
          if (!/^\d+$/.test(entry) || Number(entry) === process.pid) return []
          try {
            const environment = Buffer.concat([nul, fs.readFileSync(`/proc/${entry}/environ`)])
            return environment.includes(mark) ? [Number(entry)] : []
          } catch {
            return [] // gone meanwhile, or not ours to read
          }
        })
      }),
    children: Effect.sync((): ReadonlyArray<Child> => {
      if (!linux) return []
      bootTime ??= readBootTime()
      const boot = bootTime
      return childPids().map((pid): Child => {
        let zombie: boolean | undefined
        return {
          pid,
          // Read from /proc when asked, once: the reaper asks only about the
          // children that are not services, so a stop-all of 500 services
          // no longer reads 500 stat files at every SIGCHLD. A child gone
          // meanwhile is no zombie.
          get zombie() {
            zombie ??= readStat(pid, boot)?.state === "Z"
            return zombie
          }
        }
      })
    }),
    reap: (pid) => Effect.sync(() => (libc.collect(pid) ?? -1) >= 0),
    releaseMemory: Effect.sync(() => {
      globalThis.gc?.({ type: "major", flavor: "last-resort" })
      libc.trimHeap()
    })
  })
})
