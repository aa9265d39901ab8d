/**
 * A `NotifySocket` fed by hand, for tests: a test says which process sends
 * what, and the consumer receives it as from the live socket.
 *
 * @since 0.1.0
 */
import { Context, Effect, Layer, Option, Queue, Stream } from "effect"
import { parseNotifyMessage } from "../domain/NotifyMessage.ts"
import { type Notification, NotifySocket, type Sender } from "../services/NotifySocket.ts"

/**
 * Who sends a simulated datagram: `pgid` defaults to `pid` (a process that
 * leads its group, as a service does), `uid` and `gid` to this process's.
 *
 * @since 0.1.0
 */
export interface SimulatedSender {
  readonly pid: number
  readonly pgid?: number | undefined
  readonly uid?: number
  readonly gid?: number
}

/**
 * The hand of the simulated socket.
 *
 * @example
 * ```ts
 * yield* (yield* NotifySimulation).send({ pid: 4242 }, "READY=1\nSTATUS=serving")
 * ```
 * @since 0.1.0
 */
export class NotifySimulation extends Context.Service<NotifySimulation, {
  /**
   * A datagram arrives: ignored, as by the live layer, when the
   * consumer does not accept its sender or it holds a NUL byte; else
   * parsed as the live layer parses it.
   */
  readonly send: (sender: SimulatedSender, message: string) => Effect.Effect<void>
}>()("cronmon/NotifySimulation") {}

/**
 * A notify socket whose datagrams are whatever the test sends; `address`
 * is what services would be given (`/run/cronmon/notify` by default).
 *
 * @since 0.1.0
 */
export const layer = (address = "/run/cronmon/notify"): Layer.Layer<NotifySocket | NotifySimulation> =>
  Layer.effectContext(
    Effect.map(Queue.unbounded<Notification>(), (queue) => {
      // As the live socket: until the consumer says whom it accepts, everything is kept.
      let accepts: (sender: Sender) => boolean = () => true
      return Context.make(
        NotifySocket,
        NotifySocket.of({
          address: Option.some(address),
          notifications: (accept) =>
            Stream.suspend(() => {
              accepts = accept
              return Stream.filter(Stream.fromQueue(queue), accept)
            })
        })
      ).pipe(Context.add(
        NotifySimulation,
        NotifySimulation.of({
          send: (sender, message) =>
            Effect.suspend(() => {
              const from: Sender = {
                pid: sender.pid,
                pgid: "pgid" in sender ? sender.pgid : sender.pid,
                uid: sender.uid ?? process.getuid?.() ?? 0,
                gid: sender.gid ?? process.getgid?.() ?? 0
              }
              const fields = accepts(from) ? parseNotifyMessage(Buffer.from(message)) : undefined
              return fields === undefined ? Effect.void : Queue.offer(queue, { ...from, fields }).pipe(Effect.asVoid)
            })
        })
      ))
    })
  )
