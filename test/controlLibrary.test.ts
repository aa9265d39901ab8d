// The library end to end: a real `Cronmon.layer` in a temporary directory,
// driven in-process through `Control`, real processes and journal files.
import { assert, describe, it } from "@effect/vitest"
import { Control, Cronmon, Journal, type ServiceStatusJson } from "cronmon"
import { Context, Effect, Layer, Schedule } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"

const root = fs.mkdtempSync(path.join(os.tmpdir(), "cronmon-control-lib-"))
const scripts = path.join(root, "scripts")
fs.mkdirSync(scripts)
for (const name of ["web", "db"]) {
  fs.writeFileSync(path.join(scripts, name), "#!/bin/sh\nexec sleep 60\n", { mode: 0o755 })
}
const daemonOn = (journal: string) =>
  Cronmon.layer({ scripts, journal: path.join(root, journal), logs: path.join(root, "logs"), stopTimeout: "1 second" })

const statusOf = (control: Control["Service"], name: string) =>
  Effect.map(control.status, ({ services }) => services.find((service) => service.name === name))

/** Polls a service's status, with a deadline, until `until` holds. */
const waitFor = (
  control: Control["Service"],
  name: string,
  until: (service: ServiceStatusJson | undefined) => boolean
) =>
  statusOf(control, name).pipe(
    Effect.repeat({ until, schedule: Schedule.spaced("20 millis") }),
    Effect.timeout("10 seconds")
  )

describe("Control of an embedded daemon, end to end", () => {
  it.live("a hold outlives an unclean end of the daemon, and not a clean one", () =>
    Effect.gen(function*() {
      // The first daemon stops web; its journal is copied as a crash would leave it.
      yield* Effect.scoped(Effect.gen(function*() {
        const context = yield* Layer.build(daemonOn("first.json"))
        const control = Context.get(context, Control)
        const running = yield* waitFor(control, "web", (web) => web?.state === "running")
        yield* control.stop("web")
        assert.throws(() => process.kill(running?.pid ?? 0, 0), /ESRCH/, "its process is gone")
        yield* Context.get(context, Journal).flush
        fs.copyFileSync(path.join(root, "first.json"), path.join(root, "crashed.json"))
      }))

      // A daemon on the crashed journal keeps web down, and runs db.
      yield* Effect.scoped(Effect.gen(function*() {
        const control = Context.get(yield* Layer.build(daemonOn("crashed.json")), Control)
        yield* waitFor(control, "db", (db) => db?.state === "running")
        const web = yield* statusOf(control, "web")
        assert.deepStrictEqual([web?.state, web?.held, web?.pid], ["stopped", true, null])
        const text = fs.readFileSync(path.join(root, "crashed.json"), "utf8")
        assert.include(text, `"request":"stop","restored":true`)
      }))

      // The first daemon's session ended cleanly: the next daemon on its journal runs web.
      yield* Effect.scoped(Effect.gen(function*() {
        const control = Context.get(yield* Layer.build(daemonOn("first.json")), Control)
        const web = yield* waitFor(control, "web", (service) => service?.state === "running")
        assert.isFalse(web?.held)
      }))
    }).pipe(Effect.ensuring(Effect.sync(() => fs.rmSync(root, { recursive: true, force: true })))), 30_000)
})
