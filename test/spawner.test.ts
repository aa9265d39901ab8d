/**
 * The live spawner on real processes: what `ServiceSpawner.spawn` promises
 * (argv, process group, stdin, one ordered output pipe, environment, extra
 * descriptors, exit status, refusals), each checked once.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber, Layer, Stream } from "effect"
import * as ChildProcess from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as ServiceSpawnerNode from "../src/layers/ServiceSpawnerNode.ts"
import * as SystemLinux from "../src/layers/SystemLinux.ts"
import { ServiceSpawner } from "../src/services/ServiceSpawner.ts"
import { SERVICE_MARK, System } from "../src/services/System.ts"
import { loadSpawnCalls } from "../src/internal/Libc.ts"

const direct = ServiceSpawnerNode.layer.pipe(Layer.provideMerge(SystemLinux.layer))
const childProcess = ServiceSpawnerNode.layerChildProcess.pipe(Layer.provideMerge(SystemLinux.layer))

const sandbox = Effect.acquireRelease(
  Effect.sync(() => fs.mkdtempSync(path.join(os.tmpdir(), "cronmon-spawner-"))),
  (dir) => Effect.sync(() => fs.rmSync(dir, { recursive: true, force: true }))
)

const script = (dir: string, name: string, body: string) => {
  const file = path.join(dir, name)
  fs.writeFileSync(file, `#!/bin/sh\n${body}\n`, { mode: 0o755 })
  return file
}

const text = (output: Stream.Stream<Uint8Array, unknown>) =>
  Effect.map(Stream.runCollect(output), (chunks) => Buffer.concat(Array.from(chunks)).toString())

describe.each([["posix_spawn", direct], ["node:child_process", childProcess]] as const)("ServiceSpawner (live, %s)", (_, live) => {
  it.live("runs the file in its own group with stdin from /dev/null, its output in order on one pipe, env and fds as asked", () =>
    Effect.gen(function*() {
      const dir = yield* sandbox
      const file = script(dir, "svc", [
        "echo \"argv: $0 $#\"",
        "echo to-stderr >&2",
        "echo \"group: $(cut -d' ' -f5 /proc/$$/stat) pid: $$\"",
        "if read line; then echo \"stdin: $line\"; else echo stdin: end; fi",
        "echo \"env: $CRONMON_SPAWNER_TEST\"",
        "echo to-fd3 >&3",
        "exit 7"
      ].join("\n"))
      const extra = path.join(dir, "fd3")
      const fd = fs.openSync(extra, "w")
      yield* Effect.addFinalizer(() => Effect.sync(() => fs.closeSync(fd)))
      const child = yield* (yield* ServiceSpawner).spawn(file, { env: { CRONMON_SPAWNER_TEST: "yes" }, fds: [fd] })
      const output = yield* text(child.output)
      assert.deepStrictEqual(yield* child.exit, { code: 7, signal: null })
      assert.strictEqual(
        output,
        `argv: ${file} 0\nto-stderr\ngroup: ${child.pid} pid: ${child.pid}\nstdin: end\nenv: yes\n`
      )
      assert.strictEqual(fs.readFileSync(extra, "utf8"), "to-fd3\n")
    }).pipe(Effect.provide(live)))

  it.live("leaves no signal ignored or blocked in the service, and gives extra descriptors in its own range the right files", () =>
    Effect.gen(function*() {
      const dir = yield* sandbox
      const system = yield* System
      // fd 3 of this process is copied to the service's fd 4 while another
      // descriptor goes to its fd 3: copied in turn, fd 3 would be replaced first.
      const own3 = fs.readlinkSync("/proc/self/fd/3")
      const file = path.join(dir, "extra")
      const fd = fs.openSync(file, "w")
      yield* Effect.addFinalizer(() => Effect.sync(() => fs.closeSync(fd)))
      const child = yield* (yield* ServiceSpawner).spawn(
        script(dir, "looks", "grep -E '^Sig(Ign|Blk)' /proc/$$/status; readlink /proc/$$/fd/3 /proc/$$/fd/4"),
        { fds: [fd, 3] }
      )
      yield* Effect.addFinalizer(() => system.kill(-child.pid, "SIGKILL"))
      const output = yield* text(child.output)
      assert.deepStrictEqual(yield* child.exit, { code: 0, signal: null })
      assert.deepStrictEqual(output.trim().split("\n"), ["SigBlk:\t0000000000000000", "SigIgn:\t0000000000000000", file, own3])
    }).pipe(Effect.provide(live)))

  it.live("keeps the process alive while an exit is awaited, the output closed", () =>
    Effect.gen(function*() {
      const dir = yield* sandbox
      const file = script(dir, "quiet", "exec >/dev/null 2>&1\nsleep 1\nexit 3")
      const which = live === direct ? "direct" : "child_process"
      const run = ChildProcess.spawnSync(process.execPath, [path.join(import.meta.dirname, "fixtures", "spawnAndWait.ts"), file, which], {
        encoding: "utf8",
        timeout: 15_000
      })
      assert.strictEqual(run.stdout, `{"code":3,"signal":null}\n`, run.stderr)
    }), 20_000)

  it.live("reports the signal that ended it", () =>
    Effect.gen(function*() {
      const dir = yield* sandbox
      const system = yield* System
      const child = yield* (yield* ServiceSpawner).spawn(script(dir, "sleeper", "exec sleep 100"))
      yield* Effect.addFinalizer(() => system.kill(child.pid, "SIGKILL"))
      yield* Effect.forkScoped(Stream.runDrain(child.output))
      assert.isTrue(yield* system.kill(-child.pid, "SIGKILL"))
      assert.deepStrictEqual(yield* child.exit, { code: null, signal: "SIGKILL" })
    }).pipe(Effect.provide(live)))

  it.live("refuses what cannot run, with the reason the journal gives", () =>
    Effect.gen(function*() {
      const dir = yield* sandbox
      const spawner = yield* ServiceSpawner
      const shell = path.join(dir, "no-hashbang")
      fs.writeFileSync(shell, "echo hi\n", { mode: 0o755 })
      const refused = yield* Effect.flip(spawner.spawn(shell))
      assert.strictEqual(refused.reason, `spawn ${shell}: not an executable format (no #! line, not a binary) (ENOEXEC)`)
      const missing = yield* Effect.flip(spawner.spawn(path.join(dir, "missing")))
      assert.strictEqual(missing.code, "ENOENT")
    }).pipe(Effect.provide(live)))
})

describe("ServiceSpawner (live, node:child_process)", () => {
  // A direct spawn is synchronous: no interruption can come between the
  // process and its report.
  it.live("interrupted before the spawn is reported: kills the process it started and closes its end of the pipe", () =>
    Effect.gen(function*() {
      const dir = yield* sandbox
      const system = yield* System
      const pipes = () =>
        fs.readdirSync("/proc/self/fd").filter((fd) => {
          try {
            return fs.readlinkSync(`/proc/self/fd/${fd}`).startsWith("pipe:")
          } catch {
            return false // gone since the listing
          }
        }).length
      const pipesBefore = pipes()
      const spawning = (yield* ServiceSpawner).spawn(script(dir, "sleeper", "exec sleep 100"), { env: { [SERVICE_MARK]: dir } })
      const started = Effect.map(system.marked(dir), (pids) => pids.length > 0)
      yield* Effect.addFinalizer(() => Effect.flatMap(system.marked(dir), Effect.forEach((pid) => system.kill(pid, "SIGKILL"))))
      // Begun at once, it waits for the spawn event (next tick) when the interruption comes.
      yield* Fiber.interrupt(yield* Effect.forkChild(spawning, { startImmediately: true }))
      for (let i = 0; i < 100 && (yield* started); i++) yield* Effect.sleep("20 millis")
      assert.isFalse(yield* started, "the process still runs 2 s after the interruption")
      assert.strictEqual(pipes(), pipesBefore)
    }).pipe(Effect.provide(childProcess)))
})

describe("ServiceSpawner (live, posix_spawn)", () => {
  it("is what Linux uses", () => {
    assert.strictEqual(loadSpawnCalls() !== undefined, process.platform === "linux")
  })

  it.live("collects every exit of many that end together, beside children of Node's own", () =>
    Effect.gen(function*() {
      const dir = yield* sandbox
      const spawner = yield* ServiceSpawner
      // A child nobody collects, older than the others: the first that
      // waitid finds, it hides them until it is collected.
      const calls = loadSpawnCalls()
      assert.isDefined(calls)
      const devNull = fs.openSync("/dev/null", "w")
      const foreign = calls.spawn({ file: "/bin/true", argv: ["true"], env: [], output: devNull, extra: [] })
      fs.closeSync(devNull)
      assert.isTrue("pid" in foreign)
      yield* Effect.addFinalizer(() => Effect.sync(() => "pid" in foreign && calls.collect(foreign.pid)))
      const children = yield* Effect.forEach(Array.from({ length: 20 }, (_, i) => i), (i) =>
        spawner.spawn(script(dir, `exit${i}`, `exit ${i}`)))
      // libuv's children end meanwhile: theirs are not taken, nor do they hide ours.
      const nodeExits = Array.from({ length: 5 }, () => {
        const child = ChildProcess.spawn("true")
        return new Promise((resolve) => child.on("exit", resolve))
      })
      const codes = yield* Effect.forEach(children, (child) =>
        Effect.andThen(Stream.runDrain(child.output), child.exit), { concurrency: "unbounded" })
      assert.deepStrictEqual(codes, children.map((_, i) => ({ code: i, signal: null })))
      const nodeCodes = yield* Effect.promise(() => Promise.all(nodeExits))
      assert.deepStrictEqual(nodeCodes, [0, 0, 0, 0, 0])
    }).pipe(Effect.provide(direct)))

  it.live("starts no Node child process", () =>
    Effect.gen(function*() {
      const dir = yield* sandbox
      const system = yield* System
      const handles = () => process.getActiveResourcesInfo().filter((kind) => kind === "ProcessWrap").length
      const before = handles()
      const child = yield* (yield* ServiceSpawner).spawn(script(dir, "sleeper", "exec sleep 100"))
      yield* Effect.addFinalizer(() => system.kill(-child.pid, "SIGKILL"))
      assert.strictEqual(handles(), before)
    }).pipe(Effect.provide(direct)))

  it("reads wait statuses as Node reports exits", () => {
    assert.deepStrictEqual(ServiceSpawnerNode.exitStatusOf(7 << 8), { code: 7, signal: null })
    assert.deepStrictEqual(ServiceSpawnerNode.exitStatusOf(0), { code: 0, signal: null })
    assert.deepStrictEqual(ServiceSpawnerNode.exitStatusOf(9), { code: null, signal: "SIGKILL" })
    assert.deepStrictEqual(ServiceSpawnerNode.exitStatusOf(6), { code: null, signal: "SIGABRT" })
    assert.deepStrictEqual(ServiceSpawnerNode.exitStatusOf(15 | 0x80), { code: null, signal: "SIGTERM" })
    assert.deepStrictEqual(ServiceSpawnerNode.exitStatusOf(-1), { code: null, signal: null })
  })
})
