/**
 * Acting on a running daemon: restart, stop (held down), start or signal one
 * service, read the daemon's status, follow its events. One interface for
 * the daemon's own process (the local layer, on the supervisor) and for any
 * other process (the RPC client over the control socket), so that an app
 * swaps a local daemon for a remote one in its layers, and tests use the
 * simulated one.
 *
 * @since 0.1.0
 */
import { Context, type Effect, Schema, type Stream } from "effect"
import type { JournalEntry } from "../domain/JournalEvent.ts"
import type { StatusJson } from "../domain/Status.ts"

/**
 * The name is not a plain file name (empty, `.`, `..`, or holding `/` or a
 * NUL): nothing was done. The CLI exits 2.
 *
 * @since 0.1.0
 */
export class InvalidServiceName extends Schema.TaggedError<InvalidServiceName>()("InvalidServiceName", {
  name: Schema.String,
  reason: Schema.String
}) {}

/**
 * No file of that name in the daemon's scripts directory. The CLI exits 4.
 *
 * @since 0.1.0
 */
export class NoSuchService extends Schema.TaggedError<NoSuchService>()("NoSuchService", {
  name: Schema.String,
  scriptsDir: Schema.String
}) {}

/**
 * Not a signal this machine knows (`TERM`, `SIGTERM`, `15` are). The CLI exits 2.
 *
 * @since 0.1.0
 */
export class InvalidSignal extends Schema.TaggedError<InvalidSignal>()("InvalidSignal", {
  signal: Schema.String
}) {}

/**
 * The action was taken but did not succeed (a spawn error, an exit before the
 * service ran), or could not be taken: the file is there but the daemon
 * refuses to run it (strict modes, no execute bit). `reason` says what
 * happened, in one line. The CLI exits 1.
 *
 * @since 0.1.0
 */
export class ActionFailed extends Schema.TaggedError<ActionFailed>()("ActionFailed", {
  name: Schema.String,
  action: Schema.Literals(["restart", "stop", "start", "kill"]),
  reason: Schema.String
}) {}

/**
 * A restart or start asked to wait for readiness (`ready: true`) and the new
 * instance (pid `pid`) will not be ready: it exited before it announced it,
 * or said it is stopping. `reason` says which, in one line. The CLI exits 1.
 *
 * @since 0.1.0
 */
export class NotReady extends Schema.TaggedError<NotReady>()("NotReady", {
  name: Schema.String,
  pid: Schema.Int,
  reason: Schema.String
}) {}

/**
 * A notification through the control channel (`cronmon notify`) was refused:
 * its sender is not a process of the service it names, or that service does
 * not run. `reason` says which, in one line. The CLI exits 1.
 *
 * @since 0.1.0
 */
export class NotifyRefused extends Schema.TaggedError<NotifyRefused>()("NotifyRefused", {
  name: Schema.String,
  reason: Schema.String
}) {}

/**
 * The daemon is stopping every service and will exit: it takes no more
 * requests. The CLI exits 1.
 *
 * @since 0.1.0
 */
export class DaemonStopping extends Schema.TaggedError<DaemonStopping>()("DaemonStopping", {}) {}

/**
 * No daemon answers on that journal (no socket, or nobody listening). Only
 * the RPC client fails with it. The CLI exits 3.
 *
 * @since 0.1.0
 */
export class NoDaemon extends Schema.TaggedError<NoDaemon>()("NoDaemon", {
  journal: Schema.String,
  reason: Schema.String
}) {}

/**
 * A daemon runs on that journal, but as another user: its socket refuses
 * this one. Only the RPC client fails with it. The CLI exits 1.
 *
 * @since 0.1.0
 */
export class PermissionDenied extends Schema.TaggedError<PermissionDenied>()("PermissionDenied", {
  journal: Schema.String,
  socket: Schema.String
}) {}

/**
 * What an action on one service can fail with.
 *
 * @since 0.1.0
 */
export const ActionError = Schema.Union([
  InvalidServiceName,
  NoSuchService,
  InvalidSignal,
  ActionFailed,
  NotReady,
  DaemonStopping,
  NoDaemon,
  PermissionDenied
])

/**
 * What an action on one service can fail with.
 *
 * @since 0.1.0
 */
export type ActionError = typeof ActionError.Type

/**
 * What reading the daemon's status or events can fail with.
 *
 * @since 0.1.0
 */
export const ReadError = Schema.Union([DaemonStopping, NoDaemon, PermissionDenied])

/**
 * What reading the daemon's status or events can fail with.
 *
 * @since 0.1.0
 */
export type ReadError = typeof ReadError.Type

