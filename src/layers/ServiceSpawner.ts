/**
 * The live `ChildProcessSpawner` for services: Effect's interface over
 * `node:child_process`, with ONE pipe for both stdout and stderr.
 *
 * Why not Effect's Node spawner: it takes `"pipe"`, `"inherit"`, `"ignore"`
 * or a `Sink` for each stream, never a descriptor, so a service's stdout and
 * stderr always arrive on two pipes, relayed separately: the order in which
 * the service wrote them is lost (an error message lands away from the output
 * around it). Here `pipe2(2)` makes one pipe whose write end is the child's
 * fd 1 and fd 2, as `2>&1` does in a shell; `stdout` and `all` read it,
 * `stderr` is empty. The pipe is grown to 1 MiB (`F_SETPIPE_SZ`) so that a
 * burst of output never waits for the relay. Where `pipe2` is missing (not
 * Linux), the child gets two pipes, merged.
 *
 * Only what the supervisor uses: a `StandardCommand`, stdin from
 * `/dev/null`, the daemon's environment (with the command's `env`) and working directory, its own
 * process group, and on scope close the same
 * `killSignal` / `forceKillAfter` group stop as Effect's spawner. Being an
 * implementation of Effect's `ChildProcessSpawner`, the simulated spawner of
 * the tests still takes its place.
 *
 * @since 0.1.0
 */
import * as NodeStream from "@effect/platform-node/NodeStream"
import { Array as Arr, Cause, Channel, Deferred, Duration, Effect, Latch, Layer, Pull, Redacted, Scope, Sink, Stream } from "effect"
import * as PlatformError from "effect/PlatformError"
import { ChildProcess, ChildProcessSpawner } from "effect/process"
import * as NodeChildProcess from "node:child_process"
import * as fs from "node:fs"
import * as net from "node:net"
import { loadLibc } from "./Libc.ts"
import { OutputWriter, readBuffer } from "./OutputBlocks.ts"

const PIPE_BYTES = 1024 * 1024
const POLL_MILLIS = 50
const GRACE_MILLIS = 1000

type Exit = readonly [code: number | null, signal: NodeJS.Signals | null]

const failure = (method: string, cause: unknown, description?: string): PlatformError.PlatformError =>
  PlatformError.systemError({
    _tag: "Unknown",
    module: "ChildProcess",
    method,
    description: description ?? (cause instanceof Error ? cause.message : String(cause)),
    cause
  })

const groupAlive = (pid: number): boolean => {
  try {
    process.kill(-pid, 0)
    return true
  } catch {
    return false
  }
}

const signalGroup = (pid: number, signal: NodeJS.Signals): void => {
  try {
    process.kill(-pid, signal)
  } catch {
    // Gone already: nothing left to signal.
  }
}

// Waits (native time, as Effect's spawner does) until the group is gone or
// `millis` have passed.
const awaitGroupGone = (pid: number, millis: number): Effect.Effect<void> =>
  Effect.callback<void>((resume) => {
    const deadline = Date.now() + millis
    let timer: NodeJS.Timeout | undefined
    const poll = () => {
      if (Date.now() >= deadline || !groupAlive(pid)) resume(Effect.void)
      else timer = setTimeout(poll, POLL_MILLIS)
    }
    poll()
    return Effect.sync(() => clearTimeout(timer))
  })

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

const readableStream = (readable: NodeJS.ReadableStream | null, method: string) =>
  readable === null
    ? Stream.empty
    : NodeStream.fromReadable<Uint8Array, PlatformError.PlatformError>({
      evaluate: () => readable,
      onError: (error) => failure(method, error)
    })

// The command's `env` over the daemon's (`extendEnv`) or alone, as Effect's
// own spawner does; a variable set to `undefined` is left out.
const environmentOf = (options: ChildProcess.CommandOptions): NodeJS.ProcessEnv => {
  const environment: NodeJS.ProcessEnv = options.extendEnv === true || options.env === undefined ? { ...process.env } : {}
  for (const [key, value] of Object.entries(options.env ?? {})) {
    if (value === undefined) delete environment[key]
    else environment[key] = Redacted.isRedacted(value) ? Redacted.value(value) : value
  }
  return environment
}

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

