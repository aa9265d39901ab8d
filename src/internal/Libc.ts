/**
 * The C library calls Node lacks (`flock`, `prctl`, `waitpid`, `execv`, `posix_spawn`,
 * `malloc_trim`, and the Unix datagram socket calls of the notify socket),
 * through koffi.
 * Nothing from Effect here: the CLI's entry uses it to decide lock-or-exit
 * before it loads anything else.
 *
 * @since 0.1.0
 */
import { createRequire } from "node:module"
import * as os from "node:os"

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
  /**
   * Collects `pid` if it has ended (`waitpid(pid, WNOHANG)`): its wait
   * status; `undefined` while it runs; -1 when it is not a child to wait for.
   */
  readonly collect: (pid: number) => number | undefined
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
  /**
   * Gives the free memory of the C heap back to the system
   * (`malloc_trim(0)`, glibc's): `false` where there is no such call.
   */
  readonly trimHeap: () => boolean
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

// koffi and the C library, opened once for every group of calls.
let opened: { readonly koffi: typeof import("koffi"); readonly libc: import("koffi").LibraryHandle } | undefined
const open = () => {
  if (opened !== undefined) return opened
  const require = createRequire(import.meta.url)
  const koffi: typeof import("koffi") = require("koffi")
  const names = process.platform === "darwin" ? ["libc.dylib"] : ["libc.so.6", `libc.musl-${muslArch()}.so.1`, "libc.so"]
  opened = { koffi, libc: loadFirst(koffi, names) }
  return opened
}

const load = (): Libc => {
  const { koffi, libc } = open()
  const darwin = process.platform === "darwin"
  const flock = libc.func("int flock(int fd, int operation)")
  const prctl = darwin
    ? undefined
    : libc.func("int prctl(int option, unsigned long arg2, unsigned long arg3, unsigned long arg4, unsigned long arg5)")
  const waitpid = libc.func("int waitpid(int pid, _Out_ int *status, int options)")
  const pipe2 = darwin ? undefined : libc.func("int pipe2(_Out_ int *fds, int flags)")
  const fcntl = libc.func("int fcntl(int fd, int cmd, int arg)")
  const execv = libc.func("int execv(const char *path, const char **argv)")
  // glibc only (musl and macOS have none): looked up when first called.
  let mallocTrim: ((pad: number) => unknown) | null | undefined
  const findMallocTrim = () => {
    try {
      return libc.func("int malloc_trim(size_t pad)")
    } catch {
      return null
    }
  }
  return {
    flock: (fd, operation) => asNumber(flock(fd, operation)),
    prctl: (option, arg) => prctl === undefined ? -1 : asNumber(prctl(option, arg, 0, 0, 0)),
    collect: (pid) => {
      const status = [0]
      const result = asNumber(waitpid(pid, status, WNOHANG))
      return result === pid ? status[0] ?? 0 : result === 0 ? undefined : -1
    },
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
    trimHeap: () => {
      mallocTrim ??= findMallocTrim()
      if (mallocTrim === null) return false
      mallocTrim(0)
      return true
    },
    EWOULDBLOCK: koffi.os.errno["EWOULDBLOCK"] ?? 11,
    EINTR: koffi.os.errno["EINTR"] ?? 4
  }
}

// Each errno's first name (EAGAIN before its alias EWOULDBLOCK), as Node
// names it; made when first asked (the cron tick loads this module).
let errnoNames: Map<number, string> | undefined

/**
 * An errno's name (`EADDRINUSE`), for one-line messages and error codes;
 * `undefined` for a number this system does not name.
 *
 * @since 0.1.0
 */
export const errnoName = (errno: number): string | undefined => {
  if (errnoNames === undefined) {
    errnoNames = new Map()
    for (const [name, number] of Object.entries(os.constants.errno)) if (!errnoNames.has(number)) errnoNames.set(number, name)
  }
  return errnoNames.get(errno)
}

