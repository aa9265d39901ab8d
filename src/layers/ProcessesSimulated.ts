/**
 * Simulated processes for tests: a `ChildProcessSpawner` and a `System`
 * backed by an in-memory process table, timed by the Effect `Clock`.
 *
 * A test says how each file behaves (runs until signalled, exits after a
 * while, ignores SIGTERM, fails to spawn), drives time with `TestClock`, and
 * reads back what happened; supervision becomes fully deterministic.
 *
 * @since 0.1.0
 */
import { Clock, Context, Deferred, type Duration, Effect, Layer, Option, Sink, Stream } from "effect"
import * as PlatformError from "effect/PlatformError"
import { ChildProcessSpawner } from "effect/process"
import type { ChildProcess } from "effect/process"
import * as path from "node:path"
import type { ExitStatus } from "../domain/JournalEvent.ts"
import { System } from "../services/System.ts"

/**
 * How a simulated file behaves when spawned.
 *
 * @since 0.1.0
 */
export interface Behaviour {
  /** Fail the spawn with this errno code (`ENOENT`, `EACCES`, …). */
  readonly spawnError?: string | undefined
  /** Exit on its own after this long, with `exitCode` (default 0). */
  readonly runFor?: Duration.Input | undefined
  readonly exitCode?: number | undefined
  /** Survive SIGTERM (only SIGKILL ends it). */
  readonly ignoresSigterm?: boolean | undefined
}

/**
 * What happened to simulated processes, in order. A signal with `group` was
 * sent to the process group that `pid` leads (`kill(-pid)`), not to it alone.
 *
 * @since 0.1.0
 */
export type Happening =
  | { readonly _tag: "Spawned"; readonly file: string; readonly pid: number; readonly at: number }
  | { readonly _tag: "Signalled"; readonly pid: number; readonly group: boolean; readonly signal: string; readonly at: number }
  | { readonly _tag: "Exited"; readonly pid: number; readonly status: ExitStatus; readonly at: number }

interface Simulated {
  readonly file: string
  readonly pid: number
  readonly behaviour: Behaviour
  readonly exit: Deferred.Deferred<ExitStatus>
}

/**
 * Controls the simulation.
 *
 * @since 0.1.0
 */
export class SimulatedProcesses extends Context.Service<SimulatedProcesses, {
  /** Sets how a file (by base name) behaves from its next spawn on. */
  readonly setBehaviour: (name: string, behaviour: Behaviour) => Effect.Effect<void>
  /** The live processes, by base name of their file. */
  readonly running: Effect.Effect<ReadonlyArray<{ readonly name: string; readonly pid: number }>>
  /** Ends a live process as if it exited (code) or was killed (signal). */
  readonly end: (pid: number, status: ExitStatus) => Effect.Effect<void>
  /** Everything that happened so far. */
  readonly happenings: Effect.Effect<ReadonlyArray<Happening>>
  /** Sets when the simulated machine booted (epoch milliseconds; 0 at first). */
  readonly setBootedAt: (millis: number) => Effect.Effect<void>
}>()("cronmon/SimulatedProcesses") {}

const FIRST_PID = 1000

/**
 * The simulated `ChildProcessSpawner`, `System` and their control.
 *
 * @example
 * ```ts
 * const sim = yield* SimulatedProcesses
 * yield* sim.setBehaviour("stubborn", { ignoresSigterm: true })
 * ```
 * @since 0.1.0
 */
