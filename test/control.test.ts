import { assert, describe, it } from "@effect/vitest"
import { Context, Duration, Effect, Exit, Fiber, Layer, Stream } from "effect"
import { TestClock } from "effect/testing"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { encodeLine, formatHuman } from "../src/domain/JournalEvent.ts"
import { statusJsonOf } from "../src/domain/Status.ts"
import * as ControlLocal from "../src/layers/ControlLocal.ts"
import { Control } from "../src/services/Control.ts"
import { System } from "../src/services/System.ts"
import { ProcessSupervisor } from "../src/services/ProcessSupervisor.ts"
import { statusReport } from "../src/programs/status.ts"
import * as CronmonTest from "../src/testing.ts"

const settle = CronmonTest.settle

/** Runs `effect` while the clock moves `by`: it may wait for a stop timeout. */
const whileClockMoves = <A, E, R>(effect: Effect.Effect<A, E, R>, by: Duration.Input) =>
  Effect.gen(function*() {
    const fiber = yield* Effect.forkChild(effect, { startImmediately: true })
    yield* TestClock.adjust(by)
    return yield* Fiber.join(fiber)
  })

/** The journal after `acquired lock`, as `seconds text` lines. */
const story = Effect.map(CronmonTest.journal, (entries) =>
  entries.filter((entry) => entry.type !== "acquired lock").map((entry) => formatHuman(entry).slice(14)))

const pidsOf = (name: string) =>
  Effect.map(CronmonTest.journal, (entries) =>
    entries.flatMap((entry) => entry.type === "process spawned" && entry.data.file === name ? [entry.data.pid] : []))

/** Never two processes of one service at once: replayed from the simulation's spawns and exits. */
const neverTwoAtOnce = Effect.gen(function*() {
  const happenings = yield* (yield* CronmonTest.SimulatedProcesses).happenings
  const alive = new Map<number, string>()
  for (const happening of happenings) {
    if (happening._tag === "Spawned") {
      assert.notInclude([...alive.values()], happening.file, `two instances of ${happening.file} at ${happening.at}`)
      alive.set(happening.pid, happening.file)
    } else if (happening._tag === "Exited") alive.delete(happening.pid)
  }
})

const errorTag = <A, E extends { readonly _tag: string }>(effect: Effect.Effect<A, E>) =>
  Effect.map(Effect.flip(effect), (error) => error._tag)