/** Socket constants (Linux, generic architectures). @since 0.1.0 */
export const AF_UNIX = 1
/** @since 0.1.0 */
export const SOCK_DGRAM = 2
/** @since 0.1.0 */
export const SOCK_NONBLOCK = 0o4000
/** @since 0.1.0 */
export const SOL_SOCKET = 1
/** `setsockopt` option: have the kernel attach the sender's credentials (PowerPC numbers it 20). @since 0.1.0 */
export const SO_PASSCRED = process.arch === "ppc64" ? 20 : 16
/** Control message types. @since 0.1.0 */
export const SCM_RIGHTS = 1
/** @since 0.1.0 */
export const SCM_CREDENTIALS = 2
/** `recvmsg` flags. @since 0.1.0 */
export const MSG_CTRUNC = 0x8
/** @since 0.1.0 */
export const MSG_TRUNC = 0x20
/** @since 0.1.0 */
export const MSG_DONTWAIT = 0x40
/** @since 0.1.0 */
export const MSG_CMSG_CLOEXEC = 0x40000000

/**
 * C memory that never moves (the kernel writes into it during a call that
 * holds only its address), with typed access in the machine's byte order.
 *
 * @since 0.1.0
 */
export interface NativeMemory {
  readonly address: bigint
  /** The memory itself, without copy: valid until `free`. */
  readonly bytes: Buffer
  readonly readSize: (offset: number) => number
  readonly writeSize: (offset: number, value: number) => void
  readonly writeAddress: (offset: number, address: bigint) => void
  readonly readInt: (offset: number) => number
  readonly readUnsigned: (offset: number) => number
  readonly free: () => void
}

/**
 * Where the fields of `struct msghdr` and `struct iovec` lie, and the
 * machine's word (`size_t`), which aligns control messages.
 *
 * @since 0.1.0
 */
export interface MessageHeaderLayout {
  readonly headerBytes: number
  readonly iov: number
  readonly iovlen: number
  readonly control: number
  readonly controllen: number
  readonly flags: number
  readonly iovecBytes: number
  readonly iovecLength: number
  readonly word: number
}

/**
 * The calls of a non-blocking Unix datagram receiver, and libuv's own
 * readiness watch (`uv_poll`, through koffi) so that reading happens on the
 * event loop when data is there, on no thread and with no timer.
 *
 * @since 0.1.0
 */
export interface DatagramCalls {
  /** `socket(domain, type, 0)`: a descriptor, or -1. */
  readonly socket: (domain: number, type: number) => number
  /** `bind` to a `struct sockaddr_un` given whole: 0, or -1. */
  readonly bind: (fd: number, address: Uint8Array) => number
  /** `setsockopt` of an `int` option: 0, or -1. */
  readonly setIntOption: (fd: number, level: number, name: number, value: number) => number
  /** `recvmsg(fd, header, flags)`: the bytes received, or -1. */
  readonly receiveMessage: (fd: number, header: bigint, flags: number) => number
  readonly close: (fd: number) => number
  readonly errno: () => number
  readonly allocate: (bytes: number) => NativeMemory
  /**
   * Calls `onReadable` from the event loop whenever `fd` has data (level
   * triggered: again on the next turn while data is left); `failure` is a
   * negative libuv error code when polling failed, else 0. Close the watch
   * before the descriptor.
   */
  readonly watchReadable: (fd: number, onReadable: (failure: number) => void) => { readonly close: () => void }
  readonly layout: MessageHeaderLayout
  readonly EAGAIN: number
  readonly EINTR: number
}

let datagramCalls: DatagramCalls | undefined

/**
 * Loads the datagram calls, once; `undefined` where koffi cannot watch a
 * descriptor on libuv's loop (`koffi.node.poll`, koffi 2.15 and later).
 *
 * @since 0.1.0
 */