export const layer: Layer.Layer<ChildProcessSpawner.ChildProcessSpawner | System | SimulatedProcesses> = Layer
  .effectContext(Effect.sync(() => {
    const behaviours = new Map<string, Behaviour>()
    const table = new Map<number, Simulated>()
    const happenings: Array<Happening> = []
    let nextPid = FIRST_PID
    let bootedAt = 0

    const record = (happening: (at: number) => Happening) =>
      Effect.map(Clock.currentTimeMillis, (at) => void happenings.push(happening(at)))

    const end = (pid: number, status: ExitStatus) =>
      Effect.suspend(() => {
        const process = table.get(pid)
        if (process === undefined) return Effect.void
        table.delete(pid)
        return Effect.andThen(
          record((at) => ({ _tag: "Exited", pid, status, at })),
          Deferred.succeed(process.exit, status)
        )
      })

    // Every simulated process leads its own group (as a service does), so a
    // signal to the group reaches the same process; `group` keeps which one
    // was asked for.
    const signal = (pid: number, name: string, group: boolean) =>
      Effect.suspend(() => {
        const process = table.get(pid)
        if (process === undefined) return Effect.succeed(false)
        const survives = name === "SIGTERM" && process.behaviour.ignoresSigterm === true
        return record((at) => ({ _tag: "Signalled", pid, group, signal: name, at })).pipe(
          Effect.andThen(survives ? Effect.void : end(pid, { code: null, signal: name })),
          Effect.as(true)
        )
      })

    const exitCodeOf = (status: ExitStatus) =>
      status.code !== null
        ? Effect.succeed(ChildProcessSpawner.ExitCode(status.code))
        : Effect.fail(PlatformError.systemError({
          _tag: "Unknown",
          module: "ChildProcess",
          method: "exitCode",
          cause: new Error(`Process interrupted due to receipt of signal: '${status.signal}'`)
        }))

    const spawn = (command: ChildProcess.Command) =>
      Effect.gen(function*() {
        // The service's file is the last word: after any parent-death prefix.
        const last = command._tag === "StandardCommand" ? command.args.at(-1) : undefined
        const file = typeof last === "string" ? last : command._tag === "StandardCommand" ? command.command : "pipeline"
        const name = path.basename(file)
        const behaviour = behaviours.get(name) ?? {}
        if (behaviour.spawnError !== undefined) {
          const cause = Object.assign(new Error(`spawn ${file} ${behaviour.spawnError}`), { code: behaviour.spawnError })
          return yield* Effect.fail(PlatformError.systemError({
            _tag: behaviour.spawnError === "ENOENT" ? "NotFound" : "PermissionDenied",
            module: "ChildProcess",
            method: "spawn",
            cause
          }))
        }
        const pid = nextPid++
        const simulated: Simulated = { file: name, pid, behaviour, exit: yield* Deferred.make<ExitStatus>() }
        table.set(pid, simulated)
        yield* record((at) => ({ _tag: "Spawned", file: name, pid, at }))
        if (behaviour.runFor !== undefined) {
          yield* Effect.forkScoped(
            Effect.andThen(Effect.sleep(behaviour.runFor), end(pid, { code: behaviour.exitCode ?? 0, signal: null }))
          )
        }
        // As the real spawner: closing the scope kills the group if it is still running.
        yield* Effect.addFinalizer(() => signal(pid, "SIGKILL", true))
        const kill = (options?: ChildProcess.KillOptions) =>
          Effect.andThen(signal(pid, options?.killSignal?.toString() ?? "SIGTERM", true), Deferred.await(simulated.exit))
        return ChildProcessSpawner.makeHandle({
          pid: ChildProcessSpawner.ProcessId(pid),
          exitCode: Effect.flatMap(Deferred.await(simulated.exit), exitCodeOf),
          isRunning: Effect.sync(() => table.has(pid)),
          kill: (options) => Effect.asVoid(kill(options)),
          stdin: Sink.drain,
          stdout: Stream.empty,
          stderr: Stream.empty,
          all: Stream.empty,
          getInputFd: () => Sink.drain,
          getOutputFd: () => Stream.empty,
          unref: Effect.succeed(Effect.void)
        })
      })

    const system = System.of({
      tryLockExclusive: () => Effect.succeed(true),
      identify: (pid) =>
        Effect.sync(() =>
          table.has(pid) ? Option.some({ pgid: pid, startTime: String(pid), startedAt: 0 }) : Option.none()
        ),
      kill: (pid, name) =>
        name === 0 ? Effect.sync(() => table.has(Math.abs(pid))) : signal(Math.abs(pid), name, pid < 0),
      parentDeathSignal: ["setpriv", "--pdeathsig", "SIGTERM", "--"],
      checkExecutable: () => Effect.succeed(Option.none()),
      marked: () => Effect.succeed([]),
      bootedAt: Effect.sync(() => bootedAt),
      groupMembers: (pgid) =>
        Effect.sync(() =>
          table.has(pgid) ? [{ pid: pgid, pgid, startTime: String(pgid), startedAt: 0 }] : []
        ),
      becomeSubreaper: Effect.succeed(false),
      children: Effect.sync(() => Array.from(table.keys(), (pid) => ({ pid, zombie: false }))),
      reap: () => Effect.succeed(false)
    })

    const control = SimulatedProcesses.of({
      setBehaviour: (name, behaviour) => Effect.sync(() => void behaviours.set(name, behaviour)),
      running: Effect.sync(() => Array.from(table.values(), ({ file, pid }) => ({ name: file, pid }))),
      end,
      happenings: Effect.sync(() => [...happenings]),
      setBootedAt: (millis) =>
        Effect.sync(() => {
          bootedAt = millis
        })
    })

    return Context.make(ChildProcessSpawner.ChildProcessSpawner, ChildProcessSpawner.make(spawn)).pipe(
      Context.add(System, system),
      Context.add(SimulatedProcesses, control)
    )
  }))

