/**
 * The control channel's requests as an Effect RPC group: what a daemon
 * serves on its control socket (`ControlServer`) and what a client sends
 * (`ControlClient`). One request per `Control` method, with the contract's
 * schemas and errors, and `daemon`, which says how the daemon runs (so
 * that a client can bound its waits as the daemon would).
 *
 * @example
 * ```ts
 * import { ControlRpc } from "cronmon"
 * import { RpcClient } from "effect/rpc"
 *
 * const client = yield* RpcClient.make(ControlRpc.ControlRpcs)
 * yield* client.restart({ name: "web" })
 * ```
 * @since 0.1.0
 */
import { Schema } from "effect"
import { Rpc, RpcGroup } from "effect/rpc"
import { JournalEntry } from "./JournalEvent.ts"
import { StatusJson } from "./Status.ts"
import { ActionDone, ActionError, ActionOptions, NotifyError, NotifyRequest, ReadError } from "../services/Control.ts"

const action = { name: Schema.String, ...ActionOptions.fields }

/**
 * How the daemon runs: its pid and its stop timeout (SIGTERM to SIGKILL).
 *
 * @since 0.1.0
 */
export const DaemonInfo = Schema.Struct({
  pid: Schema.Int,
  stop_timeout_ms: Schema.Number
})

/**
 * How the daemon runs.
 *
 * @since 0.1.0
 */
export type DaemonInfo = typeof DaemonInfo.Type

/**
 * The requests of the control channel.
 *
 * @since 0.1.0
 */
export class ControlRpcs extends RpcGroup.make(
  Rpc.make("restart", { payload: action, success: ActionDone, error: ActionError }),
  Rpc.make("stop", { payload: action, success: ActionDone, error: ActionError }),
  Rpc.make("start", { payload: action, success: ActionDone, error: ActionError }),
  Rpc.make("kill", { payload: { ...action, signal: Schema.String }, success: ActionDone, error: ActionError }),
  Rpc.make("notify", { payload: { name: Schema.String, ...NotifyRequest.fields }, error: NotifyError }),
  Rpc.make("status", { success: StatusJson, error: ReadError }),
  Rpc.make("events", { success: JournalEntry, error: ReadError, stream: true }),
  Rpc.make("daemon", { success: DaemonInfo })
) {}