export const loadDatagramCalls = (): DatagramCalls | undefined => {
  if (datagramCalls !== undefined) return datagramCalls
  const { koffi, libc } = open()
  // Not yet documented by koffi (its changelog warns that it may change): checked, not assumed.
  const poll: unknown = koffi.node?.poll
  if (typeof poll !== "function") return undefined
  const socket = libc.func("int socket(int domain, int type, int protocol)")
  const bind = libc.func("int bind(int fd, const void *address, uint32_t length)")
  const setsockopt = libc.func("int setsockopt(int fd, int level, int name, const void *value, uint32_t length)")
  const recvmsg = libc.func("intptr_t recvmsg(int fd, void *header, int flags)")
  const close = libc.func("int close(int fd)")
  const header = koffi.struct("cronmon_msghdr", {
    msg_name: "void *",
    msg_namelen: "uint32_t",
    msg_iov: "void *",
    msg_iovlen: "size_t",
    msg_control: "void *",
    msg_controllen: "size_t",
    msg_flags: "int"
  })
  const iovec = koffi.struct("cronmon_iovec", { iov_base: "void *", iov_len: "size_t" })
  const intValue = new Int32Array(1) // the machine's byte order
  datagramCalls = {
    socket: (domain, type) => asNumber(socket(domain, type, 0)),
    bind: (fd, address) => asNumber(bind(fd, address, address.length)),
    setIntOption: (fd, level, name, value) => {
      intValue[0] = value
      return asNumber(setsockopt(fd, level, name, intValue, 4))
    },
    receiveMessage: (fd, at, flags) => asNumber(recvmsg(fd, at, flags)),
    close: (fd) => asNumber(close(fd)),
    errno: () => koffi.errno(),
    allocate: (bytes) => {
      const address: bigint = koffi.alloc("uint8", bytes)
      const number = (value: unknown) => typeof value === "bigint" ? Number(value) : asNumber(value)
      return {
        address,
        bytes: Buffer.from(koffi.view(address, bytes)),
        readSize: (offset) => number(koffi.decode(address, offset, "size_t")),
        writeSize: (offset, value) => koffi.encode(address, offset, "size_t", value),
        writeAddress: (offset, pointer) => koffi.encode(address, offset, "uintptr_t", pointer),
        readInt: (offset) => asNumber(koffi.decode(address, offset, "int")),
        readUnsigned: (offset) => asNumber(koffi.decode(address, offset, "uint32_t")),
        free: () => koffi.free(address)
      }
    },
    watchReadable: (fd, onReadable) => {
      // koffi calls back with (status, events), not the (events) its types say.
      const handle = koffi.node.poll(fd, { readable: true }, (status: unknown) =>
        onReadable(typeof status === "number" && status < 0 ? status : 0))
      return { close: () => handle.close() }
    },
    layout: {
      headerBytes: koffi.sizeof(header),
      iov: koffi.offsetof(header, "msg_iov"),
      iovlen: koffi.offsetof(header, "msg_iovlen"),
      control: koffi.offsetof(header, "msg_control"),
      controllen: koffi.offsetof(header, "msg_controllen"),
      flags: koffi.offsetof(header, "msg_flags"),
      iovecBytes: koffi.sizeof(iovec),
      iovecLength: koffi.offsetof(iovec, "iov_len"),
      word: koffi.sizeof("size_t")
    },
    EAGAIN: koffi.os.errno["EAGAIN"] ?? 11,
    EINTR: koffi.os.errno["EINTR"] ?? 4
  }
  return datagramCalls
}

/** `posix_spawnattr_setflags` flags (glibc and musl). @since 0.1.0 */
export const POSIX_SPAWN_SETSIGDEF = 0x04
/** @since 0.1.0 */
export const POSIX_SPAWN_SETSIGMASK = 0x08
/** @since 0.1.0 */
export const POSIX_SPAWN_SETSID = 0x80

/**
 * How a process is started by `SpawnCalls.spawn`: its program (a path, not
 * looked up in PATH), arguments (`argv[0]` included), whole environment as
 * `NAME=value`, and the descriptor that becomes both its fd 1 and fd 2;
 * `extra` become fd 3, 4, and so on. Its stdin is /dev/null.
 *
 * @since 0.1.0
 */
export interface SpawnRequest {
  readonly file: string
  readonly argv: ReadonlyArray<string>
  readonly env: ReadonlyArray<string>
  readonly output: number
  readonly extra: ReadonlyArray<number>
}

/**
 * Process creation without copying this process (`posix_spawn`, which the C
 * library runs as `clone(CLONE_VM|CLONE_VFORK)`), and collection of what it
 * started.
 *
 * @since 0.1.0
 */
export interface SpawnCalls {
  /**
   * Starts the program in a new session (its own process group), every
   * signal at its default and none blocked: its pid, or the errno of why it
   * could not be run (the program missing, not executable, ...).
   */
  readonly spawn: (request: SpawnRequest) => { readonly pid: number } | { readonly errno: number }
  /** `Libc.collect`, beside the spawn it collects for. */
  readonly collect: (pid: number) => number | undefined
  /**
   * The pid of a child (any) that has ended, left to be collected
   * (`waitid(P_ALL, WEXITED|WNOHANG|WNOWAIT)`): 0 when none has, -1 on failure.
   */
  readonly ended: () => number
}

