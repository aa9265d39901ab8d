/**
 * The daemon's control socket: serves whatever `Control` it is given to
 * other processes, as Effect RPC (`ControlRpcs`, newline-delimited JSON)
 * over a Unix socket beside the journal (`ControlSocketPath`).
 *
 * The socket appears at its path with mode 0600 and never wider: it is
 * bound inside a fresh 0700 directory, made 0600 there, then renamed into
 * place, where a socket left by a daemon that crashed was removed first
 * (`socketPlaceRefusal`; only the daemon holding the journal's lock gets
 * here). It is removed when the layer is released. Only the daemon's user (and root) may connect.
 *
 * What a client may cost is bounded (`Limits`): a connection that sends
 * anything that is not a request of this protocol, or a frame over
 * `maxFrameBytes`, is closed at once; one with no request in flight that
 * completes no message for `idleTimeout` is closed; one that does not read
 * its answers for `writeTimeout` is closed. Each connection is served by
 * fibers of its own, so none delays another, or supervision.
 *
 * When the layer is released (the daemon stops), every request still in
 * flight, and every one that arrives before the socket is gone, is answered
 * `DaemonStopping`.
 *
 * @since 0.1.0
 */
import { Clock, Data, Deferred, Duration, Effect, Layer, Option, Queue, Schedule, Schema, Stream } from "effect"
import * as NodeSocket from "@effect/platform-node/NodeSocket"
import * as NodeSocketServer from "@effect/platform-node/NodeSocketServer"
import type { SocketServer } from "effect/socket/SocketServer"
import { RpcSerialization, RpcServer } from "effect/rpc"
import type { FromClientEncoded, FromServerEncoded } from "effect/rpc/RpcMessage"
import type * as Socket from "effect/socket/Socket"
import * as fs from "node:fs"
import * as path from "node:path"
import { ControlRpcs } from "../domain/ControlRpc.ts"
import { type ControlSocketPath, STAGING_PREFIX } from "../domain/ControlSocketPath.ts"
import { errorMessage } from "../domain/Errors.ts"
import { controlSocketOf, socketPlaceRefusal } from "../internal/ControlSocket.ts"
import { Control, DaemonStopping } from "../services/Control.ts"
import { Settings } from "../services/Settings.ts"

/**
 * What one connection may cost the daemon.
 *
 * @since 0.1.0
 */
export interface Limits {
  /** The longest message a client may send (default 1 MiB). */
  readonly maxFrameBytes: number
  /** How long a connection with no request in flight may go without completing a message (default 10 s). */
  readonly idleTimeout: Duration.Input
  /** How long an answer may wait for the client to read it (default 10 s). */
  readonly writeTimeout: Duration.Input
  /** How long a stopping daemon waits for the `DaemonStopping` answers to be read (default 1 s). */
  readonly farewellTimeout: Duration.Input
}

/**
 * The limits the daemon runs with. The idle timeout is twice the RPC
 * client's ping interval (5 s), so that an idle client that pings is kept.
 *
 * @since 0.1.0
 */
export const DEFAULT_LIMITS: Limits = {
  maxFrameBytes: 1024 * 1024,
  idleTimeout: Duration.seconds(10),
  writeTimeout: Duration.seconds(10),
  farewellTimeout: Duration.seconds(1)
}

/**
 * The control socket could not be set up: `reason` says why, in one line.
 *
 * @since 0.1.0
 */
export class ControlSocketError extends Data.TaggedError("ControlSocketError")<{
  readonly socket: string
  readonly reason: string
}> {
  override get message() {
    return `cannot listen on the control socket ${this.socket}: ${this.reason}`
  }
}

// What a client may send: the RPC protocol's messages, checked in full
// before the RPC server sees them (it trusts its transport).
const RequestId = Schema.Union([Schema.String, Schema.Number])
const ClientMessage = Schema.Union([
  Schema.Struct({
    _tag: Schema.Literal("Request"),
    id: RequestId,
    tag: Schema.String,
    payload: Schema.Unknown,
    headers: Schema.Array(Schema.mutable(Schema.Tuple([Schema.String, Schema.String]))),
    isNotification: Schema.optionalKey(Schema.Literal(true)),
    discard: Schema.optionalKey(Schema.Literal(true)),
    traceId: Schema.optionalKey(Schema.String),
    spanId: Schema.optionalKey(Schema.String),
    sampled: Schema.optionalKey(Schema.Boolean)
  }),
  Schema.Struct({ _tag: Schema.Literals(["Ack", "Interrupt"]), requestId: RequestId }),
  Schema.Struct({ _tag: Schema.Literals(["Ping", "Eof"]) })
])
const isClientMessage: (message: unknown) => message is FromClientEncoded = Schema.is(ClientMessage)

