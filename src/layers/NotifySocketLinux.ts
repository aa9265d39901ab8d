/**
 * The `NotifySocket` on Linux: a non-blocking `AF_UNIX` datagram socket with
 * `SO_PASSCRED`, read with `recvmsg` on the event loop when libuv's own
 * `epoll` says it is readable (`uv_poll`, through koffi): no thread, no
 * timer, no native build. Elsewhere, no readiness (`unsupported`).
 *
 * @since 0.1.0
 */
import { Cause, Effect, Layer, Option, Queue, Stream } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { SOCKET_PATH_MAX_BYTES } from "../domain/ControlSocketPath.ts"
import { errorMessage } from "../domain/Errors.ts"
import { NOTIFY_MESSAGE_MAX_BYTES, parseNotifyMessage } from "../domain/NotifyMessage.ts"
import { type Notification, NotifySocket, NotifySocketError, type Sender } from "../services/NotifySocket.ts"
import { socketPlaceRefusal } from "../internal/ControlSocket.ts"
import {
  AF_UNIX,
  type DatagramCalls,
  errnoName,
  loadDatagramCalls,
  MSG_CMSG_CLOEXEC,
  MSG_CTRUNC,
  MSG_DONTWAIT,
  MSG_TRUNC,
  type NativeMemory,
  O_CLOEXEC,
  SCM_CREDENTIALS,
  SCM_RIGHTS,
  SO_PASSCRED,
  SOCK_DGRAM,
  SOCK_NONBLOCK,
  SOL_SOCKET
} from "../internal/Libc.ts"
import { parseProcStat } from "./SystemLinux.ts"

/**
 * Where the socket is, and how far the consumer may lag.
 *
 * @since 0.1.0
 */
export interface Options {
  /**
   * The socket's absolute path, at most 107 bytes. Its directory is created
   * (0700) when missing, and must be the user's and closed to everyone else
   * (no group or other permission bits): whoever may enter it may send. A
   * socket left there (by a daemon that crashed) is replaced: build this
   * layer only while holding the journal's lock.
   */
  readonly path: string
  /** Notifications kept for a consumer that lags, the oldest dropped beyond (default 1024). */
  readonly capacity?: number
}

/**
 * Datagrams read in one turn of the event loop; the rest wait for the next
 * turn, so that a flood never holds the loop for long.
 *
 * @since 0.1.0
 */
export const DATAGRAMS_PER_TURN = 64

// Descriptors one datagram may bring that are received (and closed); the
// kernel closes those beyond (and sets MSG_CTRUNC). BARRIER=1 brings one.
const DESCRIPTORS_ROOM = 8
// struct ucred: pid, uid, gid.
const CREDENTIALS_BYTES = 12
const DEFAULT_CAPACITY = 1024

// The kernel's CMSG_ALIGN: control messages and their data start on a word.
const align = (bytes: number, word: number) => (bytes + word - 1) & ~(word - 1)

// /proc/PID/stat fits: its only free-form field, the command, is at most 64 bytes.
const statBuffer = Buffer.alloc(1024)

// Read when the datagram arrives: a sender that waits on its barrier still
// lives then, and one that has exited is reported as gone. One read into a
// buffer of our own: readFileSync's read-until-empty of a /proc file cost
// about 70 µs a datagram in a flood, most of its receiving cost.
const processGroupOf = (pid: number): number | undefined => {
  let fd: number | undefined
  try {
    fd = fs.openSync(`/proc/${pid}/stat`, "r")
    const length = fs.readSync(fd, statBuffer, 0, statBuffer.length, 0)
    return parseProcStat(statBuffer.toString("latin1", 0, length), 0)?.pgid
  } catch {
    return undefined
  } finally {
    if (fd !== undefined) fs.closeSync(fd)
  }
}

const socketAddress = (socketPath: string): Buffer => {
  const sunPath = Buffer.from(socketPath)
  // sa_family_t in the machine's byte order, then the NUL-terminated path.
  const address = Buffer.alloc(2 + sunPath.length + 1)
  new Uint16Array(address.buffer, address.byteOffset, 1)[0] = AF_UNIX
  sunPath.copy(address, 2)
  return address
}

