import { assert, describe, it } from "@effect/vitest"
import { Effect, Metric } from "effect"
import { TestClock } from "effect/testing"
import * as Metrics from "../src/domain/Metrics.ts"
import { ProcessSupervisor } from "../src/services/ProcessSupervisor.ts"
import * as CronmonTest from "../src/testing.ts"

const count = (metric: Metric.Counter<number>, service: string) =>
  Effect.map(Metric.value(Metrics.forService(metric, service)), (state) => state.count)

describe("Metrics", () => {
  it.effect("count spawns, exits, automatic restarts and spawn errors per service; running is a 0/1 gauge", () =>
    Effect.gen(function*() {
      const supervisor = yield* ProcessSupervisor
      yield* CronmonTest.behave("crash", { runFor: "1 second", exitCode: 1 })
      yield* CronmonTest.behave("broken", { spawnError: "EACCES" })
      yield* supervisor.start("web")
      yield* supervisor.start("crash")
      yield* supervisor.start("broken")
      yield* TestClock.adjust("10 seconds") // crash: runs 0-1, 1-2, 7-8, then waits 15 s; broken: tries at 0, 0, 5
      assert.deepStrictEqual(yield* Metrics.byService, [
        { service: "broken", spawns: 0, exits: 0, restarts: 2, spawnErrors: 3, running: false },
        { service: "crash", spawns: 3, exits: 3, restarts: 2, spawnErrors: 0, running: false },
        { service: "web", spawns: 1, exits: 0, restarts: 0, spawnErrors: 0, running: true }
      ])
      // A start asked for (a file change) is not an automatic restart.
      yield* supervisor.start("web")
      yield* CronmonTest.settle
      assert.strictEqual(yield* count(Metrics.spawns, "web"), 2)
      assert.strictEqual(yield* count(Metrics.restarts, "web"), 0)
      // Held down: stopped, still known.
      yield* supervisor.hold("web")
      assert.strictEqual(yield* count(Metrics.exits, "web"), 2)
      assert.strictEqual((yield* Metric.value(Metrics.forService(Metrics.running, "web"))).value, 0)
      yield* supervisor.stopAll
    }).pipe(Effect.provide(CronmonTest.services())))

  it.effect("a service forgotten (its file gone) takes its series with it; back, it counts from zero", () =>
    Effect.gen(function*() {
      const supervisor = yield* ProcessSupervisor
      yield* supervisor.start("web")
      yield* supervisor.start("db")
      yield* supervisor.start("web")
      yield* CronmonTest.settle
      yield* supervisor.stop("web")
      yield* CronmonTest.settle
      assert.deepStrictEqual((yield* Metrics.byService).map((row) => row.service), ["db"])
      yield* supervisor.start("web")
      yield* CronmonTest.settle
      assert.strictEqual(yield* count(Metrics.spawns, "web"), 1)
      yield* supervisor.stopAll
    }).pipe(Effect.provide(CronmonTest.services())))

  it.effect("each test kit has a registry of its own", () =>
    Effect.gen(function*() {
      assert.deepStrictEqual(yield* Metrics.byService, [])
      yield* (yield* ProcessSupervisor).start("web")
      assert.deepStrictEqual((yield* Metrics.byService).map((row) => row.service), ["web"])
      yield* (yield* ProcessSupervisor).stopAll
    }).pipe(Effect.provide(CronmonTest.services())))
})