/**
 * What a notification through the control channel can fail with.
 *
 * @since 0.1.0
 */
export const NotifyError = Schema.Union([
  InvalidServiceName,
  NoSuchService,
  NotifyRefused,
  DaemonStopping,
  NoDaemon,
  PermissionDenied
])

/**
 * What a notification through the control channel can fail with.
 *
 * @since 0.1.0
 */
export type NotifyError = typeof NotifyError.Type

/**
 * What a service says through the control channel (`cronmon notify`), as it
 * would in a datagram to `NOTIFY_SOCKET`: `ready` (`READY=1`), `status`
 * (`STATUS=`). `pid` is the sender's: the daemon accepts the message only
 * from a process of the service's process group.
 *
 * @since 0.1.0
 */
export const NotifyRequest = Schema.Struct({
  pid: Schema.Int,
  ready: Schema.optionalKey(Schema.Boolean),
  status: Schema.optionalKey(Schema.String)
})

/**
 * What a service says through the control channel.
 *
 * @since 0.1.0
 */
export type NotifyRequest = typeof NotifyRequest.Type

/**
 * How an action waits: by default until it is done (a restarted or started
 * service runs a new instance, a stopped one's process group is gone, a
 * signal is sent); with `wait: false`, only until the daemon accepted it;
 * with `ready: true` (restart and start), until the instance announced that
 * it is ready (`READY=1`), failing with `NotReady` when it exits first. A
 * service that never announces it is never ready: bound the wait. `by`
 * says who asks, as the journal records it (`cli pid 4242`): a courtesy of
 * the client, not a proof.
 *
 * @since 0.1.0
 */
export const ActionOptions = Schema.Struct({
  wait: Schema.optionalKey(Schema.Boolean),
  ready: Schema.optionalKey(Schema.Boolean),
  by: Schema.optionalKey(Schema.String)
})

/**
 * How an action waits.
 *
 * @since 0.1.0
 */
export type ActionOptions = typeof ActionOptions.Type

/**
 * An action done (or accepted, with `wait: false`): the service and, when it
 * runs, the pid of its instance.
 *
 * @since 0.1.0
 */
export const ActionDone = Schema.Struct({
  name: Schema.String,
  pid: Schema.NullOr(Schema.Int)
})

/**
 * An action done.
 *
 * @since 0.1.0
 */
export type ActionDone = typeof ActionDone.Type

/**
 * Acts on the services of one daemon. Every action validates the name first
 * (`InvalidServiceName`, `NoSuchService`), whoever the caller is. Requests
 * for one service are applied in the order they arrive, each after the
 * previous one is done: never two instances, never a lost hold.
 *
 * @example
 * ```ts
 * const control = yield* Control
 * yield* control.restart("web")            // returns once a new instance runs
 * yield* control.restart("web", { ready: true }) // … once it says READY=1
 * yield* control.stop("worker")            // held down until start
 * const { services } = yield* control.status
 * ```
 * @since 0.1.0
 */
export class Control extends Context.Service<Control, {
  /**
   * Stops the running instance (graceful, then forced) and starts a new one
   * now; its restart delays start over.
   */
  readonly restart: (name: string, options?: ActionOptions) => Effect.Effect<ActionDone, ActionError>
  /**
   * Stops it and holds it down: not restarted, not started by a change of
   * its file, until `start` (or its file's removal, or a clean stop of the
   * daemon). A hold outlives a crash of the daemon.
   */
  readonly stop: (name: string, options?: ActionOptions) => Effect.Effect<ActionDone, ActionError>
  /**
   * Releases a hold, or skips a restart delay being waited out, and starts
   * it now; a running service is left alone.
   */
  readonly start: (name: string, options?: ActionOptions) => Effect.Effect<ActionDone, ActionError>
  /**
   * Sends a signal (`TERM`, `SIGHUP`, `9`) to the service's process group;
   * what follows is the usual policy (restarted unless held down).
   */
  readonly kill: (name: string, signal: string, options?: ActionOptions) => Effect.Effect<ActionDone, ActionError>
  /**
   * A service says it is ready, or how it is, as it would to `NOTIFY_SOCKET`
   * (what `cronmon notify` sends). Accepted only from a process of the
   * service's running process group (`message.pid`, checked in `/proc`).
   */
  readonly notify: (name: string, message: NotifyRequest) => Effect.Effect<void, NotifyError>
  /** The daemon's status, with each running service's CPU and memory. */
  readonly status: Effect.Effect<StatusJson, ReadError>
  /** Every journal event from now on, as it is recorded. */
  readonly events: Stream.Stream<JournalEntry, ReadError>
}>()("cronmon/Control") {}