// A staging directory lives for moments: an older one was left by a daemon
// killed while binding (a younger one may be another daemon's, binding now).
const STALE_STAGING_MILLIS = 60_000

const removeStaleStaging = (dir: string, now: number) => {
  for (const entry of fs.readdirSync(dir)) {
    const staging = path.join(dir, entry)
    if (!entry.startsWith(STAGING_PREFIX) || now - fs.lstatSync(staging).mtimeMs < STALE_STAGING_MILLIS) continue
    fs.rmSync(staging, { recursive: true, force: true })
  }
}

/**
 * Binds the socket: in a fresh 0700 directory beside its path (the bind
 * takes its mode from the umask, which is the whole process's), made 0600,
 * then renamed into place. Released: the path is removed, if it is still
 * this socket.
 */
const listen = (socket: ControlSocketPath) =>
  Effect.gen(function*() {
    const fail = (reason: string) => new ControlSocketError({ socket: socket.path, reason })
    const attempt = <A>(f: () => A) => Effect.try({ try: f, catch: (error) => fail(errorMessage(error)) })
    const refusal = socketPlaceRefusal(socket)
    if (refusal !== undefined) return yield* fail(refusal)
    const now = yield* Clock.currentTimeMillis
    yield* Effect.ignore(attempt(() => removeStaleStaging(path.dirname(socket.path), now)))
    const staging = yield* attempt(() => fs.mkdtempSync(path.join(path.dirname(socket.path), STAGING_PREFIX)))
    const bound = path.join(staging, "s")
    const [server, ino] = yield* Effect.gen(function*() {
      const server = yield* NodeSocketServer.make({ path: bound }).pipe(
        Effect.mapError((error) => fail(errorMessage(error.reason.cause)))
      )
      const { ino } = yield* attempt(() => {
        fs.chmodSync(bound, 0o600)
        fs.renameSync(bound, socket.path)
        return fs.statSync(socket.path)
      })
      return [server, ino] as const
    }).pipe(Effect.ensuring(Effect.sync(() => fs.rmSync(staging, { recursive: true, force: true }))))
    yield* Effect.addFinalizer(() =>
      Effect.sync(() => {
        try {
          if (fs.lstatSync(socket.path).ino === ino) fs.unlinkSync(socket.path)
        } catch {
          // already gone
        }
      })
    )
    return server
  })

interface Connection {
  readonly inFlight: Set<string | number>
  readonly write: (response: FromServerEncoded) => Effect.Effect<void>
  readonly close: Effect.Effect<void>
  lastActivity: number
}

/**
 * The RPC server's transport over the socket server, with the limits:
 * what effect's own socket protocol does, plus checks of every message,
 * the idle and write timeouts, and requests in flight counted.
 */
const makeProtocol = (server: SocketServer["Service"], limits: Limits) =>
  Effect.gen(function*() {
    const serialization = RpcSerialization.makeNdjson({ maxBufferSize: limits.maxFrameBytes })
    const disconnects = yield* Queue.make<number>()
    const connections = new Map<number, Connection>()
    const idleMillis = Duration.toMillis(Duration.fromInputUnsafe(limits.idleTimeout))
    let nextId = 0
    let writeRequest: (clientId: number, message: FromClientEncoded) => Effect.Effect<void> = () => Effect.void

    const serve = Effect.fnUntraced(function*(socket: Socket.Socket) {
      // The socket server provides it; read without requiring it, as its type does not say so.
      const conn = yield* Effect.serviceOption(NodeSocket.NetSocket)
      const id = nextId++
      const parser = serialization.makeUnsafe()
      const writer = yield* socket.writer
      const close = Effect.sync(() => Option.map(conn, (socket) => socket.destroy()))
      const connection: Connection = {
        inFlight: new Set(),
        lastActivity: yield* Clock.currentTimeMillis,
        close,
        write: (response) => {
          const encoded = parser.encode(response)
          if (encoded === undefined) return Effect.void
          return writer.write(encoded).pipe(
            Effect.timeoutOrElse({ duration: limits.writeTimeout, orElse: () => close }),
            Effect.ignore
          )
        }
      }
      yield* Effect.addFinalizer(() => {
        connections.delete(id)
        return Effect.andThen(close, Queue.offer(disconnects, id))
      })
      connections.set(id, connection)
      const { pull } = yield* socket.reader
      // Ends (and the connection is closed) at the first bad message, at
      // idle time, or when the client goes.
      while (true) {
        const now = yield* Clock.currentTimeMillis
        const remaining = connection.lastActivity + idleMillis - now
        if (remaining <= 0) {
          if (connection.inFlight.size === 0) return
          connection.lastActivity = now
          continue
        }
        const frames = yield* Effect.timeoutOption(pull, remaining)
        if (frames._tag === "None") continue
        for (const frame of frames.value) {
          let messages: ReadonlyArray<unknown>
          try {
            messages = parser.decode(frame)
          } catch {
            return // not JSON lines, or a line over the limit
          }
          if (!messages.every(isClientMessage)) return
          for (const message of messages) {
            connection.lastActivity = yield* Clock.currentTimeMillis
            if (message._tag === "Request" && message.isNotification !== true) connection.inFlight.add(message.id)
            yield* writeRequest(id, message)
          }
        }
      }
    }, Effect.catch(() => Effect.void))

    const protocol = yield* RpcServer.Protocol.make((write) => {
      writeRequest = write
      return Effect.succeed({
        disconnects,
        send: (clientId, response) => {
          const connection = connections.get(clientId)
          if (connection === undefined) return Effect.void
          if (response._tag !== "Exit") return connection.write(response)
          return Effect.flatMap(Clock.currentTimeMillis, (now) => {
            connection.inFlight.delete(response.requestId)
            connection.lastActivity = now
            return connection.write(response)
          })
        },
        end: (clientId) => connections.get(clientId)?.close ?? Effect.void,
        clientIds: Effect.sync(() => new Set(connections.keys())),
        initialMessage: Effect.succeedNone,
        supportsAck: true,
        supportsTransferables: false,
        supportsSpanPropagation: true,
        supportsNotifications: true,
        codecFor: serialization.codecFor
      })
    })
    yield* Effect.forkScoped(server.run((socket) => Effect.scoped(serve(socket))))
    // Whether any answer is still to be sent.
    const quiet = Effect.sync(() => [...connections.values()].every((connection) => connection.inFlight.size === 0))
    return { protocol, quiet } as const
  })