describe("Control, in the daemon's process", () => {
  it.effect("restart: stops the running instance, then answers with the new one", () =>
    Effect.gen(function*() {
      yield* CronmonTest.add("web")
      yield* TestClock.adjust("10 seconds")
      const done = yield* (yield* Control).restart("web", { by: "test" })
      assert.deepStrictEqual(done, { name: "web", pid: 1001 })
      assert.deepStrictEqual(yield* CronmonTest.runningNames, ["web"])
      assert.deepStrictEqual(yield* story, [
        "00:00.000Z web: added in the scripts directory",
        "00:00.000Z web: started, pid 1000",
        "00:10.000Z web: restarted on request by test",
        "00:10.000Z web: pid 1000 killed by SIGTERM",
        "00:10.000Z web: started, pid 1001"
      ])
    }).pipe(Effect.provide(CronmonTest.layer())))

  it.effect("restart waits out a stubborn stop: never two instances", () =>
    Effect.gen(function*() {
      yield* CronmonTest.behave("stubborn", { ignoresSigterm: true })
      yield* CronmonTest.add("stubborn")
      const done = yield* whileClockMoves((yield* Control).restart("stubborn"), "3 seconds")
      assert.deepStrictEqual(done, { name: "stubborn", pid: 1001 })
      assert.deepStrictEqual(yield* CronmonTest.spawnTimes("stubborn"), [0, 3])
      yield* neverTwoAtOnce
      yield* CronmonTest.remove("stubborn")
      yield* TestClock.adjust("3 seconds")
    }).pipe(Effect.provide(CronmonTest.layer())))

  it.effect("restart starts the restart delays over", () =>
    Effect.gen(function*() {
      yield* CronmonTest.behave("crashy", { runFor: "1 second", exitCode: 1 })
      yield* CronmonTest.add("crashy")
      // runs of 1 s and delays 0, 5, 15: spawned at 0, 1, 7; exits at 8, waiting until 23
      yield* TestClock.adjust("10 seconds")
      assert.deepStrictEqual(yield* CronmonTest.spawnTimes("crashy"), [0, 1, 7])
      yield* (yield* Control).restart("crashy")
      yield* TestClock.adjust("2 seconds")
      // the new schedule's first delay is 0 again: spawned at 10, exits at 11, again at 11
      assert.deepStrictEqual(yield* CronmonTest.spawnTimes("crashy"), [0, 1, 7, 10, 11])
    }).pipe(Effect.provide(CronmonTest.layer())))

  it.effect("restart of a file that cannot be spawned fails with the reason; the usual retries go on", () =>
    Effect.gen(function*() {
      yield* CronmonTest.add("web")
      yield* CronmonTest.behave("web", { spawnError: "EACCES" })
      const error = yield* Effect.flip((yield* Control).restart("web"))
      assert.strictEqual(error._tag, "ActionFailed")
      assert.include(error._tag === "ActionFailed" ? error.reason : "", "EACCES")
      yield* CronmonTest.behave("web", {})
      yield* TestClock.adjust("5 seconds")
      assert.deepStrictEqual(yield* CronmonTest.runningNames, ["web"], "retried after the first delays")
    }).pipe(Effect.provide(CronmonTest.layer())))

  it.effect("restart of an instance that exits as it starts fails", () =>
    Effect.gen(function*() {
      const sim = yield* CronmonTest.SimulatedProcesses
      yield* CronmonTest.add("web")
      yield* CronmonTest.behave("web", { runFor: 0, exitCode: 3 })
      const restarting = yield* Effect.forkChild((yield* Control).restart("web"), { startImmediately: true })
      yield* settle
      const exit = yield* Fiber.await(restarting)
      assert.isTrue(Exit.isFailure(exit), "an instance that exited at once did not run")
      assert.isTrue((yield* sim.happenings).some((h) => h._tag === "Exited" && h.status.code === 3))
      yield* CronmonTest.remove("web")
    }).pipe(Effect.provide(CronmonTest.layer())))

  it.effect("stop holds the service down: not restarted, not started by a change of its file", () =>
    Effect.gen(function*() {
      const c = yield* Control
      yield* CronmonTest.behave("stubborn", { ignoresSigterm: true })
      yield* CronmonTest.add("stubborn")
      const done = yield* whileClockMoves(c.stop("stubborn"), "3 seconds")
      assert.deepStrictEqual(done, { name: "stubborn", pid: null })
      assert.deepStrictEqual(yield* CronmonTest.runningNames, [], "the group is gone when stop returns")
      yield* CronmonTest.update("stubborn")
      yield* TestClock.adjust("2 minutes")
      assert.deepStrictEqual(yield* CronmonTest.spawnTimes("stubborn"), [0])
      const [status] = (yield* c.status).services
      assert.deepStrictEqual([status?.state, status?.held], ["stopped", true])
      assert.deepStrictEqual(yield* (yield* ProcessSupervisor).held, ["stubborn"])
    }).pipe(Effect.provide(CronmonTest.layer())))

  it.effect("start releases a hold and answers once it runs; a running service is left alone", () =>
    Effect.gen(function*() {
      const c = yield* Control
      yield* CronmonTest.add("web")
      yield* c.stop("web")
      assert.deepStrictEqual(yield* c.start("web"), { name: "web", pid: 1001 })
      const before = (yield* CronmonTest.journal).length
      assert.deepStrictEqual(yield* c.start("web"), { name: "web", pid: 1001 })
      assert.strictEqual((yield* CronmonTest.journal).length, before, "nothing to do, nothing journaled")
      const [status] = (yield* c.status).services
      assert.deepStrictEqual([status?.state, status?.held, status?.pid], ["running", false, 1001])
      assert.includeMembers(yield* story, [
        "00:00.000Z web: stopped and held down on request",
        "00:00.000Z web: started on request"
      ])
    }).pipe(Effect.provide(CronmonTest.layer())))

  it.effect("start cuts a restart delay short", () =>
    Effect.gen(function*() {
      const c = yield* Control
      yield* CronmonTest.behave("crashy", { runFor: "1 second", exitCode: 1 })
      yield* CronmonTest.add("crashy")
      yield* TestClock.adjust("2 seconds") // spawned at 0 and 1, exits at 2: waiting 5 s
      const [waiting] = (yield* c.status).services
      assert.deepStrictEqual([waiting?.state, waiting?.next_start_at], ["waiting", "1970-01-01T00:00:07.000Z"])
      yield* c.start("crashy")
      assert.deepStrictEqual(yield* CronmonTest.spawnTimes("crashy"), [0, 1, 2])
    }).pipe(Effect.provide(CronmonTest.layer())))

  it.effect("kill signals the process group; the usual policy follows, unless held", () =>
    Effect.gen(function*() {
      const c = yield* Control
      const sim = yield* CronmonTest.SimulatedProcesses
      yield* CronmonTest.behave("web", { children: [{}] })
      yield* CronmonTest.add("web")
      assert.deepStrictEqual(yield* c.kill("web", "hup"), { name: "web", pid: 1000 })
      const signalled = (yield* sim.happenings).flatMap((h) =>
        h._tag === "Signalled" && h.signal === "SIGHUP" ? [[h.pid, h.group]] : []
      )
      assert.deepStrictEqual(signalled, [[1000, true], [1001, true]], "the whole group, through its ID")
      yield* settle
      assert.deepStrictEqual(yield* pidsOf("web"), [1000, 1002], "restarted after the first delay (0)")
      assert.include((yield* story).join("\n"), "web: sent SIGHUP on request")
      yield* c.stop("web")
      assert.strictEqual(yield* errorTag(c.kill("web", "15")), "ActionFailed", "not running: nothing to signal")
    }).pipe(Effect.provide(CronmonTest.layer())))

  it.effect("every name is checked: a plain file name, of a service the daemon knows", () =>
    Effect.gen(function*() {
      const c = yield* Control
      const supervisor = yield* ProcessSupervisor
      yield* CronmonTest.add("web")
      for (const name of ["", ".", "..", "../outside", "a/b", "a\0b"]) {
        assert.strictEqual(yield* errorTag(c.restart(name)), "InvalidServiceName", JSON.stringify(name))
        assert.strictEqual(yield* errorTag(c.kill(name, "TERM")), "InvalidServiceName", JSON.stringify(name))
      }
      assert.strictEqual(yield* errorTag(supervisor.start("../outside")), "InvalidServiceName")
      for (const action of [c.restart("nosuch"), c.stop("nosuch"), c.start("nosuch"), c.kill("nosuch", "TERM")]) {
        assert.strictEqual(yield* errorTag(action), "NoSuchService")
      }
      assert.strictEqual(yield* errorTag(c.kill("web", "NOPE")), "InvalidSignal")
      assert.strictEqual(yield* errorTag(c.kill("web", "0")), "InvalidSignal")
      yield* CronmonTest.remove("web")
      assert.strictEqual(yield* errorTag(c.start("web")), "NoSuchService", "its file is gone")
      const spawned = (yield* (yield* CronmonTest.SimulatedProcesses).happenings).filter((h) => h._tag === "Spawned")
      assert.deepStrictEqual(spawned.map((h) => h._tag === "Spawned" ? h.file : ""), ["web"])
    }).pipe(Effect.provide(CronmonTest.layer())))

  it.effect("wait: false answers once accepted; the action is applied all the same", () =>
    Effect.gen(function*() {
      const c = yield* Control
      yield* CronmonTest.behave("stubborn", { ignoresSigterm: true })
      yield* CronmonTest.add("stubborn")
      assert.deepStrictEqual(yield* c.restart("stubborn", { wait: false }), { name: "stubborn", pid: null })
      assert.deepStrictEqual(yield* CronmonTest.spawnTimes("stubborn"), [0], "the stop has not timed out yet")
      yield* TestClock.adjust("3 seconds")
      assert.deepStrictEqual(yield* CronmonTest.spawnTimes("stubborn"), [0, 3])
      yield* CronmonTest.remove("stubborn")
      yield* TestClock.adjust("3 seconds")
    }).pipe(Effect.provide(CronmonTest.layer())))
})

