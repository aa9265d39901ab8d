// A user's own test of a supervision policy: no real processes, no real
// time. docs/library.md quotes this file; CI runs it.
import { assert, describe, it } from "@effect/vitest"
import { Metrics } from "cronmon"
import * as CronmonTest from "cronmon/testing"
import { Effect } from "effect"
import { TestClock } from "effect/testing"

describe("my supervision policy", () => {
  it.effect("a crashing worker backs off 1 s, 10 s, 10 s…", () =>
    Effect.gen(function*() {
      yield* CronmonTest.behave("worker", { runFor: "2 seconds", exitCode: 1 })
      yield* CronmonTest.add("worker")
      yield* TestClock.adjust("40 seconds")
      // runs of 2 s, then the delays: 0 → 2 + 1 → 5 + 10 → 17 + 10 → 29
      assert.deepStrictEqual(yield* CronmonTest.spawnTimes("worker"), [0, 3, 15, 27, 39])
      const [worker] = yield* Metrics.byService
      assert.deepStrictEqual(worker, {
        service: "worker",
        spawns: 5,
        exits: 4,
        restarts: 4,
        spawnErrors: 0,
        running: true
      })
    }).pipe(Effect.provide(CronmonTest.layer({
      restartDelays: ["1 second", "10 seconds"],
      stableRun: "1 minute"
    }))))

  it.effect("a worker that ignores SIGTERM is killed when the stop timeout passes", () =>
    Effect.gen(function*() {
      yield* CronmonTest.behave("stubborn", { ignoresSigterm: true })
      yield* CronmonTest.add("stubborn")
      yield* CronmonTest.remove("stubborn")
      yield* TestClock.adjust("2 seconds")
      assert.deepStrictEqual(yield* CronmonTest.runningNames, [])
      const exits = (yield* CronmonTest.journal).flatMap((entry) =>
        entry.type === "process exited" ? [[entry.time, entry.data.signal]] : []
      )
      assert.deepStrictEqual(exits, [[2000, "SIGKILL"]])
    }).pipe(Effect.provide(CronmonTest.layer({ stopTimeout: "2 seconds" }))))

  it.effect("a script that cannot start is retried with the same delays", () =>
    Effect.gen(function*() {
      yield* CronmonTest.behave("broken", { spawnError: "ENOENT" })
      yield* CronmonTest.add("broken")
      yield* TestClock.adjust("30 seconds")
      const errors = (yield* CronmonTest.journal).filter((entry) => entry.type === "process spawn error")
      assert.deepStrictEqual(errors.map((entry) => entry.time / 1000), [0, 0, 5, 20])
      const [broken] = yield* Metrics.byService
      assert.strictEqual(broken?.spawnErrors, 4)
    }).pipe(Effect.provide(CronmonTest.layer())))
})
