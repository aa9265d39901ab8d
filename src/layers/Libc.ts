/**
 * The C library calls Node lacks (`flock`, `prctl`, `waitpid`, `execv`), through
 * koffi. Nothing from Effect here: the CLI's entry uses it to decide
 * lock-or-exit before it loads anything else.
 *
 * @since 0.1.0
 */
import { createRequire } from "node:module"

/** `flock` operations. @since 0.1.0 */
export const LOCK_EX = 2
/** @since 0.1.0 */
export const LOCK_NB = 4
/** `prctl` option. @since 0.1.0 */
export const PR_SET_CHILD_SUBREAPER = 36
/** `pipe2` flag (Linux). @since 0.1.0 */
export const O_CLOEXEC = 0o2000000
/** `fcntl` command (Linux). @since 0.1.0 */
export const F_SETPIPE_SZ = 1031
/** `waitpid` option. @since 0.1.0 */
export const WNOHANG = 1
/** `fcntl` command: set the descriptor's flags (`FD_CLOEXEC`). @since 0.1.0 */
export const F_SETFD = 2

/**
 * The calls, typed.
 *
 * @since 0.1.0
 */
export interface Libc {
  readonly flock: (fd: number, operation: number) => number
  readonly prctl: (option: number, arg: number) => number
  readonly waitpid: (pid: number, options: number) => number
  readonly errno: () => number
  /** `pipe2(fds, O_CLOEXEC)`: `[read, write]`, or `undefined` on failure. */
  readonly pipe: () => readonly [number, number] | undefined
  /** Grows a pipe's buffer (`F_SETPIPE_SZ`); the size granted, or -1. */
  readonly setPipeSize: (fd: number, bytes: number) => number
  /**
   * Replaces this process with `file` run with `argv` (`execv`: same pid,
   * same environment), stdin, stdout and stderr kept (Node marks them
   * close-on-exec at start). Returns only when it fails: -1.
   */
  readonly exec: (file: string, argv: ReadonlyArray<string>) => number
  readonly EWOULDBLOCK: number
  readonly EINTR: number
}

const asNumber = (value: unknown): number => typeof value === "number" ? value : -1

// glibc names its C library libc.so.6; musl (Alpine) libc.musl-ARCH.so.1.
const MUSL_ARCH: Readonly<Record<string, string>> = { x64: "x86_64", arm64: "aarch64", arm: "armhf" }
const muslArch = (): string => MUSL_ARCH[process.arch] ?? process.arch

const loadFirst = (koffi: typeof import("koffi"), names: ReadonlyArray<string>) => {
  let failure: unknown
  for (const name of names) {
    try {
      return koffi.load(name)
    } catch (error) {
      failure = error
    }
  }
  throw failure
}

/**
 * Loads the C library (glibc, musl, or macOS's). koffi is a native addon:
 * loaded through `require`, so that the bundled CLI keeps it external, and
 * only when called.
 *
 * @since 0.1.0
 */
export const loadLibc = (): Libc => (loaded ??= load())

// Loaded once per process: the cron tick's lock check and the daemon share it.
let loaded: Libc | undefined

const load = (): Libc => {
  const require = createRequire(import.meta.url)
  const koffi: typeof import("koffi") = require("koffi")
  const darwin = process.platform === "darwin"
  const libc = loadFirst(koffi, darwin ? ["libc.dylib"] : ["libc.so.6", `libc.musl-${muslArch()}.so.1`, "libc.so"])
  const flock = libc.func("int flock(int fd, int operation)")
  const prctl = darwin
    ? undefined
    : libc.func("int prctl(int option, unsigned long arg2, unsigned long arg3, unsigned long arg4, unsigned long arg5)")
  const waitpid = libc.func("int waitpid(int pid, _Out_ int *status, int options)")
  const pipe2 = darwin ? undefined : libc.func("int pipe2(_Out_ int *fds, int flags)")
  const fcntl = libc.func("int fcntl(int fd, int cmd, int arg)")
  const execv = libc.func("int execv(const char *path, const char **argv)")
  return {
    flock: (fd, operation) => asNumber(flock(fd, operation)),
    prctl: (option, arg) => prctl === undefined ? -1 : asNumber(prctl(option, arg, 0, 0, 0)),
    waitpid: (pid, options) => asNumber(waitpid(pid, [0], options)),
    errno: () => koffi.errno(),
    pipe: () => {
      const fds = new Int32Array(2)
      if (pipe2 === undefined || asNumber(pipe2(fds, O_CLOEXEC)) !== 0) return undefined
      return [fds[0] ?? -1, fds[1] ?? -1]
    },
    setPipeSize: (fd, bytes) => darwin ? -1 : asNumber(fcntl(fd, F_SETPIPE_SZ, bytes)),
    exec: (file, argv) => {
      for (const fd of [0, 1, 2]) fcntl(fd, F_SETFD, 0)
      return asNumber(execv(file, [...argv, null]))
    },
    EWOULDBLOCK: koffi.os.errno["EWOULDBLOCK"] ?? 11,
    EINTR: koffi.os.errno["EINTR"] ?? 4
  }
}
