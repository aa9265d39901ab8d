// Runs examples/remote.ts against a real daemon, the built `cronmon`
// (`npm run build` first), in a temporary directory.
import { assert, describe, it } from "@effect/vitest"
import { ControlClient } from "cronmon"
import { Effect, Schedule } from "effect"
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { restart } from "./remote.ts"

const CLI = path.resolve(import.meta.dirname, "..", "dist", "cronmon.js")

describe("examples/remote", () => {
  it.live("restarts a service of a daemon in another process", () =>
    Effect.gen(function*() {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), "cronmon-remote-"))
      fs.mkdirSync(path.join(dir, "scripts"))
      fs.writeFileSync(path.join(dir, "scripts", "web"), "#!/bin/sh\nexec sleep 60\n", { mode: 0o755 })
      const journal = path.join(dir, "journal.json")
      const daemon = spawn(process.execPath, [CLI, "-j", journal, "-s", path.join(dir, "scripts"), "--logs", path.join(dir, "logs")], {
        stdio: "ignore"
      })
      const exited = new Promise((resolve) => daemon.on("exit", resolve))
      yield* Effect.addFinalizer(() =>
        Effect.promise(() => {
          daemon.kill("SIGTERM")
          return exited
        }).pipe(Effect.andThen(Effect.sync(() => fs.rmSync(dir, { recursive: true, force: true }))))
      )
      // Until the daemon listens and has found its script: NoDaemon, then NoSuchService.
      const { pid, memory } = yield* restart("web").pipe(
        Effect.provide(ControlClient.layer(journal)),
        Effect.retry({ schedule: Schedule.spaced("50 millis"), while: (error) => error._tag === "NoDaemon" || error._tag === "NoSuchService" }),
        Effect.timeout("15 seconds")
      )
      assert.isAbove(pid ?? 0, 0)
      assert.isAbove(memory ?? 0, 0)
    }), 30_000)
})
