/**
 * Readiness in the supervisor, with the simulated notify socket and
 * `TestClock`: what READY=1 changes (the journal, the status, the waits
 * for it, the restart delays), whom it is accepted from, and what a
 * service that exits first or says STOPPING=1 leaves its waiters with.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber, Layer } from "effect"
import { TestClock } from "effect/testing"
import { encodeLine, formatHuman } from "../src/domain/JournalEvent.ts"
import { sessionStatusOf } from "../src/domain/Status.ts"
import * as ControlLocal from "../src/layers/ControlLocal.ts"
import * as JournalMemory from "../src/layers/JournalMemory.ts"
import * as NotifySocketLinux from "../src/layers/NotifySocketLinux.ts"
import * as ProcessesSimulated from "../src/layers/ProcessesSimulated.ts"
import * as ProcessSupervisorSpawner from "../src/layers/ProcessSupervisorSpawner.ts"
import * as TestKit from "../src/layers/TestKit.ts"
import { Control, NotifyRefused, NotReady } from "../src/services/Control.ts"
import { ProcessSupervisor } from "../src/services/ProcessSupervisor.ts"
import { Settings } from "../src/services/Settings.ts"
import * as CronmonTest from "../src/testing.ts"

const settle = CronmonTest.settle

/** The journal after `acquired lock`, as `mm:ss.sssZ text` lines. */
const story = Effect.map(CronmonTest.journal, (entries) =>
  entries.filter((entry) => entry.type !== "acquired lock").map((entry) => formatHuman(entry).slice(14)))

const serviceStatus = (name: string) =>
  Control.use((control) =>
    Effect.map(control.status, (status) => {
      const service = status.services.find((s) => s.name === name)
      if (service === undefined) return assert.fail(`${name} is not in the status`)
      return service
    })
  )

const stateOf = (name: string) => Effect.map(serviceStatus(name), (service) => service.state)

const spawnDelays = (name: string) =>
  Effect.map(CronmonTest.spawnTimes(name), (times) => times.slice(1).map((time, i) => time - times[i]!))

