/**
 * The live `ServiceSpawner`, with ONE pipe for both stdout and stderr.
 *
 * On Linux a service is started with `posix_spawn` (koffi), which does not
 * copy the daemon: Node's `child_process` forks it, page tables and all, and
 * waits for the copy to exec, several milliseconds of the event loop per
 * spawn (most of a start-up's time, and of a restart's). The exits of what
 * it started are collected on SIGCHLD. Elsewhere, and in a worker thread
 * (which is sent no signals), `node:child_process` does it.
 *
 * Why one pipe: on two, relayed separately, the order in which a service
 * wrote its output and its errors is lost (an error message lands away from
 * the output around it). Here `pipe2(2)` makes one pipe whose write end is
 * the child's fd 1 and fd 2, as `2>&1` does in a shell. The pipe is grown
 * to 1 MiB (`F_SETPIPE_SZ`) so that a burst of output never waits for the
 * relay. Where `pipe2` is missing (not Linux), the child gets two pipes,
 * merged.
 *
 * @since 0.1.0
 */
import * as NodeStream from "@effect/platform-node/NodeStream"
import { Array as Arr, Cause, Channel, Deferred, Effect, Exit, Latch, Layer, Option, Pull, Scope, Stream } from "effect"
import * as NodeChildProcess from "node:child_process"
import * as fs from "node:fs"
import * as net from "node:net"
import { isMainThread } from "node:worker_threads"
import { errorCode } from "../domain/Errors.ts"
import { signalNamed } from "../domain/Signals.ts"
import type { ExitStatus } from "../domain/JournalEvent.ts"
import {
  ServiceOutputError,
  type ServiceProcess,
  ServiceSpawner,
  SpawnError,
  type SpawnOptions
} from "../services/ServiceSpawner.ts"
import { System } from "../services/System.ts"
import { errnoName, loadLibc, loadSpawnCalls, type SpawnCalls } from "../internal/Libc.ts"
import { OutputWriter, readBuffer } from "../internal/OutputBlocks.ts"

const PIPE_BYTES = 1024 * 1024

const outputError = (error: unknown) =>
  new ServiceOutputError({ reason: error instanceof Error ? error.message : String(error) })

// One pipe (read end, write end) for both output streams, or undefined.
const outputPipe = (): readonly [number, number] | undefined => {
  if (process.platform !== "linux") return undefined
  try {
    const fds = loadLibc().pipe()
    if (fds !== undefined) loadLibc().setPipeSize(fds[0], PIPE_BYTES)
    return fds
  } catch {
    return undefined
  }
}

const closeQuietly = (fd: number) => {
  try {
    fs.closeSync(fd)
  } catch {
    // Already closed.
  }
}

const readableStream = (readable: NodeJS.ReadableStream | null) =>
  readable === null
    ? Stream.empty
    : NodeStream.fromReadable<Uint8Array, ServiceOutputError>({ evaluate: () => readable, onError: outputError })

// The read end of the output pipe as a stream of chunks, read through a
// socket's `onread` (epoll, no Readable stream): libuv reads as much as the
// buffer holds (1 MiB) where a Readable stream reads 64 KiB at a time. Every
// pipe is read into one shared buffer and each read copied at once into
// pooled memory (OutputBlocks: fresh memory per read was the relay's main
// cost), which the log gives back once written. When the log falls behind
// the disk it stops pulling, and reading stops past HOLD_BYTES.
const TURN_BYTES = 4 * 1024 * 1024
// Read but not yet taken by the log beyond this, the pipe is left to fill.
const HOLD_BYTES = 8 * 1024 * 1024

const pipeStream = (fd: number): Stream.Stream<Uint8Array, ServiceOutputError> =>
  // A pull over what the socket has read, as Effect's own `fromReadable`
  // does (no queue, no fiber of its own: those cost ~15 KiB per service).
  Stream.fromChannel(Channel.fromTransform((_, scope) =>
    Effect.gen(function*() {
      const writer = new OutputWriter()
      const latch = Latch.makeUnsafe(false)
      let chunks: Array<Uint8Array> = []
      let ended = false
      let failed: ServiceOutputError | undefined
      let readThisTurn = 0
      let unpulled = 0
      let held = false
      const socket = new net.Socket({
        fd,
        readable: true,
        writable: false,
        onread: {
          buffer: readBuffer,
          callback: (bytes) => {
            if (bytes > 0) {
              chunks.push(writer.copy(readBuffer.subarray(0, bytes)))
              unpulled += bytes
              latch.openUnsafe()
            }
            // The log is behind (it has stopped pulling): leave the rest in
            // the pipe, so that the service waits instead of output piling up.
            if (unpulled >= HOLD_BYTES) {
              held = true
              return false
            }
            // libuv reads a ready pipe up to 32 times in one turn of the
            // event loop: a fast writer would keep the loop reading while
            // the log's finished writes wait, and output pile up. Past
            // TURN_BYTES, the pipe rests until the next turn.
            readThisTurn += bytes
            if (readThisTurn < TURN_BYTES) return true
            setImmediate(() => {
              readThisTurn = 0
              if (!socket.destroyed && !held) socket.resume()
            })
            return false
          }
        }
      })
      socket.on("end", () => {
        ended = true
        latch.openUnsafe()
      })
      socket.on("error", (error) => {
        failed = outputError(error)
        latch.openUnsafe()
      })
      yield* Scope.addFinalizer(scope, Effect.sync(() => {
        socket.destroy()
        writer.close()
      }))
      const pull: Pull.Pull<Arr.NonEmptyReadonlyArray<Uint8Array>, ServiceOutputError> = Effect.suspend(
        function loop(): Pull.Pull<Arr.NonEmptyReadonlyArray<Uint8Array>, ServiceOutputError> {
          const batch = chunks
          if (Arr.isReadonlyArrayNonEmpty(batch)) {
            chunks = []
            unpulled = 0
            if (held) {
              held = false
              if (!socket.destroyed) socket.resume()
            }
            return Effect.succeed(batch)
          }
          if (failed !== undefined) return Effect.fail(failed)
          if (ended) return Cause.done()
          latch.closeUnsafe()
          return Effect.flatMap(latch.await, loop)
        }
      )
      return pull
    })
  ))