interface Receiver {
  readonly release: () => void
}

// An errno in a one-line message.
const errnoText = (errno: number) => errnoName(errno) ?? `errno ${errno}`

// The socket bound and watched, each datagram whose sender `accepts` takes
// handed to `deliver` (or `fail`, once, when receiving stops working).
const receive = (
  calls: DatagramCalls,
  socketPath: string,
  accepts: (sender: Sender) => boolean,
  deliver: (notification: Notification) => void,
  fail: (reason: string) => void
): Receiver | string => {
  const failed = (call: string) => `${call} failed (${errnoText(calls.errno())})`
  const fd = calls.socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | O_CLOEXEC)
  if (fd < 0) return failed("socket")
  // Before bind: no datagram may arrive without its sender's credentials.
  const refusal = calls.setIntOption(fd, SOL_SOCKET, SO_PASSCRED, 1) !== 0
    ? failed("setsockopt SO_PASSCRED")
    : calls.bind(fd, socketAddress(socketPath)) !== 0
    ? failed("bind")
    : undefined
  if (refusal !== undefined) {
    calls.close(fd)
    return refusal
  }

  const { layout } = calls
  const controlHeader = align(layout.word + 8, layout.word) // struct cmsghdr: size_t len; int level; int type
  const controlBytes = controlHeader + align(CREDENTIALS_BYTES, layout.word) +
    controlHeader + align(4 * DESCRIPTORS_ROOM, layout.word)
  const iovecAt = align(layout.headerBytes, layout.word)
  const dataAt = iovecAt + layout.iovecBytes
  const controlAt = align(dataAt + NOTIFY_MESSAGE_MAX_BYTES, layout.word)
  const memory: NativeMemory = calls.allocate(controlAt + controlBytes)
  memory.bytes.fill(0)
  memory.writeAddress(layout.iov, memory.address + BigInt(iovecAt))
  memory.writeSize(layout.iovlen, 1)
  memory.writeAddress(layout.control, memory.address + BigInt(controlAt))
  memory.writeAddress(iovecAt, memory.address + BigInt(dataAt))
  memory.writeSize(iovecAt + layout.iovecLength, NOTIFY_MESSAGE_MAX_BYTES)

  // The senders' groups, read once a turn of the loop: a flood from one
  // process reads /proc once a turn, not once a datagram.
  const groups = new Map<number, number | undefined>()

  // One datagram: its descriptors closed, its sender read; `undefined` when
  // it is to be ignored (its sender refused before its text is read).
  const readOne = (length: number): Notification | undefined => {
    const used = memory.readSize(layout.controllen)
    let sender: { pid: number; uid: number; gid: number } | undefined
    for (let at = 0; at + controlHeader <= used;) {
      const messageLength = memory.readSize(controlAt + at)
      if (messageLength < controlHeader) break
      const level = memory.readInt(controlAt + at + layout.word)
      const type = memory.readInt(controlAt + at + layout.word + 4)
      const data = controlAt + at + controlHeader
      if (level === SOL_SOCKET && type === SCM_RIGHTS) {
        for (let fdAt = data; fdAt + 4 <= controlAt + at + messageLength; fdAt += 4) calls.close(memory.readInt(fdAt))
      } else if (level === SOL_SOCKET && type === SCM_CREDENTIALS && messageLength >= controlHeader + CREDENTIALS_BYTES) {
        sender = { pid: memory.readInt(data), uid: memory.readUnsigned(data + 4), gid: memory.readUnsigned(data + 8) }
      }
      at += align(messageLength, layout.word)
    }
    // Cut data or control (more descriptors than room): ignored, as systemd does.
    if ((memory.readInt(layout.flags) & (MSG_TRUNC | MSG_CTRUNC)) !== 0 || sender === undefined) return undefined
    if (!groups.has(sender.pid)) groups.set(sender.pid, processGroupOf(sender.pid))
    const from: Sender = { ...sender, pgid: groups.get(sender.pid) }
    if (!accepts(from)) return undefined
    const fields = parseNotifyMessage(memory.bytes.subarray(dataAt, dataAt + length))
    return fields === undefined ? undefined : { ...from, fields }
  }

  let watch: { readonly close: () => void } | undefined
  const stop = () => {
    watch?.close()
    watch = undefined
  }
  const onReadable = (failure: number) => {
    if (failure < 0) {
      stop()
      return fail(`polling failed (libuv error ${failure})`)
    }
    groups.clear()
    for (let read = 0; read < DATAGRAMS_PER_TURN; read++) {
      // The kernel writes back how much control data it used.
      memory.writeSize(layout.controllen, controlBytes)
      const length = calls.receiveMessage(fd, memory.address, MSG_DONTWAIT | MSG_CMSG_CLOEXEC)
      if (length < 0) {
        const errno = calls.errno()
        if (errno === calls.EINTR) continue
        if (errno === calls.EAGAIN) return
        stop()
        return fail(`recvmsg failed (${errnoText(errno)})`)
      }
      const notification = readOne(length)
      if (notification !== undefined) deliver(notification)
    }
  }
  try {
    watch = calls.watchReadable(fd, onReadable)
  } catch (error) {
    calls.close(fd)
    memory.free()
    return `cannot watch it on the event loop: ${errorMessage(error)}`
  }

  return {
    release: () => {
      stop() // the watch before the descriptor (uv_poll's rule)
      calls.close(fd)
      memory.free()
      try {
        fs.unlinkSync(socketPath)
      } catch {
        // Gone already, or its directory made read-only: the next daemon replaces it.
      }
    }
  }
}

