/**
 * The C library calls Node lacks (`flock`, `prctl`, `waitpid`), through
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
/** `waitpid` option. @since 0.1.0 */
export const WNOHANG = 1

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
  return {
    flock: (fd, operation) => asNumber(flock(fd, operation)),
    prctl: (option, arg) => prctl === undefined ? -1 : asNumber(prctl(option, arg, 0, 0, 0)),
    waitpid: (pid, options) => asNumber(waitpid(pid, [0], options)),
    errno: () => koffi.errno(),
    EWOULDBLOCK: koffi.os.errno["EWOULDBLOCK"] ?? 11,
    EINTR: koffi.os.errno["EINTR"] ?? 4
  }
}
