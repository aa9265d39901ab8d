/**
 * Keeps services running: one supervised fiber per service name.
 *
 * @since 0.1.0
 */
import { Context, type Effect } from "effect"
import type {
  ActionDone,
  ActionFailed,
  DaemonStopping,
  InvalidServiceName,
  NoSuchService,
  NotifyRefused,
  NotReady
} from "./Control.ts"
import type { Notification } from "./NotifySocket.ts"

/**
 * How a request is applied: `wait` (default true) until it is done, or only
 * until it is accepted; `ready` (`restart`, `release`), until the new
 * instance announced its readiness; `by`, who asked (recorded in the
 * journal); `restored`, a hold read back from an earlier session (`hold` only).
 *
 * @since 0.1.0
 */
export interface RequestOptions {
  readonly wait?: boolean | undefined
  readonly ready?: boolean | undefined
  readonly by?: string | undefined
  readonly restored?: boolean | undefined
}

/**
 * What a request can fail with.
 *
 * @since 0.1.0
 */
export type RequestError = InvalidServiceName | NoSuchService | ActionFailed | NotReady | DaemonStopping

/**
 * What a running service said last over the notify socket (or `cronmon
 * notify`) that only the daemon keeps: its `STATUS=` text, and whether it
 * said `RELOADING=1` (until `READY=1`) or `STOPPING=1`.
 *
 * @since 0.1.0
 */
export interface Notice {
  /** The running instance that said it. */
  readonly pid: number
  readonly statusText: string | undefined
  readonly phase: "reloading" | "stopping" | undefined
}

/**
 * Starts, restarts and stops services by name, as the scripts directory
 * changes (`start`, `stop`) and as requests ask (`restart`, `hold`,
 * `release`, `signal`, what `Control` offers). Every name must be a plain
 * file name (`InvalidServiceName` otherwise), so nothing outside the scripts
 * directory is ever run.
 *
 * The changes and requests of one service are applied in the order they
 * arrive, each once the previous one is done: never two instances of a
 * service, never a lost hold. A held service is not restarted after it
 * exits and not started by a change of its file, until `release` or
 * `restart`, its file's removal, or the end of the session.
 *
 * Every service gets `NOTIFY_SOCKET` (the `NotifySocket`'s address) and
 * `CRONMON_SERVICE` (its name). A run counts as ready when a process of its
 * group says `READY=1` (journaled once per run), and as stable for the
 * restart delays from then on; where there is no notify socket, as soon as
 * it is spawned.
 *
 * @example
 * ```ts
 * const supervisor = yield* ProcessSupervisor
 * yield* supervisor.start("web")   // its file appeared: starts it (restarts it if running)
 * yield* supervisor.hold("web")    // stopped and held down
 * yield* supervisor.release("web") // runs again
 * yield* supervisor.stop("web")    // its file is gone: SIGTERM, stop timeout, SIGKILL, reaped
 * ```
 * @since 0.1.0
 */
export class ProcessSupervisor extends Context.Service<ProcessSupervisor, {
  /**
   * The service's file appeared or changed: starts it, first stopping its
   * running instance if any; a held service stays down. Returns once it
   * is started (not waiting for the spawn). A start made while another
   * waits for the same service, with nothing asked in between, joins it.
   */
  readonly start: (name: string) => Effect.Effect<void, InvalidServiceName>
  /** The service's file is gone: stops it for good (until the next `start`) and releases its hold. */
  readonly stop: (name: string) => Effect.Effect<void, InvalidServiceName>
  /**
   * Stops the running instance (graceful, then forced) and starts a new one
   * now, with its restart delays from the first; releases a hold. Done once
   * the new instance runs (`ActionFailed` when it cannot be spawned or exits
   * before it was seen running).
   */
  readonly restart: (name: string, options?: RequestOptions) => Effect.Effect<ActionDone, RequestError>
  /** Stops the service and holds it down. Done once its process group is gone. */
  readonly hold: (name: string, options?: RequestOptions) => Effect.Effect<ActionDone, RequestError>
  /**
   * Releases a hold, or cuts short a restart delay, and starts the service
   * now; a running service is left alone. Done once it runs.
   */
  readonly release: (name: string, options?: RequestOptions) => Effect.Effect<ActionDone, RequestError>
  /**
   * Sends a signal to the service's process group (`ActionFailed` when it
   * does not run); what follows is the usual policy. Done once sent.
   */
  readonly signal: (name: string, signal: NodeJS.Signals, options?: RequestOptions) => Effect.Effect<ActionDone, RequestError>
  /**
   * A notification for the service `name` that did not come through the
   * notify socket (`cronmon notify`): applied as a datagram would be, when
   * its sender's process group (`notification.pgid`) is that of the
   * service's running instance; refused (`NotifyRefused`) otherwise.
   */
  readonly notify: (
    name: string,
    notification: Pick<Notification, "pid" | "pgid" | "fields">
  ) => Effect.Effect<void, InvalidServiceName | NoSuchService | NotifyRefused>
  /**
   * The scripts directory's first scan is applied (the daemon says so once
   * its `Scanned` is): every service present is known. Until then, for at
   * most twice the stop timeout (the daemon first cleans up what earlier
   * sessions left), a request for a service not known yet waits for it
   * rather than failing `NoSuchService`.
   */
  readonly scanned: Effect.Effect<void>
  /**
   * Stops every service in parallel. From its start on, requests fail with
   * `DaemonStopping` (those waiting their turn too) and file changes are ignored.
   */
  readonly stopAll: Effect.Effect<void>
  /** Whether `stopAll` has begun: nothing will be started or restarted again. */
  readonly stopping: Effect.Effect<boolean>
  /**
   * The names of the services being supervised: running, or waiting out a
   * restart delay (so more than `Metrics.running` counts).
   */
  readonly supervised: Effect.Effect<ReadonlyArray<string>>
  /** The names of the services held down, sorted. */
  readonly held: Effect.Effect<ReadonlyArray<string>>
  /** When each service waiting out a restart delay will start (epoch milliseconds of the `Clock`), by name. */
  readonly nextStarts: Effect.Effect<ReadonlyMap<string, number>>
  /** The PID of each service's main process whose exit has not been seen yet, by service name. */
  readonly pids: Effect.Effect<ReadonlyMap<string, number>>
  /** What each running service said last that only the daemon keeps (`STATUS=`, reloading, stopping), by name. */
  readonly notices: Effect.Effect<ReadonlyMap<string, Notice>>
}>()("cronmon/ProcessSupervisor") {}