describe("readiness", () => {
  it.effect("READY=1 from the service's process is journaled once; status shows it running with its readiness time", () =>
    Effect.gen(function*() {
      yield* CronmonTest.add("web")
      yield* TestClock.adjust("2 seconds")
      yield* CronmonTest.notify({ pid: 1000 }, "READY=1\nSTATUS=serving on :8080")
      yield* TestClock.adjust("1 second")
      yield* CronmonTest.notify({ pid: 1000 }, "READY=1")
      const web = yield* serviceStatus("web")
      assert.deepStrictEqual([web.state, web.ready, web.status_text], [
        "running",
        "1970-01-01T00:00:02.000Z",
        "serving on :8080"
      ])
      assert.deepStrictEqual(yield* story, [
        "00:00.000Z web: added in the scripts directory",
        "00:00.000Z web: started, pid 1000",
        "00:02.000Z web: ready, pid 1000"
      ])
    }).pipe(Effect.provide(CronmonTest.layer())))

  it.effect("accepted from any process of its group; from anyone else, ignored", () =>
    Effect.gen(function*() {
      yield* CronmonTest.add("web")
      yield* CronmonTest.notify({ pid: 4242 }, "READY=1") // its own group
      yield* CronmonTest.notify({ pid: 4243, pgid: 999 }, "READY=1")
      yield* CronmonTest.notify({ pid: 4244, pgid: undefined }, "READY=1") // gone before it was read
      assert.isNull((yield* serviceStatus("web")).ready)
      yield* TestClock.adjust("1 second")
      yield* CronmonTest.notify({ pid: 4245, pgid: 1000 }, "READY=1") // a child of the service
      assert.strictEqual((yield* serviceStatus("web")).ready, "1970-01-01T00:00:01.000Z")
    }).pipe(Effect.provide(CronmonTest.layer())))

  it.effect("a service that announced readiness before is starting in its next runs until it does again", () =>
    Effect.gen(function*() {
      yield* CronmonTest.add("web")
      assert.strictEqual(yield* stateOf("web"), "running", "never notified: running")
      yield* CronmonTest.notify({ pid: 1000 }, "READY=1")
      yield* (yield* Control).restart("web")
      assert.strictEqual(yield* stateOf("web"), "starting")
      assert.isNull((yield* serviceStatus("web")).ready)
      yield* TestClock.adjust("3 seconds")
      yield* CronmonTest.notify({ pid: 1001 }, "READY=1")
      assert.strictEqual(yield* stateOf("web"), "running")
      assert.deepStrictEqual((yield* story).slice(3), [
        "00:00.000Z web: restarted on request",
        "00:00.000Z web: pid 1000 killed by SIGTERM",
        "00:00.000Z web: started, pid 1001, not ready yet",
        "00:03.000Z web: ready, pid 1001"
      ])
    }).pipe(Effect.provide(CronmonTest.layer())))

  it.effect("after a crash: a service that notified in an unclean session starts as starting", () =>
    Effect.gen(function*() {
      yield* CronmonTest.add("web")
      assert.strictEqual(yield* stateOf("web"), "starting")
      assert.include((yield* story)[1], "not ready yet")
    }).pipe(Effect.provide(CronmonTest.layer({}, {
      leftovers: [],
      held: [],
      notifying: ["web"],
      uncleanSessions: 1,
      badLines: 0
    }))))

  it.effect("a run counts as stable from its readiness: 70 s with READY=1 at 20 s is not a stable run, without READY=1 it is", () =>
    Effect.gen(function*() {
      yield* CronmonTest.behave("late", { runFor: "70 seconds", exitCode: 1 })
      yield* CronmonTest.behave("plain", { runFor: "70 seconds", exitCode: 1 })
      yield* CronmonTest.add("late")
      yield* CronmonTest.add("plain")
      // late: first run 0 to 70 (no readiness: stable), restarted at 70 after 0 s
      yield* TestClock.adjust("90 seconds")
      yield* CronmonTest.notify({ pid: 1002 }, "READY=1") // late's second run, ready at 90
      // its second run ends at 140: 50 s after its readiness, not stable: the next delay is 5 s
      yield* TestClock.adjust("51 seconds")
      const late = yield* serviceStatus("late")
      assert.deepStrictEqual([late.state, late.next_start_at], ["waiting", "1970-01-01T00:02:25.000Z"])
      // The journal's fold replays the same policy (what `status` says without the daemon).
      const lines = (yield* CronmonTest.journal).map(encodeLine).reverse()
      const replayed = sessionStatusOf(lines, 141_000).services.find((service) => service.name === "late")
      assert.deepStrictEqual([replayed?.state, replayed?.nextStartAt], ["waiting", 145_000])
      yield* TestClock.adjust("9 seconds")
      assert.deepStrictEqual(yield* spawnDelays("late"), [70, 75])
      assert.deepStrictEqual(yield* spawnDelays("plain"), [70, 70])
    }).pipe(Effect.provide(CronmonTest.layer())))

  it.effect("restart --ready returns once the new instance says READY=1", () =>
    Effect.gen(function*() {
      const control = yield* Control
      yield* CronmonTest.add("web")
      const restarting = yield* Effect.forkChild(control.restart("web", { ready: true }), { startImmediately: true })
      yield* TestClock.adjust("5 seconds")
      assert.isUndefined(restarting.pollUnsafe(), "running, not yet ready")
      yield* CronmonTest.notify({ pid: 1001 }, "STATUS=warming up")
      assert.isUndefined(restarting.pollUnsafe())
      yield* CronmonTest.notify({ pid: 1001 }, "READY=1")
      assert.deepStrictEqual(yield* Fiber.join(restarting), { name: "web", pid: 1001 })
    }).pipe(Effect.provide(CronmonTest.layer())))

  it.effect("waiting for readiness holds up no later request", () =>
    Effect.gen(function*() {
      const control = yield* Control
      yield* CronmonTest.add("web")
      const restarting = yield* Effect.forkChild(control.restart("web", { ready: true }), { startImmediately: true })
      yield* settle
      assert.deepStrictEqual(yield* control.kill("web", "HUP"), { name: "web", pid: 1001 })
      yield* Fiber.interrupt(restarting)
    }).pipe(Effect.provide(CronmonTest.layer())))

  it.effect("start --ready of a running service that is ready returns at once; one that exits first fails with its exit", () =>
    Effect.gen(function*() {
      const control = yield* Control
      yield* CronmonTest.behave("crashy", { runFor: "2 seconds", exitCode: 3 })
      yield* CronmonTest.add("web")
      yield* CronmonTest.add("crashy")
      yield* CronmonTest.notify({ pid: 1000 }, "READY=1")
      assert.deepStrictEqual(yield* control.start("web", { ready: true }), { name: "web", pid: 1000 })
      const restarting = yield* Effect.forkChild(control.restart("crashy", { ready: true }), { startImmediately: true })
      yield* TestClock.adjust("3 seconds")
      const error = yield* Effect.flip(Fiber.join(restarting))
      assert.deepStrictEqual(error, new NotReady({ name: "crashy", pid: 1002, reason: "pid 1002 exited with code 3 before it was ready" }))
    }).pipe(Effect.provide(CronmonTest.layer())))

  it.effect("STOPPING=1 before READY=1: the wait fails at once; RELOADING=1 and STOPPING=1 are shown until READY=1 and the exit", () =>
    Effect.gen(function*() {
      const control = yield* Control
      yield* CronmonTest.add("web")
      const restarting = yield* Effect.forkChild(control.restart("web", { ready: true }), { startImmediately: true })
      yield* settle
      yield* CronmonTest.notify({ pid: 1001 }, "STOPPING=1")
      const error = yield* Effect.flip(Fiber.join(restarting))
      assert.deepStrictEqual(error, new NotReady({ name: "web", pid: 1001, reason: "pid 1001 said STOPPING=1 before it was ready" }))
      assert.strictEqual(yield* stateOf("web"), "stopping")
      yield* control.restart("web")
      yield* CronmonTest.notify({ pid: 1002 }, "READY=1")
      yield* CronmonTest.notify({ pid: 1002 }, "RELOADING=1\nSTATUS=reading its configuration")
      const reloading = yield* serviceStatus("web")
      assert.deepStrictEqual([reloading.state, reloading.status_text], ["reloading", "reading its configuration"])
      yield* CronmonTest.notify({ pid: 1002 }, "READY=1\nSTATUS=serving")
      const again = yield* serviceStatus("web")
      assert.deepStrictEqual([again.state, again.status_text, again.ready], ["running", "serving", "1970-01-01T00:00:00.000Z"])
      // MAINPID=, WATCHDOG=1, unknown keys: nothing changes, nothing breaks.
      yield* CronmonTest.notify({ pid: 1002 }, "MAINPID=1\nWATCHDOG=1\nX_CUSTOM=1")
      assert.deepStrictEqual(yield* serviceStatus("web"), again)
      assert.strictEqual((yield* story).filter((line) => line.includes("ready, pid")).length, 1, "one readiness per run journaled")
    }).pipe(Effect.provide(CronmonTest.layer())))

  it.effect("cronmon notify: applied for a process of the service's group, refused for any other", () =>
    Effect.gen(function*() {
      const control = yield* Control
      const sim = yield* CronmonTest.SimulatedProcesses
      yield* CronmonTest.add("web")
      yield* CronmonTest.add("other")
      const refused = yield* Effect.flip(control.notify("web", { pid: 1001, ready: true })) // other's
      assert.deepStrictEqual(refused, new NotifyRefused({ name: "web", reason: "pid 1001 is not a process of web (process group 1000)" }))
      const gone = yield* Effect.flip(control.notify("web", { pid: 77777, ready: true }))
      assert.deepStrictEqual(gone._tag, "NotifyRefused")
      assert.strictEqual((yield* Effect.flip(control.notify("nothing", { pid: 1000 })))._tag, "NoSuchService")
      assert.isNull((yield* serviceStatus("web")).ready)
      yield* TestClock.adjust("1 second")
      yield* control.notify("web", { pid: 1000, ready: true, status: "up" })
      const web = yield* serviceStatus("web")
      assert.deepStrictEqual([web.ready, web.status_text], ["1970-01-01T00:00:01.000Z", "up"])
      assert.lengthOf(yield* sim.running, 2)
    }).pipe(Effect.provide(CronmonTest.layer())))
})

describe("readiness without a notify socket", () => {
  // The test kit with the socket a platform without one gets.
  const withoutSocket = ControlLocal.layer.pipe(
    Layer.provideMerge(ProcessSupervisorSpawner.layer),
    Layer.provide(TestKit.discardLogs),
    Layer.provideMerge(Layer.mergeAll(
      JournalMemory.layer(),
      ProcessesSimulated.layer,
      NotifySocketLinux.unsupported,
      Layer.succeed(Settings, TestKit.testSettings)
    ))
  )

  it.effect("a run is ready once spawned: restart --ready returns at once, and status shows no readiness", () =>
    Effect.gen(function*() {
      const control = yield* Control
      yield* (yield* ProcessSupervisor).start("web")
      yield* settle
      assert.deepStrictEqual(yield* control.restart("web", { ready: true }), { name: "web", pid: 1001 })
      const web = yield* serviceStatus("web")
      assert.deepStrictEqual([web.state, web.ready], ["running", null])
      const spawned = (yield* CronmonTest.journal).filter((entry) => entry.type === "process spawned")
      assert.deepStrictEqual(spawned.map((entry) => "notifies" in entry.data), [false, false])
    }).pipe(Effect.provide(withoutSocket)))
})
