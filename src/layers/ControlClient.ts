/**
 * `Control` over a daemon's control socket: the RPC client of
 * `ControlRpcs`, for any process (the CLI, an Effect app) to act on a
 * running daemon, chosen by its journal. One connection per client, opened
 * when it is made (and again, within 5 s, after it is lost).
 *
 * Every method fails with `NoDaemon` when no daemon answers on that journal
 * (no socket, nobody listening, the connection lost), with
 * `PermissionDenied` when its socket refuses this user, and otherwise as
 * the daemon's own `Control` does.
 *
 * @since 0.1.0
 */
import * as NodeSocket from "@effect/platform-node/NodeSocket"
import { Duration, Effect, Layer, type Scope, Stream } from "effect"
import { RpcClient, RpcClientError, RpcSerialization } from "effect/rpc"
import * as Socket from "effect/socket/Socket"
import * as path from "node:path"
import { ControlRpcs, type DaemonInfo } from "../domain/ControlRpc.ts"
import { errorCode, errorMessage } from "../domain/Errors.ts"
import { connectFailure, controlSocketOf, socketDirectoryRefusal } from "../internal/ControlSocket.ts"
import { Control, DaemonStopping, NoDaemon, PermissionDenied } from "../services/Control.ts"

/**
 * A client of one daemon: its `Control`, and how the daemon runs.
 *
 * @since 0.1.0
 */
export interface ControlClient {
  readonly control: Control["Service"]
  /** The daemon's pid and stop timeout. */
  readonly daemon: Effect.Effect<DaemonInfo, NoDaemon | PermissionDenied | DaemonStopping>
  /** The socket it talks to. */
  readonly socket: string
}

/**
 * How a client connects.
 *
 * @since 0.1.0
 */
export interface Options {
  /** How long to wait for the daemon to accept the connection (default 1 s). */
  readonly connectTimeout?: Duration.Input | undefined
}

/**
 * A client of the daemon of `journal` (resolved against the working
 * directory), for the life of the scope.
 *
 * @example
 * ```ts
 * const { control } = yield* ControlClient.make("/srv/journal.json")
 * yield* control.restart("web")
 * ```
 * @since 0.1.0
 */
export const make = (journal: string, options: Options = {}): Effect.Effect<ControlClient, never, Scope.Scope> =>
  Effect.gen(function*() {
    const journalPath = path.resolve(journal)
    const socket = controlSocketOf(journalPath)
    const noDaemon = (reason: string) => new NoDaemon({ journal: journalPath, reason })

    // A private directory that is not the user's own is not the daemon's:
    // its socket is not spoken to.
    const directoryRefusal = Effect.suspend(() => {
      const refusal = socketDirectoryRefusal(socket)
      return refusal === undefined ? Effect.void : Effect.fail(noDaemon(refusal))
    })

    const isRpcClientError = (error: unknown): error is RpcClientError.RpcClientError =>
      error instanceof RpcClientError.RpcClientError
    const lost = (error: RpcClientError.RpcClientError): NoDaemon | PermissionDenied => {
      const reason = error.reason
      if (reason._tag !== "SocketOpenError") return noDaemon(`the connection to the daemon was lost (${reason.message})`)
      if (reason.kind === "Timeout") return noDaemon(`nothing answered on ${socket.path}`)
      const failure = connectFailure(errorCode(reason.cause), socket.path, errorMessage(reason.cause))
      return failure._tag === "NoDaemon"
        ? noDaemon(failure.reason)
        : new PermissionDenied({ journal: journalPath, socket: socket.path })
    }

    const protocol = yield* RpcClient.makeProtocolSocket().pipe(
      Effect.provideService(
        Socket.Socket,
        yield* NodeSocket.makeNet({ path: socket.path, openTimeout: options.connectTimeout ?? Duration.seconds(1) })
      ),
      Effect.provideService(RpcSerialization.RpcSerialization, RpcSerialization.ndjson)
    )
    const client = yield* RpcClient.make(ControlRpcs, { disableTracing: true }).pipe(
      Effect.provideService(RpcClient.Protocol, protocol)
    )
    const call = <A, E>(request: Effect.Effect<A, E | RpcClientError.RpcClientError>) =>
      Effect.andThen(
        directoryRefusal,
        Effect.catchIf(request, isRpcClientError, (error) => Effect.fail(lost(error)))
      )

    const control = Control.of({
      restart: (name, options = {}) => call(client.restart({ name, ...options })),
      stop: (name, options = {}) => call(client.stop({ name, ...options })),
      start: (name, options = {}) => call(client.start({ name, ...options })),
      kill: (name, signal, options = {}) => call(client.kill({ name, signal, ...options })),
      notify: (name, message) => call(client.notify({ name, ...message })),
      status: call(client.status()),
      events: Stream.unwrap(Effect.as(directoryRefusal, client.events())).pipe(
        Stream.catchIf(isRpcClientError, (error) => Stream.fail(lost(error)))
      )
    })
    return { control, daemon: call(client.daemon()), socket: socket.path }
  })

/**
 * `Control` over the control socket of the daemon of `journal`.
 *
 * @example
 * ```ts
 * const program = Effect.gen(function*() {
 *   const control = yield* Control
 *   yield* control.restart("web")
 * }).pipe(Effect.provide(ControlClient.layer("/srv/journal.json")))
 * ```
 * @since 0.1.0
 */
export const layer = (journal: string, options: Options = {}): Layer.Layer<Control> =>
  Layer.effect(Control, Effect.map(make(journal, options), (client) => client.control))

