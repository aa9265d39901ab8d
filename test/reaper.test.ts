import { assert, describe, it } from "@effect/vitest"
import { Effect, Option } from "effect"
import { JournalMemory } from "../src/layers/JournalMemory.ts"
import { SimulatedProcesses } from "../src/layers/ProcessesSimulated.ts"
import * as TestKit from "../src/layers/TestKit.ts"
import { startReaper } from "../src/programs/daemon/reaper.ts"
import { ProcessSupervisor } from "../src/services/ProcessSupervisor.ts"
import { System } from "../src/services/System.ts"

const MEMBER = 90_001
const ORPHAN = 90_002

// The simulated system, as a subreaper with two extra children: a member of
// the service's own group (re-parented for the instant of a stop) and an
// orphan that left it (`setsid`).
const withChildren = (servicePid: number) =>
  Effect.updateService(System, (system) => ({
    ...system,
    becomeSubreaper: Effect.succeed(true),
    children: Effect.map(system.children, (children) => [
      ...children,
      { pid: MEMBER, zombie: false },
      { pid: ORPHAN, zombie: false }
    ]),
    identify: (pid: number) =>
      pid === MEMBER
        ? Effect.succeed(Option.some({ pgid: servicePid, startTime: "1", startedAt: 0 }))
        : pid === ORPHAN
        ? Effect.succeed(Option.some({ pgid: ORPHAN, startTime: "1", startedAt: 0 }))
        : system.identify(pid)
  }))

const reaperWarnings = JournalMemory.use((journal) =>
  Effect.map(journal.entries, (entries) =>
    entries.flatMap((e) => e.type === "warning" && e.data.component === "reaper" ? [e.data.error] : [])))

describe("reaper", () => {
  it.effect("counts as left behind only what left its service's group", () =>
    Effect.gen(function*() {
      const supervisor = yield* ProcessSupervisor
      yield* supervisor.start("web")
      const [web] = yield* (yield* SimulatedProcesses).running
      assert.isDefined(web)
      const reaper = yield* Effect.scoped(withChildren(web.pid)(startReaper))
      yield* Effect.forkChild(withChildren(web.pid)(reaper.terminateOrphans))
      yield* Effect.yieldNow
      assert.deepStrictEqual(yield* reaperWarnings, ["terminating 1 process that services left behind"])
    }).pipe(Effect.provide(TestKit.layer())))
})