describe("requests for one service, in arrival order", () => {
  it.effect("restart while a restart runs: each in turn, never two instances", () =>
    Effect.gen(function*() {
      const c = yield* Control
      yield* CronmonTest.behave("stubborn", { ignoresSigterm: true })
      yield* CronmonTest.add("stubborn")
      const both = yield* Effect.forkChild(Effect.all([c.restart("stubborn"), c.restart("stubborn")], { concurrency: 2 }), {
        startImmediately: true
      })
      yield* TestClock.adjust("6 seconds")
      const [first, second] = yield* Fiber.join(both)
      assert.deepStrictEqual([first.pid, second.pid], [1001, 1002])
      assert.deepStrictEqual(yield* CronmonTest.spawnTimes("stubborn"), [0, 3, 6])
      yield* neverTwoAtOnce
      yield* CronmonTest.remove("stubborn")
      yield* TestClock.adjust("3 seconds")
    }).pipe(Effect.provide(CronmonTest.layer())))

  it.effect("stop during a start: the start is done first, then the hold; the hold is not lost", () =>
    Effect.gen(function*() {
      const c = yield* Control
      yield* CronmonTest.add("web")
      yield* c.stop("web")
      const both = yield* Effect.forkChild(Effect.all([c.start("web"), c.stop("web")], { concurrency: 2 }), {
        startImmediately: true
      })
      yield* TestClock.adjust("3 seconds")
      const [started, stopped] = yield* Fiber.join(both)
      assert.deepStrictEqual([started.pid, stopped.pid], [1001, null])
      assert.deepStrictEqual(yield* CronmonTest.runningNames, [])
      assert.deepStrictEqual(yield* (yield* ProcessSupervisor).held, ["web"])
    }).pipe(Effect.provide(CronmonTest.layer())))

  it.effect("start during a slow stop waits for it, then starts: the later request wins", () =>
    Effect.gen(function*() {
      const c = yield* Control
      yield* CronmonTest.behave("stubborn", { ignoresSigterm: true })
      yield* CronmonTest.add("stubborn")
      const stopping = yield* Effect.forkChild(c.stop("stubborn"), { startImmediately: true })
      const starting = yield* Effect.forkChild(c.start("stubborn"), { startImmediately: true })
      yield* TestClock.adjust("1 second")
      assert.isUndefined(starting.pollUnsafe(), "the start waits for the stop")
      yield* TestClock.adjust("2 seconds")
      yield* Fiber.join(stopping)
      assert.deepStrictEqual(yield* Fiber.join(starting), { name: "stubborn", pid: 1001 })
      assert.deepStrictEqual(yield* (yield* ProcessSupervisor).held, [])
      yield* neverTwoAtOnce
      yield* CronmonTest.remove("stubborn")
      yield* TestClock.adjust("3 seconds")
    }).pipe(Effect.provide(CronmonTest.layer())))

  it.effect("a file change during a hold does not start it; its removal releases the hold", () =>
    Effect.gen(function*() {
      const c = yield* Control
      yield* CronmonTest.add("web")
      yield* c.stop("web")
      yield* CronmonTest.update("web")
      assert.deepStrictEqual(yield* CronmonTest.runningNames, [])
      yield* CronmonTest.remove("web")
      assert.deepStrictEqual(yield* (yield* ProcessSupervisor).held, [])
      yield* CronmonTest.add("web")
      assert.deepStrictEqual(yield* CronmonTest.runningNames, ["web"])
    }).pipe(Effect.provide(CronmonTest.layer())))

  it.effect("a file change while a request waits its turn is applied after it", () =>
    Effect.gen(function*() {
      const c = yield* Control
      yield* CronmonTest.behave("stubborn", { ignoresSigterm: true })
      yield* CronmonTest.add("stubborn")
      const stopping = yield* Effect.forkChild(c.stop("stubborn"), { startImmediately: true })
      yield* CronmonTest.update("stubborn") // arrives during the stop: the service is held by then
      yield* TestClock.adjust("3 seconds")
      yield* Fiber.join(stopping)
      yield* TestClock.adjust("1 minute")
      assert.deepStrictEqual(yield* CronmonTest.spawnTimes("stubborn"), [0])
    }).pipe(Effect.provide(CronmonTest.layer())))
})

