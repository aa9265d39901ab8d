// What a new user writes after `npm install cronmon`, beside
// examples/policy.ts: an Effect program that embeds the live daemon for a
// moment and reads the journal it left. scripts/pack-check.sh type-checks
// and runs both against the installed tarball; in this repository they
// type-check against the sources.
import { Cronmon, ProcessSupervisor } from "cronmon"
import { Effect, Schedule } from "effect"
import * as assert from "node:assert/strict"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"

// The live daemon, embedded: one real script, supervised until it runs.
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "cronmon-embed-"))
const scripts = path.join(dir, "scripts")
fs.mkdirSync(scripts, { mode: 0o750 })
fs.writeFileSync(path.join(scripts, "sleeper"), "#!/bin/sh\nexec sleep 60\n", { mode: 0o755 })
const live = Effect.gen(function*() {
  const supervisor = yield* ProcessSupervisor
  // Polled with a deadline: the watcher finds the script shortly after start.
  const pids = yield* supervisor.pids.pipe(
    Effect.repeat({ until: (pids) => pids.size > 0, schedule: Schedule.spaced("20 millis") }),
    Effect.timeout("10 seconds")
  )
  return { pids: [...pids.values()], supervised: yield* supervisor.supervised }
}).pipe(Effect.provide(Cronmon.layer({
  scripts,
  journal: path.join(dir, "journal.json"),
  logs: path.join(dir, "logs"),
  stopTimeout: "1 second"
})))

const { pids, supervised } = await Effect.runPromise(live)
assert.deepEqual(supervised, ["sleeper"])
// Releasing the layer stopped the service: its process is gone.
const alive = pids.filter((pid) => {
  try {
    return process.kill(pid, 0)
  } catch {
    return false
  }
})
assert.deepEqual(alive, [])
const journal = fs.readFileSync(path.join(dir, "journal.json"), "utf8").trim().split("\n")
assert.equal(JSON.parse(journal.at(-1) ?? "{}").type, "monitor quit")
const previous = await Effect.runPromise(Cronmon.readPreviousState(path.join(dir, "journal.json")))
assert.deepEqual(previous.leftovers, [])
fs.rmSync(dir, { recursive: true, force: true })

console.log(`live ok: the embedded daemon ran ${supervised.join(", ")} and left nothing behind`)
