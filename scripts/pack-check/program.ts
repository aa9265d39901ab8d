// What a new user writes after `npm install cronmon`: an Effect program that
// tests a supervision policy with the test kit and TestClock, then embeds
// the live daemon for a moment. scripts/pack-check.sh type-checks and runs
// it against the installed tarball; in this repository it type-checks
// against the sources.
import { Cronmon, Metrics, ProcessSupervisor } from "cronmon"
import * as CronmonTest from "cronmon/testing"
import { Duration, Effect, Schedule } from "effect"
import { TestClock } from "effect/testing"
import * as assert from "node:assert/strict"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"

// 1. The policy, simulated: a worker that crashes after 2 s.
const scenario = Effect.gen(function*() {
  yield* CronmonTest.behave("worker", { runFor: "2 seconds", exitCode: 1 })
  yield* CronmonTest.add("worker")
  yield* TestClock.adjust("40 seconds")
  return {
    spawns: yield* CronmonTest.spawnTimes("worker"),
    metrics: yield* Metrics.byService
  }
}).pipe(
  Effect.provide(CronmonTest.daemon({ restartDelays: [Duration.seconds(1), Duration.seconds(10)] })),
  Effect.provide(TestClock.layer())
)

const simulated = await Effect.runPromise(scenario)
assert.deepEqual(simulated.spawns, [0, 3, 15, 27, 39])
assert.deepEqual(simulated.metrics, [
  { service: "worker", spawns: 5, exits: 4, restarts: 4, spawnErrors: 0, running: true }
])

// 2. The live daemon, embedded: one real script, supervised until it runs.
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "cronmon-embed-"))
const scripts = path.join(dir, "scripts")
fs.mkdirSync(scripts, { mode: 0o750 })
fs.writeFileSync(path.join(scripts, "sleeper"), "#!/bin/sh\nexec sleep 60\n", { mode: 0o755 })
const live = Effect.gen(function*() {
  const supervisor = yield* ProcessSupervisor
  // Polled with a deadline: the watcher finds the script shortly after start.
  return yield* supervisor.pids.pipe(
    Effect.repeat({ until: (pids) => pids.size > 0, schedule: Schedule.spaced("20 millis") }),
    Effect.andThen(supervisor.running),
    Effect.timeout("10 seconds")
  )
}).pipe(Effect.provide(Cronmon.layer({
  scripts,
  journal: path.join(dir, "journal.json"),
  logs: path.join(dir, "logs"),
  stopTimeout: "1 second"
})))

const running = await Effect.runPromise(live)
assert.deepEqual(running, ["sleeper"])
const journal = fs.readFileSync(path.join(dir, "journal.json"), "utf8").trim().split("\n")
assert.equal(JSON.parse(journal.at(-1) ?? "{}").type, "monitor quit")
const previous = await Effect.runPromise(Cronmon.readPreviousState(path.join(dir, "journal.json")))
assert.deepEqual(previous.leftovers, [])
fs.rmSync(dir, { recursive: true, force: true })

console.log(`ok: simulated spawns at ${simulated.spawns.join(", ")} s; live daemon ran ${running.join(", ")}`)