describe("a daemon that stops", () => {
  it.effect("refuses requests from the start of its stop-all, those waiting their turn too, without hanging", () =>
    Effect.gen(function*() {
      const c = yield* Control
      const supervisor = yield* ProcessSupervisor
      yield* CronmonTest.behave("stubborn", { ignoresSigterm: true })
      yield* supervisor.start("stubborn")
      yield* supervisor.start("web")
      const restarting = yield* Effect.forkChild(c.restart("stubborn"), { startImmediately: true })
      const waiting = yield* Effect.forkChild(c.restart("stubborn"), { startImmediately: true })
      const stopAll = yield* Effect.forkChild(supervisor.stopAll, { startImmediately: true })
      assert.strictEqual(yield* errorTag(c.restart("web")), "DaemonStopping")
      assert.strictEqual(yield* errorTag(c.stop("web")), "DaemonStopping")
      // Status says so: what runs is stopping, and nothing is due to restart.
      const status = yield* c.status
      assert.strictEqual(status.daemon.state, "stopping")
      assert.deepStrictEqual(status.services.map((s) => [s.name, s.state, s.next_start_at]), [
        ["stubborn", "stopping", null],
        ["web", "stopped", null]
      ])
      yield* TestClock.adjust("6 seconds")
      yield* Fiber.join(stopAll)
      assert.isTrue(Exit.isSuccess(yield* Fiber.await(restarting)), "the restart under way was done")
      assert.strictEqual(yield* errorTag(Fiber.join(waiting)), "DaemonStopping")
      assert.deepStrictEqual(yield* CronmonTest.runningNames, [])
    }).pipe(Effect.provide(CronmonTest.services())))
})