/**
 * No readiness: no address to give services, nothing ever arrives.
 *
 * @since 0.1.0
 */
export const unsupported: Layer.Layer<NotifySocket> = Layer.succeed(
  NotifySocket,
  NotifySocket.of({ address: Option.none(), notifications: () => Stream.never })
)

/**
 * The live `NotifySocket`: the socket bound at `options.path` for the life
 * of the layer, then closed and removed. Off Linux, or where koffi cannot
 * watch a descriptor on libuv's loop, `unsupported`.
 *
 * @example
 * ```ts
 * const notify = NotifySocketLinux.layer({ path: "/home/me/.local/state/cronmon/run/notify" })
 * ```
 * @since 0.1.0
 */
export const layer = (options: Options): Layer.Layer<NotifySocket, NotifySocketError> => {
  const calls = process.platform === "linux" ? loadDatagramCalls() : undefined
  if (calls === undefined) return unsupported
  return Layer.effect(
    NotifySocket,
    Effect.gen(function*() {
      const socketPath = path.resolve(options.path)
      const refuse = (reason: string) => Effect.fail(new NotifySocketError({ path: socketPath, reason }))
      if (Buffer.byteLength(socketPath) > SOCKET_PATH_MAX_BYTES) {
        return yield* refuse(`the path is longer than a socket's ${SOCKET_PATH_MAX_BYTES} bytes`)
      }
      // Whoever may enter its directory may send: a private one.
      const fault = socketPlaceRefusal({ path: socketPath, privateDirectory: path.dirname(socketPath) })
      if (fault !== undefined) return yield* refuse(fault)
      const queue = yield* Queue.sliding<Notification, NotifySocketError | Cause.Done>(options.capacity ?? DEFAULT_CAPACITY)
      // Until the consumer says whom it accepts, everything is kept (bounded).
      let accepts: (sender: Sender) => boolean = () => true
      const receiver = receive(
        calls,
        socketPath,
        (sender) => accepts(sender),
        (notification) => Queue.offerUnsafe(queue, notification),
        (reason) => Queue.failCauseUnsafe(queue, Cause.fail(new NotifySocketError({ path: socketPath, reason })))
      )
      if (typeof receiver === "string") return yield* refuse(receiver)
      yield* Effect.addFinalizer(() =>
        Effect.sync(() => {
          receiver.release()
          Queue.endUnsafe(queue)
        })
      )
      return NotifySocket.of({
        address: Option.some(socketPath),
        notifications: (accept) =>
          Stream.suspend(() => {
            accepts = accept
            return Stream.filter(Stream.fromQueue(queue), accept)
          })
      })
    })
  )
}
