/**
 * Starts a service's file as a process of its own.
 *
 * @since 0.1.0
 */
import { Context, Data, type Effect, type Stream } from "effect"
import type { ExitStatus } from "../domain/JournalEvent.ts"

/**
 * What a service gets beyond the daemon's own environment.
 *
 * @since 0.1.0
 */
export interface SpawnOptions {
  /** Variables set over the daemon's environment; `undefined` removes one. */
  readonly env?: Readonly<Record<string, string | undefined>> | undefined
  /** Open descriptors of the daemon, given to the service as its fd 3, 4, … */
  readonly fds?: ReadonlyArray<number> | undefined
}

/**
 * A spawned service's main process. Nothing stops it but its caller (with
 * `Termination.terminate`, through `System`).
 *
 * @since 0.1.0
 */
export interface ServiceProcess {
  /** Its PID, which is also its process group's ID. */
  readonly pid: number
  /** Completes once it has exited and been reaped: its exit code, or the signal that ended it. */
  readonly exit: Effect.Effect<ExitStatus>
  /**
   * What it writes to stdout and stderr (one pipe, in the order written),
   * until every process holding the pipe has closed it: its children may
   * write after it exits. Run it once: it owns the pipe's read end.
   */
  readonly output: Stream.Stream<Uint8Array, ServiceOutputError>
}

const EXPLANATIONS: Readonly<Record<string, string>> = {
  ENOENT: "no such file, or its interpreter is missing",
  EACCES: "permission denied",
  ENOEXEC: "not an executable format",
  EISDIR: "is a directory"
}

/**
 * A file could not be started: an errno code and, in a user's words, why.
 *
 * @example
 * ```ts
 * SpawnError.of("/srv/scripts/web", "EACCES").reason // "spawn /srv/scripts/web: permission denied (EACCES)"
 * ```
 * @since 0.1.0
 */
export class SpawnError extends Data.TaggedError("SpawnError")<{
  readonly file: string
  readonly code: string
  readonly explanation: string
}> {
  /** The error for an errno code, explained in the usual words (else by `fallback`, else the code). */
  static of(file: string, code: string, fallback?: string): SpawnError {
    return new SpawnError({ file, code, explanation: EXPLANATIONS[code] ?? fallback ?? code })
  }
  /** The journal's reason: `spawn FILE: explanation (CODE)`. */
  get reason(): string {
    return `spawn ${this.file}: ${this.explanation} (${this.code})`
  }
}

/**
 * A service's output pipe could not be read.
 *
 * @since 0.1.0
 */
export class ServiceOutputError extends Data.TaggedError("ServiceOutputError")<{
  readonly reason: string
}> {}

/**
 * Spawns services.
 *
 * @example
 * ```ts
 * const child = yield* (yield* ServiceSpawner).spawn("/srv/scripts/web", { env: { PORT: "8080" } })
 * yield* Effect.forkScoped(Stream.runDrain(child.output))
 * const { code, signal } = yield* child.exit
 * ```
 * @since 0.1.0
 */
export class ServiceSpawner extends Context.Service<ServiceSpawner, {
  /**
   * Starts `file` with argv `[file]`, never through a shell: leading a
   * process group of its own, after the parent-death signal prefix where
   * there is one (`System.parentDeathSignal`), stdin from `/dev/null`,
   * stdout and stderr on one pipe, the daemon's working directory and
   * environment with `options.env`, and `options.fds` from fd 3 on. Fails
   * when the file cannot run (checked first: see `System.checkExecutable`)
   * or the spawn fails. Interrupted before it returns, it leaves nothing
   * running (the group is killed) and no descriptor open.
   */
  readonly spawn: (file: string, options?: SpawnOptions) => Effect.Effect<ServiceProcess, SpawnError>
}>()("cronmon/ServiceSpawner") {}