describe("holds across a crash of the daemon", () => {
  const crashed = { leftovers: [], held: ["web"], notifying: [], uncleanSessions: 1, badLines: 0 }

  it.effect("a hold read back from the journal's unclean sessions keeps the service down, said once", () =>
    Effect.gen(function*() {
      const c = yield* Control
      yield* CronmonTest.add("web")
      yield* CronmonTest.add("db")
      yield* TestClock.adjust("1 minute")
      assert.deepStrictEqual(yield* CronmonTest.runningNames, ["db"])
      const said = (yield* story).filter((line) => line.includes("held"))
      assert.deepStrictEqual(said, ["00:00.000Z web: still held down (stopped on request before cronmon restarted)"])
      const web = (yield* c.status).services.find((service) => service.name === "web")
      assert.deepStrictEqual([web?.state, web?.held], ["stopped", true])
      assert.deepStrictEqual(yield* c.start("web"), { name: "web", pid: 1001 })
    }).pipe(Effect.provide(CronmonTest.layer({}, crashed))))
})

describe("status", () => {
  it.effect("live and from the journal agree on every field they share, on the same history", () =>
    Effect.gen(function*() {
      const c = yield* Control
      yield* CronmonTest.behave("crashy", { runFor: "2 seconds", exitCode: 1 })
      yield* CronmonTest.behave("broken", { spawnError: "ENOENT" })
      yield* CronmonTest.behave("web", { cpuPercent: 12.5, residentBytes: 4096, children: [{ residentBytes: 1024 }] })
      for (const name of ["crashy", "broken", "web", "held", "old"]) yield* CronmonTest.add(name)
      yield* c.stop("held")
      yield* CronmonTest.remove("old")
      // crashy: runs of 2 s, delays 0, 5, 15: spawned at 0, 2, 9, exits at 11, waits until 26
      yield* TestClock.adjust("12 seconds")
      yield* c.restart("web")
      // a new schedule for crashy: spawned at 12, 14 (delay 0 again), exits at 16, waits until 21
      yield* c.start("crashy")
      yield* TestClock.adjust("5 seconds")
      const live = yield* c.status
      const now = live.now
      // What `cronmon status` reads when the daemon does not answer: the journal file.
      const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "cronmon-status-")), "journal.json")
      yield* Effect.addFinalizer(() => Effect.sync(() => fs.rmSync(path.dirname(file), { recursive: true })))
      fs.writeFileSync(file, (yield* CronmonTest.journal).map((entry) => encodeLine(entry) + "\n").join(""))
      const fromJournal = statusJsonOf(yield* statusReport(file, "held"))
      const shared = ({ journal: _journal, ...status }: typeof live) => ({
        ...status,
        services: status.services.map(({ cpu: _cpu, memory: _memory, ...rest }) => rest)
      })
      assert.deepStrictEqual(shared(live), shared(fromJournal))
      const web = live.services.find((service) => service.name === "web")
      assert.deepStrictEqual([web?.cpu, web?.memory], [12.5, 5120])
      const crashy = live.services.find((service) => service.name === "crashy")
      assert.strictEqual(crashy?.next_start_at, "1970-01-01T00:00:21.000Z")
      assert.deepStrictEqual(
        live.services.map((service) => [service.name, service.state, service.held, service.cpu]),
        [
          ["broken", "failing", false, null],
          ["crashy", "waiting", false, null],
          ["held", "stopped", true, null],
          ["old", "removed", false, null],
          ["web", "running", false, 12.5]
        ]
      )
    }).pipe(Effect.scoped, Effect.provide(CronmonTest.layer())))
})