const spawnFailure = (file: string, error: unknown): SpawnError =>
  SpawnError.of(file, errorCode(error) ?? "UNKNOWN", error instanceof Error ? error.message : String(error))

/**
 * A wait status (`waitpid`) as Node reports an exit: the code, or the
 * signal that ended the process; -1 (no status to be had) as neither.
 *
 * @since 0.1.0
 */
export const exitStatusOf = (status: number): ExitStatus => {
  if (status < 0) return { code: null, signal: null }
  const signal = status & 0x7f
  return signal === 0
    ? { code: (status >> 8) & 0xff, signal: null }
    : { code: null, signal: signalNamed(String(signal)) ?? `SIG${signal}` }
}

// The environment of a service: the daemon's, with `env` over it (an
// undefined value removes the variable, as Node's spawn does).
const environmentOf = (env: Readonly<Record<string, string | undefined>> | undefined): Array<string> =>
  Object.entries({ ...process.env, ...env }).flatMap(([name, value]) => value === undefined ? [] : [`${name}=${value}`])

// What a direct spawn waits on: the pids started, each with what its
// collection completes. libuv waits only for the pids it spawned itself, so
// neither takes the other's. On SIGCHLD, the ended children are collected
// one by one while the next is one of these (one call each, however many
// run); when another's comes first (libuv's, an orphan's), each of these
// is asked.
const makeExits = (calls: SpawnCalls) => {
  const waiting = new Map<number, Deferred.Deferred<ExitStatus>>()
  // A signal listener keeps no process alive, where Node's own child
  // handles do: a timer does while an exit is awaited (an app with nothing
  // else to do would otherwise end before its service).
  let keepAlive: NodeJS.Timeout | undefined
  const collectOne = (pid: number, exit: Deferred.Deferred<ExitStatus>) => {
    const status = calls.collect(pid)
    if (status === undefined) return false
    waiting.delete(pid)
    if (waiting.size === 0) {
      clearInterval(keepAlive)
      keepAlive = undefined
    }
    Deferred.doneUnsafe(exit, Exit.succeed(exitStatusOf(status)))
    return true
  }
  const collect = () => {
    for (;;) {
      const pid = calls.ended()
      if (pid === 0) return
      const exit = pid > 0 ? waiting.get(pid) : undefined
      if (exit === undefined || !collectOne(pid, exit)) break
    }
    for (const [pid, exit] of waiting) collectOne(pid, exit)
  }
  return {
    watch: Effect.acquireRelease(
      Effect.sync(() => process.on("SIGCHLD", collect)),
      () => Effect.sync(() => process.off("SIGCHLD", collect))
    ),
    // Registered before the next turn of the event loop, where the SIGCHLD
    // of a process that ended at once is seen.
    add: (pid: number) => {
      const exit = Deferred.makeUnsafe<ExitStatus>()
      waiting.set(pid, exit)
      keepAlive ??= setInterval(() => {}, 2 ** 31 - 1)
      return exit
    }
  }
}

