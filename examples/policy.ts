// A supervision policy checked without a test runner: the simulated daemon
// under TestClock, run with Effect.runPromise. It takes no real time.
import { Metrics } from "cronmon"
import * as CronmonTest from "cronmon/testing"
import { Effect } from "effect"
import { TestClock } from "effect/testing"
import * as assert from "node:assert/strict"

const scenario = Effect.gen(function*() {
  yield* CronmonTest.behave("worker", { runFor: "2 seconds", exitCode: 1 })
  yield* CronmonTest.add("worker")
  yield* TestClock.adjust("40 seconds")
  // runs of 2 s, then the delays: 0 → 2 + 1 → 5 + 10 → 17 + 10 → 29
  assert.deepEqual(yield* CronmonTest.spawnTimes("worker"), [0, 3, 15, 27, 39])
  assert.deepEqual(yield* Metrics.byService, [
    { service: "worker", spawns: 5, exits: 4, restarts: 4, spawnErrors: 0, running: true }
  ])
}).pipe(
  Effect.provide(CronmonTest.layer({ restartDelays: ["1 second", "10 seconds"] })),
  Effect.provide(TestClock.layer())
)

await Effect.runPromise(scenario)
console.log("policy ok")
