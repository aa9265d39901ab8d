/**
 * 500 scripts added at once: all start, all stop at shutdown. A file of its
 * own, so that it runs beside the other fault files.
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest"
import { eventsOf, Sandbox, waitFor, waitForJournal } from "../e2e/harness.ts"

describe("many services", () => {
  let sandbox: Sandbox
  beforeEach(() => {
    sandbox = new Sandbox()
  })
  afterEach(async () => {
    await sandbox.cleanUp()
  })

  // Spawning is Node's fork of itself: about 30 ms each on a loaded 2-core machine.
  it("500 scripts added at once all start, and all stop at shutdown", { timeout: 120_000 }, async () => {
    const daemon = sandbox.startDaemon()
    await waitForJournal(sandbox, (j) => j.some((e) => e.type === "acquired lock"))
    const names = Array.from({ length: 500 }, (_, i) => `svc${String(i).padStart(3, "0")}`)
    for (const name of names) sandbox.writeScript(name, "exec sleep 1000")
    await waitForJournal(sandbox, (j) => eventsOf(j, "process spawned").length >= 500, {
      timeout: 90_000,
      message: "500 spawns"
    })
    const journal = sandbox.readJournal()
    expect(new Set(eventsOf(journal, "process spawned").map((e) => e.data["file"])).size).toBe(500)
    expect(eventsOf(journal, "process spawned")).toHaveLength(500)
    await waitFor(() => sandbox.livePids().length === 500, { timeout: 10_000 })
    daemon.kill("SIGTERM")
    expect(await daemon.waitExit(20_000)).toBe(0)
    expect(eventsOf(sandbox.readJournal(), "process exited")).toHaveLength(500)
  })
})
