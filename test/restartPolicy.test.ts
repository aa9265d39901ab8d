/**
 * One restart policy: what the supervisor's schedule does is what `status`
 * says it will do, under the policy the daemon was given, which the journal
 * records in `acquired lock` (the Go original's journals: the defaults).
 */
import { assert, describe, it } from "@effect/vitest"
import { Duration, Effect, Layer, Result } from "effect"
import { TestClock } from "effect/testing"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { decodeLine, encodeLine, Events, type JournalEntry } from "../src/domain/JournalEvent.ts"
import { sessionStatusOf } from "../src/domain/Status.ts"
import * as Live from "../src/layers/Live.ts"
import * as SystemLinux from "../src/layers/SystemLinux.ts"
import { statusReport } from "../src/programs/status.ts"
import { makeSettings } from "../src/services/Settings.ts"
import * as CronmonTest from "../src/testing.ts"

const policy = { delays: [Duration.seconds(1), Duration.seconds(10)], stableRun: Duration.minutes(2) }

describe("restart policy", () => {
  it.effect("status predicts each restart the supervisor makes, under an app's policy", () =>
    Effect.gen(function*() {
      yield* CronmonTest.behave("worker", { runFor: "2 seconds", exitCode: 1 })
      yield* CronmonTest.add("worker")
      // Runs of 2 s, spawns at 0, 3, 15, 27: during each wait, status names the next one.
      for (const [now, next] of [[2.5, 3], [6, 15], [18, 27]] as const) {
        yield* TestClock.setTime(now * 1000)
        // The memory journal records no policy: recorded here as the file journal does.
        const [, ...rest] = yield* CronmonTest.journal
        const entries: ReadonlyArray<JournalEntry> = [{ time: 0, ...Events.acquiredLock("memory", 1, policy) }, ...rest]
        const session = sessionStatusOf(entries.map(encodeLine).reverse(), now * 1000)
        assert.deepStrictEqual(session.services.map((s) => [s.state, s.nextStartAt]), [["waiting", next * 1000]])
      }
      yield* TestClock.setTime(27_000)
      assert.deepStrictEqual(yield* CronmonTest.spawnTimes("worker"), [0, 3, 15, 27])
    }).pipe(Effect.provide(CronmonTest.layer({ restartDelays: policy.delays, stableRun: policy.stableRun }))))

  it.live("the live daemon records its policy, which status replays; without one, the defaults", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "cronmon-policy-"))
    return Effect.gen(function*() {
      const journal = path.join(dir, "journal.json")
      const settings = makeSettings({
        scriptsDir: path.join(dir, "scripts"),
        journalPath: journal,
        logsDir: path.join(dir, "logs"),
        restartDelays: policy.delays,
        stableRun: policy.stableRun
      })
      yield* Effect.scoped(Layer.build(Live.layer(settings)))
      const [first = ""] = fs.readFileSync(journal, "utf8").split("\n")
      const lock = decodeLine(first).pipe(Result.getOrThrow)
      assert.deepInclude(lock.data, { restart_delays_ms: [1000, 10000], stable_run_ms: 120000 })
      // Two short runs: the second restart waits the second delay.
      const at = lock.time
      const runs = [
        Events.spawned("worker", 900_001),
        Events.exited("worker", 900_001, { code: 1, signal: null }),
        Events.spawned("worker", 900_002),
        Events.exited("worker", 900_002, { code: 1, signal: null })
      ].map((event, i) => encodeLine({ time: at + i * 1000, ...event }))
      fs.appendFileSync(journal, runs.map((line) => `${line}\n`).join(""))
      const nextStart = (file: string) =>
        statusReport(file, "held").pipe(
          Effect.map((report) => report.services.map((service) => service.nextStartAt)),
          Effect.provide(SystemLinux.layer)
        )
      assert.deepStrictEqual(yield* nextStart(journal), [at + 3000 + 10_000])
      const original = path.join(dir, "original.json")
      const withoutPolicy = encodeLine({ time: at, ...Events.acquiredLock("file:original", 4242) })
      fs.writeFileSync(original, [withoutPolicy, ...runs].map((line) => `${line}\n`).join(""))
      assert.deepStrictEqual(yield* nextStart(original), [at + 3000 + 5000])
    }).pipe(Effect.ensuring(Effect.sync(() => fs.rmSync(dir, { recursive: true, force: true }))))
  })

  it("a policy JSON cannot hold (an infinite delay) is left out; the line stays readable", () => {
    const line = encodeLine({
      time: 0,
      ...Events.acquiredLock("x", 1, { delays: [Duration.infinity], stableRun: Duration.minutes(1) })
    })
    const decoded = decodeLine(line).pipe(Result.getOrThrow)
    assert.deepStrictEqual(decoded.data, { journal_id: "x", pid: 1 })
  })
})
