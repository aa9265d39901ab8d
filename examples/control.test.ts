// Acting on the services of a daemon embedded in this program, through
// `Control`: the calls an app makes of a remote daemon over its control
// socket, here in-process. docs/library.md quotes this file; CI runs it.
import { assert, describe, it } from "@effect/vitest"
import { Control, Cronmon } from "cronmon"
import { Effect, Fiber, Stream } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"

const isAlive = (pid: number): boolean => {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

// A daemon on a scripts directory of its own, with one service.
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "cronmon-control-"))
fs.mkdirSync(path.join(dir, "scripts"))
fs.writeFileSync(path.join(dir, "scripts", "web"), "#!/bin/sh\nexec sleep 60\n", { mode: 0o755 })
const daemon = Cronmon.layer({
  scripts: path.join(dir, "scripts"),
  journal: path.join(dir, "journal.json"),
  logs: path.join(dir, "logs"),
  stopTimeout: "1 second"
})

describe("Control, in-process", () => {
  it.live("restart, stop (held down), start, kill, status and events", () =>
    Effect.gen(function*() {
      const control = yield* Control
      // Asked as the daemon starts: answered once it has found its scripts.
      const first = yield* control.start("web")

      // Every journal event from now on, as the daemon records it.
      const spawns = control.events.pipe(Stream.filter((event) => event.type === "process spawned"), Stream.take(3))
      const spawned = yield* Effect.forkChild(Stream.runCollect(spawns), { startImmediately: true })

      // Returns once the new instance runs; the old one is gone.
      const restarted = yield* control.restart("web")
      assert.notStrictEqual(restarted.pid, first.pid)
      assert.isFalse(isAlive(first.pid ?? 0))

      // Held down: not restarted, not started by a change of its file.
      yield* control.stop("web")
      assert.isFalse(isAlive(restarted.pid ?? 0))
      const [held] = (yield* control.status).services
      assert.deepStrictEqual([held?.state, held?.held], ["stopped", true])

      const started = yield* control.start("web")
      const [running] = (yield* control.status).services
      assert.deepStrictEqual([running?.state, running?.pid, running?.held], ["running", started.pid, false])
      assert.isAtLeast(running?.memory ?? 0, 1, "its resident memory, in bytes")

      // A signal to its process group; the usual policy restarts it.
      yield* control.kill("web", "KILL")
      const spawnedPids = (yield* Fiber.join(spawned)).map((event) => event.type === "process spawned" ? event.data.pid : 0)
      assert.deepStrictEqual(spawnedPids.slice(0, 2), [restarted.pid, started.pid])

      // A name that is not a plain file name is refused, whoever asks.
      const refused = yield* Effect.flip(control.restart("../outside"))
      assert.strictEqual(refused._tag, "InvalidServiceName")
    }).pipe(Effect.provide(daemon), Effect.ensuring(Effect.sync(() => fs.rmSync(dir, { recursive: true, force: true })))), 30_000)
})
