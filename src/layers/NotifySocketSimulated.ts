/**
 * A `NotifySocket` fed by hand, for tests: a test says which process sends
 * what, and the consumer receives it as from the live socket.
 *
 * @since 0.1.0
 */
import { Context, Effect, Layer, Option, Queue, Stream } from "effect"
import { parseNotifyMessage } from "../domain/NotifyMessage.ts"
import { type Notification, NotifySocket } from "../services/NotifySocket.ts"

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
   * A datagram arrives: `message` is parsed as the live layer parses it,
   * and ignored as there when it holds a NUL byte.
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
    Effect.map(Queue.unbounded<Notification>(), (queue) =>
      Context.make(
        NotifySocket,
        NotifySocket.of({ address: Option.some(address), notifications: Stream.fromQueue(queue) })
      ).pipe(Context.add(
        NotifySimulation,
        NotifySimulation.of({
          send: (sender, message) => {
            const fields = parseNotifyMessage(Buffer.from(message))
            if (fields === undefined) return Effect.void
            return Queue.offer(queue, {
              pid: sender.pid,
              pgid: "pgid" in sender ? sender.pgid : sender.pid,
              uid: sender.uid ?? process.getuid?.() ?? 0,
              gid: sender.gid ?? process.getgid?.() ?? 0,
              fields
            }).pipe(Effect.asVoid)
          }
        })
      )))
  )
