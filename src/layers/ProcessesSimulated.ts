/**
 * Simulated processes for tests: a `ServiceSpawner` and a `System` backed by
 * an in-memory process table, timed by the Effect `Clock`.
 *
 * A test says how each file behaves (runs until signalled, exits after a
 * while, ignores SIGTERM, fails to spawn, starts children in its group),
 * drives time with `TestClock`, and reads back what happened; supervision
 * becomes fully deterministic. Process groups are modelled as the kernel
 * has them: a signal to `-pgid` reaches every process of the group, one to
 * `pid` that process alone.
 *
 * @since 0.1.0
 */
import { Clock, Context, Deferred, Duration, Effect, Layer, Option, Stream } from "effect"
import * as path from "node:path"
import type { ExitStatus } from "../domain/JournalEvent.ts"
import { ServiceSpawner, SpawnError } from "../services/ServiceSpawner.ts"
import { System } from "../services/System.ts"

/**
 * How a simulated file behaves when spawned.
 *
 * @since 0.1.0
 */
export interface Behaviour {
  /** Fail the spawn with this errno code (`ENOENT`, `EACCES`, …). */
  readonly spawnError?: string | undefined
  /** Exit on its own after this long, with `exitCode` (default 0); zero: at once, as it starts. */
  readonly runFor?: Duration.Input | undefined
  readonly exitCode?: number | undefined
  /** Survive SIGTERM (only SIGKILL ends it). */
  readonly ignoresSigterm?: boolean | undefined
  /** Exit with this code on SIGTERM, as a shell's `trap 'exit 143' TERM` does. */
  readonly sigtermExitCode?: number | undefined
  /** What it uses while it runs: CPU (percent of one core) and resident memory (bytes); 0 when unset. */
  readonly cpuPercent?: number | undefined
  readonly residentBytes?: number | undefined
  /** Processes it starts in its own group at once, each behaving as given. */
  readonly children?: ReadonlyArray<Behaviour> | undefined
}

/**
 * What happened to simulated processes, in order. A signal with `group`
 * reached the process through its group (`kill(-pgid)`), not alone.
 *
 * @since 0.1.0
 */
export type Happening =
  | { readonly _tag: "Spawned"; readonly file: string; readonly pid: number; readonly at: number }
  | { readonly _tag: "Signalled"; readonly pid: number; readonly group: boolean; readonly signal: string; readonly at: number }
  | { readonly _tag: "Exited"; readonly pid: number; readonly status: ExitStatus; readonly at: number }
  | { readonly _tag: "MemoryReleased"; readonly at: number }

interface Simulated {
  readonly file: string
  readonly pid: number
  readonly pgid: number
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
  /** The live processes (children included), by base name of their service's file. */
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
 * The simulated `ServiceSpawner`, `System` and their control.
 *
 * @example
 * ```ts
 * const sim = yield* SimulatedProcesses
 * yield* sim.setBehaviour("stubborn", { ignoresSigterm: true })
 * ```
 * @since 0.1.0
 */
export const layer: Layer.Layer<ServiceSpawner | System | SimulatedProcesses> = Layer.effectContext(
  Effect.gen(function*() {
    const scope = yield* Effect.scope
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

    const signal = (process: Simulated, name: string, group: boolean) => {
      const { ignoresSigterm, sigtermExitCode } = process.behaviour
      const survives = name === "SIGTERM" && ignoresSigterm === true
      const status = name === "SIGTERM" && sigtermExitCode !== undefined
        ? { code: sigtermExitCode, signal: null }
        : { code: null, signal: name }
      return Effect.andThen(
        record((at) => ({ _tag: "Signalled", pid: process.pid, group, signal: name, at })),
        survives ? Effect.void : end(process.pid, status)
      )
    }

    // kill(2): `-pgid` is every process of the group, `pid` that one alone.
    const targets = (target: number) =>
      target < 0
        ? Array.from(table.values()).filter((process) => process.pgid === -target)
        : Option.toArray(Option.fromNullishOr(table.get(target)))

    const start = (file: string, behaviour: Behaviour, pgid?: number): Effect.Effect<Simulated> =>
      Effect.gen(function*() {
        const pid = nextPid++
        const simulated: Simulated = { file, pid, pgid: pgid ?? pid, behaviour, exit: yield* Deferred.make<ExitStatus>() }
        table.set(pid, simulated)
        yield* record((at) => ({ _tag: "Spawned", file, pid, at }))
        if (behaviour.runFor !== undefined) {
          const exited = end(pid, { code: behaviour.exitCode ?? 0, signal: null })
          // Zero: gone as soon as it started, before anyone looks.
          if (Duration.isZero(Duration.fromInputUnsafe(behaviour.runFor))) yield* exited
          else yield* Effect.forkIn(Effect.andThen(Effect.sleep(behaviour.runFor), exited), scope)
        }
        yield* Effect.forEach(behaviour.children ?? [], (child) => start(file, child, pid))
        return simulated
      })

    const spawner = ServiceSpawner.of({
      spawn: (file) =>
        Effect.gen(function*() {
          const name = path.basename(file)
          const behaviour = behaviours.get(name) ?? {}
          if (behaviour.spawnError !== undefined) return yield* SpawnError.of(file, behaviour.spawnError)
          const { pid, exit } = yield* start(name, behaviour)
          return { pid, exit: Deferred.await(exit), output: Stream.empty }
        })
    })

    const identityOf = ({ pid, pgid }: Simulated) => ({ pid, pgid, startTime: String(pid), startedAt: 0 })
    const system = System.of({
      tryLockExclusive: () => Effect.succeed(true),
      identify: (pid) => Effect.sync(() => Option.map(Option.fromNullishOr(table.get(pid)), identityOf)),
      kill: (target, name) =>
        Effect.suspend(() => {
          const reached = targets(target)
          return Effect.as(
            name === 0 ? Effect.void : Effect.forEach(reached, (process) => signal(process, name, target < 0), { discard: true }),
            reached.length > 0
          )
        }),
      parentDeathSignal: ["setpriv", "--pdeathsig", "SIGTERM", "--"],
      checkExecutable: () => Effect.succeed(Option.none()),
      marked: () => Effect.succeed([]),
      bootedAt: Effect.sync(() => bootedAt),
      groupMembers: (pgid) => Effect.sync(() => targets(-pgid).map(identityOf)),
      becomeSubreaper: Effect.succeed(false),
      groupUsage: (pgids) =>
        Effect.sync(() =>
          new Map(pgids.flatMap((pgid) => {
            const members = targets(-pgid)
            return members.length === 0 ? [] : [[pgid, {
              cpuPercent: members.reduce((sum, { behaviour }) => sum + (behaviour.cpuPercent ?? 0), 0),
              residentBytes: members.reduce((sum, { behaviour }) => sum + (behaviour.residentBytes ?? 0), 0)
            }] as const]
          }))
        ),
      children: Effect.sync(() => Array.from(table.keys(), (pid) => ({ pid, zombie: false }))),
      reap: () => Effect.succeed(false),
      releaseMemory: record((at) => ({ _tag: "MemoryReleased", at }))
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

    return Context.make(ServiceSpawner, spawner).pipe(
      Context.add(System, system),
      Context.add(SimulatedProcesses, control)
    )
  })
)
