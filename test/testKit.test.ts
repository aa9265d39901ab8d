/**
 * The test kit as a library user meets it: the options `Cronmon.layer`
 * takes, and a teardown that never waits for a clock nobody moves.
 */
import { assert, describe, it } from "@effect/vitest"
import { Duration, Effect } from "effect"
import { TestClock } from "effect/testing"
import * as Cronmon from "../src/Cronmon.ts"
import * as CronmonTest from "../src/testing.ts"

// An application's policy, written once for its live daemon and its tests.
const policy = {
  stopTimeout: "2 seconds",
  restartDelays: ["1 second", "10 seconds"],
  stableRun: "1 minute"
} satisfies Partial<Cronmon.Options>

describe("the test kit", () => {
  it("takes the options Cronmon.layer takes, to the same settings", () => {
    const live = Cronmon.settings({ scripts: "/scripts", journal: "/journal.json", logs: "/logs", ...policy })
    assert.deepStrictEqual(CronmonTest.settingsOf(policy), live)
    assert.isTrue(Duration.equals(live.stopTimeout, Duration.seconds(2)))
    // Durations as values still do.
    assert.deepStrictEqual(CronmonTest.settingsOf({ stopTimeout: Duration.seconds(2) }).stopTimeout, live.stopTimeout)
  })

  it.effect("runs under that policy", () =>
    Effect.gen(function*() {
      yield* CronmonTest.behave("worker", { runFor: "2 seconds", exitCode: 1 })
      yield* CronmonTest.add("worker")
      yield* TestClock.adjust("40 seconds")
      assert.deepStrictEqual(yield* CronmonTest.spawnTimes("worker"), [0, 3, 15, 27, 39])
    }).pipe(Effect.provide(CronmonTest.layer(policy))))

  it.effect("echo receives each event as a readable line", () => {
    const lines: Array<string> = []
    return Effect.gen(function*() {
      yield* CronmonTest.add("web")
      assert.deepStrictEqual(lines.slice(-2), [
        "1970-01-01T00:00:00.000Z web: added in the scripts directory",
        "1970-01-01T00:00:00.000Z web: started, pid 1000"
      ])
    }).pipe(Effect.provide(CronmonTest.layer({ echo: (line) => void lines.push(line) })))
  })

  // Under TestClock the stop timeout passes only when the test moves the
  // clock: the kit's teardown sends SIGKILL at once instead (before, such a
  // test hung until vitest's timeout, with nothing pointing at the cause).
  it.effect("ends a test whose service ignores SIGTERM and still runs", () =>
    Effect.gen(function*() {
      yield* CronmonTest.behave("stubborn", { ignoresSigterm: true })
      yield* CronmonTest.add("stubborn")
      assert.deepStrictEqual(yield* CronmonTest.runningNames, ["stubborn"])
    }).pipe(Effect.provide(CronmonTest.layer())), { timeout: 5_000 })

  it.effect("the teardown's SIGKILL is journaled at once, with monitor quit", () =>
    Effect.gen(function*() {
      const journal = yield* Effect.scoped(Effect.gen(function*() {
        const context = yield* Effect.context<CronmonTest.TestServices>()
        yield* CronmonTest.behave("stubborn", { ignoresSigterm: true }).pipe(Effect.provideContext(context))
        yield* CronmonTest.add("stubborn").pipe(Effect.provideContext(context))
        return CronmonTest.journal.pipe(Effect.provideContext(context))
      }).pipe(Effect.provide(CronmonTest.layer())))
      const entries = yield* journal
      assert.deepStrictEqual(
        entries.slice(-2).map((entry) => [entry.time, entry.type, "signal" in entry.data ? entry.data.signal : undefined]),
        [[0, "process exited", "SIGKILL"], [0, "monitor quit", undefined]]
      )
    }))
})