describe("status measurements", () => {
  it.effect("status requests that come together share one measurement of CPU and memory", () =>
    Effect.gen(function*() {
      let measurements = 0
      const system = yield* System
      const counting = Layer.succeed(System, {
        ...system,
        groupUsage: (pgids: ReadonlyArray<number>) =>
          Effect.sleep("250 millis").pipe(
            Effect.andThen(Effect.sync(() => measurements++)),
            Effect.andThen(system.groupUsage(pgids))
          )
      })
      yield* CronmonTest.add("web")
      const statuses = Effect.all(Array.from({ length: 3 }, () => Control.use((control) => control.status)), {
        concurrency: "unbounded"
      }).pipe(Effect.provide(Layer.fresh(ControlLocal.layer).pipe(Layer.provide(counting))))
      const together = yield* Effect.forkChild(statuses, { startImmediately: true })
      yield* TestClock.adjust("250 millis")
      assert.strictEqual((yield* Fiber.join(together)).length, 3)
      assert.strictEqual(measurements, 1)
    }).pipe(Effect.provide(CronmonTest.layer())))
})

describe("events", () => {
  it.effect("streams every journal event from now on", () =>
    Effect.gen(function*() {
      const c = yield* Control
      yield* CronmonTest.add("web")
      const collected = yield* Effect.forkChild(Stream.runCollect(Stream.take(c.events, 3)), { startImmediately: true })
      yield* settle
      yield* c.restart("web")
      const events = yield* Fiber.join(collected)
      assert.deepStrictEqual(events.map((entry) => formatHuman(entry).slice(25)), [
        "web: restarted on request",
        "web: pid 1000 killed by SIGTERM",
        "web: started, pid 1001"
      ])
    }).pipe(Effect.provide(CronmonTest.layer())))

  it.effect("end when the journal closes", () =>
    Effect.gen(function*() {
      const following = yield* Effect.scoped(Effect.gen(function*() {
        const control = Context.get(yield* Layer.build(CronmonTest.layer()), Control)
        return yield* Effect.forkDetach(Stream.runCollect(control.events), { startImmediately: true })
      }))
      const exit = yield* Fiber.await(following)
      assert.isTrue(Exit.isSuccess(exit), String(exit))
    }))
})