const pipeStream = (fd: number): Stream.Stream<Uint8Array, PlatformError.PlatformError> =>
  // A pull over what the socket has read, as Effect's own `fromReadable`
  // does (no queue, no fiber of its own: those cost ~15 KiB per service).
  Stream.fromChannel(Channel.fromTransform((_, scope) =>
    Effect.gen(function*() {
      const writer = new OutputWriter()
      const latch = Latch.makeUnsafe(false)
      let chunks: Array<Uint8Array> = []
      let ended = false
      let failed: PlatformError.PlatformError | undefined
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
        failed = failure("output", error)
        latch.openUnsafe()
      })
      yield* Scope.addFinalizer(scope, Effect.sync(() => {
        socket.destroy()
        writer.close()
      }))
      const pull: Pull.Pull<Arr.NonEmptyReadonlyArray<Uint8Array>, PlatformError.PlatformError> = Effect.suspend(
        function loop(): Pull.Pull<Arr.NonEmptyReadonlyArray<Uint8Array>, PlatformError.PlatformError> {
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

const spawnStandard = (command: ChildProcess.StandardCommand) =>
  Effect.gen(function*() {
    const { options } = command
    const args = command.args.map((word) => Redacted.isRedacted(word) ? Redacted.value(word) : word)
    const fds = outputPipe()
    const exit = yield* Deferred.make<Exit>()
    const child = yield* Effect.acquireRelease(
      Effect.callback<NodeChildProcess.ChildProcess, PlatformError.PlatformError>((resume) => {
        let child: NodeChildProcess.ChildProcess
        try {
          child = NodeChildProcess.spawn(command.command, args, {
            stdio: fds === undefined ? ["ignore", "pipe", "pipe"] : ["ignore", fds[1], fds[1]],
            detached: options.detached ?? true,
            env: environmentOf(options),
            // The daemon's working directory, always.
          })
        } catch (error) {
          if (fds !== undefined) fds.forEach(closeQuietly)
          return resume(Effect.fail(failure("spawn", error)))
        }
        // The child has its copies of the write end (or never will): ours
        // must go, so that the read end sees EOF when the service's side closes.
        if (fds !== undefined) closeQuietly(fds[1])
        child.on("exit", (code, signal) => Deferred.doneUnsafe(exit, Effect.succeed([code, signal] as const)))
        let spawned = false
        child.once("error", (error) => {
          // Only a failure to spawn; later errors (a failed kill) are not ours to act on.
          if (spawned) return
          if (fds !== undefined) closeQuietly(fds[0])
          resume(Effect.fail(failure("spawn", error)))
        })
        child.once("spawn", () => {
          spawned = true
          resume(Effect.succeed(child))
        })
      }),
      (child) => stopGroup(child, exit, options)
    )
    const pid = child.pid ?? 0
    const output = fds === undefined
      ? Stream.merge(readableStream(child.stdout, "stdout"), readableStream(child.stderr, "stderr"))
      : pipeStream(fds[0])
    const exitCode = Effect.flatMap(Deferred.await(exit), ([code, signal]) =>
      code !== null
        ? Effect.succeed(ChildProcessSpawner.ExitCode(code))
        : Effect.fail(failure(
          "exitCode",
          new Error(`Process interrupted due to receipt of signal: '${signal}'`)
        )))
    let referenced = true
    return ChildProcessSpawner.makeHandle({
      pid: ChildProcessSpawner.ProcessId(pid),
      exitCode,
      isRunning: Effect.map(Deferred.isDone(exit), (done) => !done),
      kill: (killOptions) => stopGroup(child, exit, killOptions ?? options),
      stdin: Sink.drain,
      stdout: output,
      stderr: fds === undefined ? readableStream(child.stderr, "stderr") : Stream.empty,
      all: output,
      getInputFd: () => Sink.drain,
      getOutputFd: () => Stream.empty,
      unref: Effect.sync(() => {
        if (referenced) child.unref()
        referenced = false
        return Effect.sync(() => {
          if (!referenced) child.ref()
          referenced = true
        })
      })
    })
  })

// The group stop of Effect's spawner: `killSignal` to the group, then
// SIGKILL when `forceKillAfter` passes with any of it left; then the leader's exit.
const stopGroup = (
  child: NodeChildProcess.ChildProcess,
  exit: Deferred.Deferred<Exit>,
  options: ChildProcess.KillOptions
): Effect.Effect<void> =>
  Effect.suspend(() => {
    const pid = child.pid
    if (pid === undefined) return Effect.void
    // The usual case at scope close: the service exited and its group is
    // gone (stopped by the supervisor, or it ended alone). Signalling a
    // group that is gone throws (an ErrnoException each): in a stop-all of
    // 500 services those kills were a third of the main thread's time.
    if (Deferred.isDoneUnsafe(exit) && !groupAlive(pid)) return Effect.void
    signalGroup(pid, options.killSignal ?? "SIGTERM")
    const force = options.forceKillAfter === undefined
      ? Effect.void
      : Effect.andThen(awaitGroupGone(pid, Duration.toMillis(Duration.fromInputUnsafe(options.forceKillAfter))),
        Effect.suspend(() => {
          if (groupAlive(pid)) signalGroup(pid, "SIGKILL")
          return awaitGroupGone(pid, GRACE_MILLIS)
        }))
    return Effect.andThen(force, Deferred.await(exit))
  }).pipe(Effect.asVoid)

/**
 * The spawner, as Effect's `ChildProcessSpawner` service.
 *
 * @example
 * ```ts
 * ProcessSupervisorLive.layer.pipe(Layer.provide(ServiceSpawner.layer))
 * ```
 * @since 0.1.0
 */
export const layer: Layer.Layer<ChildProcessSpawner.ChildProcessSpawner> = Layer.succeed(
  ChildProcessSpawner.ChildProcessSpawner,
  ChildProcessSpawner.make((command) =>
    ChildProcess.isStandardCommand(command)
      ? spawnStandard(command)
      : Effect.fail(PlatformError.badArgument({
        module: "ChildProcess",
        method: "spawn",
        description: "only a single command is supported, not a pipeline"
      }))
  )
)
