/**
 * The daemon's end of systemd's notification protocol (`sd_notify(3)`): a
 * datagram socket named to every service as `NOTIFY_SOCKET`, and what
 * arrives on it, each message with its sender as the kernel vouches for it.
 *
 * @since 0.1.0
 */
import { Context, Data, type Option, type Stream } from "effect"

/**
 * Who sent a datagram. `pid`, `uid` and `gid` are the kernel's
 * (`SCM_CREDENTIALS`), not the sender's word: only root can claim another
 * process.
 *
 * @since 0.1.0
 */
export interface Sender {
  readonly pid: number
  readonly uid: number
  readonly gid: number
  /**
   * The sender's process group, read when the datagram was received (while
   * a `systemd-notify` that waits on its barrier still lives), or
   * `undefined` when the sender had already gone. Accept a message when this
   * is a service's group (systemd's `NotifyAccess=all`).
   */
  readonly pgid: number | undefined
}

/**
 * One datagram received on the notify socket, with its sender.
 *
 * @since 0.1.0
 */
export interface Notification extends Sender {
  /** The message's `KEY=value` lines (`parseNotifyMessage`); unknown keys are kept. */
  readonly fields: ReadonlyMap<string, string>
}

/**
 * The notify socket could not be made (its directory is open to other users,
 * the path is too long for a socket, a file that is not a socket is in the
 * way, a system call failed), or stopped working.
 *
 * @since 0.1.0
 */
export class NotifySocketError extends Data.TaggedError("NotifySocketError")<{
  readonly path: string
  readonly reason: string
}> {
  override get message() {
    return `notify socket ${this.path}: ${this.reason}`
  }
}

/**
 * Receives readiness notifications.
 *
 * @example
 * ```ts
 * const notify = yield* NotifySocket
 * const environment = Option.match(notify.address, {
 *   onNone: () => ({}),
 *   onSome: (address) => ({ NOTIFY_SOCKET: address })
 * })
 * const fromServices = notify.notifications((sender) => sender.pgid !== undefined && groups.has(sender.pgid))
 * yield* Stream.runForEach(fromServices, (n) => Effect.log(n.pid, n.fields.get("STATUS")))
 * ```
 * @since 0.1.0
 */
export class NotifySocket extends Context.Service<NotifySocket, {
  /**
   * What to give every service as `NOTIFY_SOCKET`; `None` where readiness is
   * not supported (not Linux): then nothing ever arrives, and a service's
   * run should count as ready as soon as it is spawned.
   */
  readonly address: Option.Option<string>
  /**
   * The messages whose sender `accept` takes, in the order they arrived,
   * for one consumer. Once the stream runs, `accept` is asked as each
   * datagram is received, before it is queued, so that a flood from
   * senders it refuses takes no room from those it accepts (what arrived
   * before is kept, and filtered as it is read). What waits for the
   * consumer is bounded: the oldest are dropped when it lags by more than
   * the layer's capacity. Datagrams that are cut (longer than
   * `NOTIFY_MESSAGE_MAX_BYTES`), hold a NUL byte or carry no credentials
   * are dropped on receipt; every descriptor that comes with a datagram
   * (`BARRIER=1`'s) is closed on receipt, whoever sent it. Fails only when
   * receiving stops working (an unexpected `recvmsg` error); ends when the
   * layer is released.
   */
  readonly notifications: (accept: (sender: Sender) => boolean) => Stream.Stream<Notification, NotifySocketError>
}>()("cronmon/NotifySocket") {}