// A process spawned through `node:child_process`: where there is no direct
// spawn, or for a spawn that asks for what it cannot do.
const nodeSpawn = (system: System["Service"], command: string, args: ReadonlyArray<string>, file: string, options: SpawnOptions) =>
  Effect.suspend(() => {
    const fds = outputPipe()
    return Effect.callback<ServiceProcess, SpawnError>((resume) => {
      let child: NodeChildProcess.ChildProcess
      try {
        child = NodeChildProcess.spawn(command, args, {
          stdio: ["ignore", ...(fds === undefined ? ["pipe", "pipe"] as const : [fds[1], fds[1]]), ...options.fds ?? []],
          detached: true,
          env: { ...process.env, ...options.env }
        })
      } catch (error) {
        fds?.forEach(closeQuietly)
        return resume(Effect.fail(spawnFailure(file, error)))
      }
      // The child has its copies of the write end (or never will): ours
      // must go, so that the read end sees EOF when the service's side closes.
      if (fds !== undefined) closeQuietly(fds[1])
      const exit = Deferred.makeUnsafe<ExitStatus>()
      child.on("exit", (code, signal) => Deferred.doneUnsafe(exit, Exit.succeed({ code, signal })))
      let spawned = false
      child.once("error", (error) => {
        // Only a failure to spawn; later errors (a failed kill) are not ours to act on.
        if (spawned) return
        if (fds !== undefined) closeQuietly(fds[0])
        resume(Effect.fail(spawnFailure(file, error)))
      })
      child.once("spawn", () => {
        spawned = true
        const { pid } = child
        // Node knows the pid of what it spawned: without one, nothing could be stopped.
        if (pid === undefined) return resume(Effect.fail(spawnFailure(file, new Error("spawned without a pid"))))
        resume(Effect.succeed({
          pid,
          exit: Deferred.await(exit),
          output: fds === undefined
            ? Stream.merge(readableStream(child.stdout), readableStream(child.stderr))
            : pipeStream(fds[0])
        }))
      })
      // Interrupted before the spawn event: nobody will supervise it.
      return Effect.andThen(
        child.pid === undefined ? Effect.void : system.kill(-child.pid, "SIGKILL"),
        Effect.sync(() => fds !== undefined && closeQuietly(fds[0]))
      )
    })
  })

// A process spawned through `posix_spawn`: the daemon is not copied (Node's
// spawn forks it, page tables and all, then waits for the copy to exec),
// which makes a spawn several milliseconds faster and frees the event loop
// sooner. Synchronous: there is no moment at which an interruption could
// leave a process nobody supervises.
const directSpawn = (
  calls: SpawnCalls,
  exits: ReturnType<typeof makeExits>,
  command: string,
  args: ReadonlyArray<string>,
  file: string,
  options: SpawnOptions
): Effect.Effect<ServiceProcess, SpawnError> | undefined => {
  // An extra descriptor numbered below its target range would be replaced
  // before it is copied (libuv moves such ones aside first): Node's spawn does it.
  const extra = options.fds ?? []
  if (extra.some((fd) => fd < 3 + extra.length)) return undefined
  const fds = outputPipe()
  if (fds === undefined) return undefined
  const spawned = calls.spawn({
    file: command,
    argv: [command, ...args],
    env: environmentOf(options.env),
    output: fds[1],
    extra
  })
  closeQuietly(fds[1])
  if ("errno" in spawned) {
    closeQuietly(fds[0])
    const code = errnoName(spawned.errno) ?? "UNKNOWN"
    return Effect.fail(spawnFailure(file, Object.assign(new Error(`spawn ${command} ${code}`), { code })))
  }
  return Effect.succeed({ pid: spawned.pid, exit: Deferred.await(exits.add(spawned.pid)), output: pipeStream(fds[0]) })
}

const make = (direct: boolean) =>
  Effect.gen(function*() {
    const system = yield* System
    // A worker thread is sent no signals: there, SIGCHLD could not say that a process ended.
    const calls = direct && isMainThread ? loadSpawnCalls() : undefined
    const exits = calls === undefined ? undefined : makeExits(calls)
    if (exits !== undefined) yield* exits.watch
    return ServiceSpawner.of({
      spawn: (file, options = {}) =>
        Effect.gen(function*() {
          // Checked first: spawned through setpriv, a file that cannot run
          // would look like a run that exited 127, and execvp would run a
          // file with no #! line through /bin/sh.
          const refusal = yield* system.checkExecutable(file)
          if (Option.isSome(refusal)) {
            return yield* new SpawnError({ file, code: refusal.value.code, explanation: refusal.value.message })
          }
          const [command = file, ...args] = [...system.parentDeathSignal, file]
          const direct = calls === undefined || exits === undefined
            ? undefined
            : directSpawn(calls, exits, command, args, file, options)
          return yield* direct ?? nodeSpawn(system, command, args, file, options)
        })
    })
  })

/**
 * The live spawner: the parent-death signal prefix and the check before a
 * spawn come from `System`. On Linux, processes are started with
 * `posix_spawn` (through koffi) and collected on SIGCHLD; elsewhere, in a
 * worker thread, or where the C library lacks it, through
 * `node:child_process`, as `layerChildProcess`.
 *
 * @example
 * ```ts
 * ProcessSupervisorSpawner.layer.pipe(Layer.provide(ServiceSpawnerNode.layer))
 * ```
 * @since 0.1.0
 */
export const layer: Layer.Layer<ServiceSpawner, never, System> = Layer.effect(ServiceSpawner, make(true))

/**
 * The live spawner through `node:child_process` only.
 *
 * @since 0.1.0
 */
export const layerChildProcess: Layer.Layer<ServiceSpawner, never, System> = Layer.effect(ServiceSpawner, make(false))
