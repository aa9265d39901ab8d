/**
 * Restarts after a crash: the first delays of the backoff (0, then 5 s).
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest"
import { delay, eventsOf, Sandbox, waitFor, waitForJournal } from "./harness.ts"

const at = (time: unknown): number => Date.parse(String(time))

describe("crash loop", () => {
  let sandbox: Sandbox
  beforeEach(() => {
    sandbox = new Sandbox()
  })
  afterEach(async () => {
    await sandbox.cleanUp()
  })

  it("restarts at once, then after 5 s", { timeout: 20_000 }, async () => {
    sandbox.writeScript("crasher", "echo crashing\nexit 1")
    sandbox.startDaemon()

    const early = await waitForJournal(sandbox, (j) => eventsOf(j, "process exited", "crasher").length >= 2, {
      message: "two runs of crasher"
    })
    const spawns = eventsOf(early, "process spawned", "crasher")
    const exits = eventsOf(early, "process exited", "crasher")
    expect(spawns).toHaveLength(2)
    expect(exits.map((event) => event.data["exit_code"])).toEqual([1, 1])
    expect(exits.map((event) => event.data["pid"])).toEqual(spawns.map((event) => event.data["pid"]))
    // The first restart has no delay.
    expect(at(spawns[1]!.time) - at(exits[0]!.time)).toBeLessThan(1_000)

    // The second restart waits 5 s: nothing for the next 3 s.
    const secondExit = at(exits[1]!.time)
    await delay(Math.max(0, secondExit + 3_000 - Date.now()))
    expect(eventsOf(sandbox.readJournal(), "process spawned", "crasher")).toHaveLength(2)

    const late = await waitForJournal(sandbox, (j) => eventsOf(j, "process spawned", "crasher").length >= 3, {
      timeout: 10_000,
      message: "third spawn of crasher"
    })
    const third = eventsOf(late, "process spawned", "crasher")[2]!
    const gap = at(third.time) - secondExit
    expect(gap).toBeGreaterThanOrEqual(4_500)
    expect(gap).toBeLessThan(8_000)
    await waitFor(() => sandbox.livePids("crasher").length === 0, { message: "crasher runs are over" })
  })
})
