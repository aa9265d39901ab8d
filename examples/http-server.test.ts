// Starts the example app on a free port with one real service, queries it,
// stops it, and checks that the service's process is gone.
import { assert, describe, it } from "@effect/vitest"
import { ProcessSupervisor } from "cronmon"
import { Context, Effect, Layer, Schedule } from "effect"
import { HttpServer } from "effect/http"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { app } from "./http-server.ts"

const get = (url: string) =>
  Effect.promise(async () => {
    const response = await fetch(url)
    return { status: response.status, body: await response.text() }
  })

const isAlive = (pid: number): boolean => {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

describe("examples/http-server", () => {
  it.live("serves the supervised services and their metrics, and stops them when it stops", () =>
    Effect.gen(function*() {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), "cronmon-http-"))
      yield* Effect.addFinalizer(() => Effect.sync(() => fs.rmSync(dir, { recursive: true, force: true })))
      const scripts = path.join(dir, "scripts")
      fs.mkdirSync(scripts)
      fs.writeFileSync(path.join(scripts, "sleeper"), "#!/bin/sh\nexec sleep 60\n", { mode: 0o755 })
      const options: Parameters<typeof app>[0] = {
        port: 0,
        cronmon: { scripts, journal: path.join(dir, "journal.json"), logs: path.join(dir, "logs"), stopTimeout: "1 second" }
      }

      const pids = yield* Effect.scoped(Effect.gen(function*() {
        const context = yield* Layer.build(app(options))
        const base = HttpServer.formatAddress(Context.get(context, HttpServer.HttpServer).address)
        // Polled with a deadline: the watcher finds the script shortly after start.
        const services = yield* get(`${base}/services`).pipe(
          Effect.map(({ status, body }) => ({ status, json: JSON.parse(body) })),
          Effect.repeat({
            until: ({ json }) => json.services?.[0]?.running === true,
            schedule: Schedule.spaced("20 millis")
          }),
          Effect.timeout("10 seconds")
        )
        assert.strictEqual(services.status, 200)
        assert.deepStrictEqual(services.json, {
          supervised: ["sleeper"],
          services: [{ service: "sleeper", spawns: 1, exits: 0, restarts: 0, spawnErrors: 0, running: true }]
        })
        const metrics = yield* get(`${base}/metrics`)
        assert.strictEqual(metrics.status, 200)
        assert.include(metrics.body, `cronmon_spawns_total{service="sleeper"} 1`)
        assert.include(metrics.body, `cronmon_service_running{service="sleeper"} 1`)
        return yield* Context.get(context, ProcessSupervisor).pids
      }))

      assert.strictEqual(pids.size, 1)
      assert.deepStrictEqual([...pids.values()].filter(isAlive), [], "the service was stopped with the app")
      const journal = fs.readFileSync(path.join(dir, "journal.json"), "utf8").trim().split("\n")
      assert.strictEqual(JSON.parse(journal.at(-1) ?? "{}").type, "monitor quit")
    }).pipe(Effect.scoped))
})