/**
 * The handlers: each request to `Control`, answered `DaemonStopping` once
 * `stopping` is done.
 */
const handlers = (control: Control["Service"], stopTimeout: Duration.Duration, stopping: Deferred.Deferred<void>) => {
  const refused = Effect.andThen(Deferred.await(stopping), Effect.fail(new DaemonStopping()))
  const unlessStopping = <A, E>(effect: Effect.Effect<A, E>) => Effect.raceFirst(effect, refused)
  return ControlRpcs.of({
    restart: ({ name, ...options }) => unlessStopping(control.restart(name, options)),
    stop: ({ name, ...options }) => unlessStopping(control.stop(name, options)),
    start: ({ name, ...options }) => unlessStopping(control.start(name, options)),
    kill: ({ name, signal, ...options }) => unlessStopping(control.kill(name, signal, options)),
    notify: ({ name, ...message }) => unlessStopping(control.notify(name, message)),
    status: () => unlessStopping(control.status),
    events: () => Stream.interruptWhen(control.events, refused),
    daemon: () => Effect.succeed({ pid: process.pid, stop_timeout_ms: Duration.toMillis(stopTimeout) })
  })
}

/**
 * Serves the `Control` it is given on the control socket of the journal in
 * `Settings`, for the life of the layer.
 *
 * @example
 * ```ts
 * const daemon = Cronmon.superviseUntilSignal.pipe(
 *   Effect.provide(ControlServer.layer()),
 *   Effect.provide(controlLayer),
 *   Effect.provide(Cronmon.services(options))
 * )
 * ```
 * @since 0.1.0
 */
export const layer = (
  options: { readonly limits?: Partial<Limits> | undefined } = {}
): Layer.Layer<never, ControlSocketError, Control | Settings> =>
  Layer.effectDiscard(Effect.gen(function*() {
    const limits: Limits = { ...DEFAULT_LIMITS, ...options.limits }
    const settings = yield* Settings
    const control = yield* Control
    const socket = controlSocketOf(settings.journalPath)
    const server = yield* listen(socket)
    const { protocol, quiet } = yield* makeProtocol(server, limits)
    const stopping = yield* Deferred.make<void>()
    const handlerContext = yield* ControlRpcs.toHandlers(handlers(control, settings.stopTimeout, stopping))
    yield* RpcServer.make(ControlRpcs, { disableTracing: true, disableFatalDefects: true }).pipe(
      Effect.provideService(RpcServer.Protocol, protocol),
      Effect.provideContext(handlerContext),
      Effect.forkScoped
    )
    // Released first: everything in flight is answered, then the server stops.
    yield* Effect.addFinalizer(() =>
      Deferred.succeed(stopping, undefined).pipe(
        Effect.andThen(Effect.repeat(quiet, { until: (done) => done, schedule: Schedule.spaced("10 millis") })),
        Effect.timeoutOption(limits.farewellTimeout),
        Effect.asVoid
      )
    )
  }))