let spawnCalls: SpawnCalls | null | undefined

// Sizes of the opaque C types, rounded up well past glibc's (336, 80, 128 bytes).
const SPAWN_ATTR_BYTES = 1024
const FILE_ACTIONS_BYTES = 512
const SIGSET_BYTES = 256
// `siginfo_t` is 128 bytes; `si_pid` follows three ints, aligned as a pointer.
const SIGINFO_BYTES = 128
const P_ALL = 0
const WEXITED = 4
const WNOWAIT = 0x01000000

/**
 * Loads the spawn calls, once; `undefined` where the C library cannot start
 * a process in a session of its own (only Linux is trusted with it here).
 *
 * @since 0.1.0
 */
export const loadSpawnCalls = (): SpawnCalls | undefined => {
  if (spawnCalls !== undefined) return spawnCalls ?? undefined
  spawnCalls = null
  if (process.platform !== "linux") return undefined
  try {
    const { koffi, libc } = open()
    const pidOffset = koffi.sizeof("void *") === 8 ? 16 : 12
    const bigEndian = os.endianness() === "BE"
    const posixSpawn = libc.func(
      "int posix_spawn(_Out_ int *pid, const char *path, void *actions, void *attributes, const char **argv, const char **envp)"
    )
    const actionsInit = libc.func("int posix_spawn_file_actions_init(void *actions)")
    const actionsDestroy = libc.func("int posix_spawn_file_actions_destroy(void *actions)")
    const addOpen = libc.func("int posix_spawn_file_actions_addopen(void *actions, int fd, const char *path, int flags, uint32_t mode)")
    const addDup2 = libc.func("int posix_spawn_file_actions_adddup2(void *actions, int fd, int target)")
    const attributesInit = libc.func("int posix_spawnattr_init(void *attributes)")
    const setFlags = libc.func("int posix_spawnattr_setflags(void *attributes, short flags)")
    const setSignalMask = libc.func("int posix_spawnattr_setsigmask(void *attributes, const void *set)")
    const setSignalDefault = libc.func("int posix_spawnattr_setsigdefault(void *attributes, const void *set)")
    const emptySet = libc.func("int sigemptyset(void *set)")
    const waitid = libc.func("int waitid(int type, int id, void *info, int options)")
    const info = Buffer.alloc(SIGINFO_BYTES)
    // One set of attributes for every spawn, kept for the life of the process.
    const attributes = Buffer.alloc(SPAWN_ATTR_BYTES)
    const none = Buffer.alloc(SIGSET_BYTES)
    // Every bit set: glibc's sigfillset leaves out its own signals (32, 33),
    // which its spawn then leaves ignored in the child.
    const all = Buffer.alloc(SIGSET_BYTES, 0xff)
    const ok = [
      attributesInit(attributes),
      emptySet(none),
      setFlags(attributes, POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK),
      setSignalMask(attributes, none),
      setSignalDefault(attributes, all)
    ].every((result) => result === 0)
    if (!ok) return undefined
    spawnCalls = {
      spawn: ({ argv, env, extra, file, output }) => {
        const actions = Buffer.alloc(FILE_ACTIONS_BYTES)
        const initialized = asNumber(actionsInit(actions))
        if (initialized !== 0) return { errno: initialized }
        try {
          const failed = [
            addOpen(actions, 0, "/dev/null", 0, 0),
            addDup2(actions, output, 1),
            addDup2(actions, output, 2),
            ...extra.map((fd, index) => addDup2(actions, fd, 3 + index))
          ].find((result) => result !== 0)
          if (failed !== undefined) return { errno: asNumber(failed) }
          const pid = [0]
          const result = asNumber(posixSpawn(pid, file, actions, attributes, [...argv, null], [...env, null]))
          return result === 0 ? { pid: pid[0] ?? -1 } : { errno: result }
        } finally {
          actionsDestroy(actions)
        }
      },
      collect: loadLibc().collect,
      ended: () => {
        info.fill(0)
        return asNumber(waitid(P_ALL, 0, info, WEXITED | WNOHANG | WNOWAIT)) === 0 ? (bigEndian ? info.readInt32BE(pidOffset) : info.readInt32LE(pidOffset)) : -1
      }
    }
    return spawnCalls
  } catch {
    return undefined
  }
}
