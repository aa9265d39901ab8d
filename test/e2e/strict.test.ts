/**
 * Strict modes against the built CLI: a script or scripts directory that
 * others may write is not run, said once, and runs once fixed.
 */
import * as fs from "node:fs"
import { afterEach, beforeEach, describe, expect, it } from "vitest"
import { delay, eventsOf, Sandbox, spawnedPids, waitForJournal, waitForSpawns } from "./harness.ts"

const strictWarnings = (sandbox: Sandbox) =>
  eventsOf(sandbox.readJournal(), "warning").filter((event) => event.data["component"] === "strict modes")

describe("strict modes", () => {
  let sandbox: Sandbox
  beforeEach(() => {
    sandbox = new Sandbox()
  })
  afterEach(async () => {
    await sandbox.cleanUp()
  })

  it("a group-writable script is said once, never spawned, and starts on chmod go-w", { timeout: 20_000 }, async () => {
    const file = sandbox.writeScript("open", "exec sleep 1000", 0o775)
    sandbox.writeScript("fine", "exec sleep 1000")
    sandbox.startDaemon()
    await waitForSpawns(sandbox, "fine")
    await waitForJournal(sandbox, () => strictWarnings(sandbox).length === 1, { message: "one strict-modes warning" })
    // A window in which nothing must happen: no retry, no second line.
    await delay(1_500)
    const journal = sandbox.readJournal()
    expect(spawnedPids(journal, "open")).toEqual([])
    expect(eventsOf(journal, "process spawn error")).toEqual([])
    const [warning] = strictWarnings(sandbox)
    expect(warning?.data["error"]).toContain(`chmod go-w ${file}`)

    fs.chmodSync(file, 0o755)
    await waitForSpawns(sandbox, "open")
    expect(strictWarnings(sandbox)).toHaveLength(1)
  })

  it("a world-writable scripts directory runs nothing until chmod go-w", { timeout: 20_000 }, async () => {
    sandbox.writeScript("svc", "exec sleep 1000")
    fs.chmodSync(sandbox.scripts, 0o777)
    sandbox.startDaemon()
    await waitForJournal(sandbox, () => strictWarnings(sandbox).length === 1, { message: "one strict-modes warning" })
    expect(strictWarnings(sandbox)[0]?.data["error"]).toContain(`chmod go-w ${sandbox.scripts}`)
    fs.chmodSync(sandbox.scripts, 0o755)
    await waitForSpawns(sandbox, "svc")
    // Made writable again while it runs: it stops.
    fs.chmodSync(sandbox.scripts, 0o775)
    await waitForJournal(sandbox, (j) => eventsOf(j, "process exited", "svc").length === 1, { message: "svc stopped" })
    expect(strictWarnings(sandbox)).toHaveLength(2)
  })

  it("--no-strict-modes runs a group-writable script", { timeout: 20_000 }, async () => {
    sandbox.writeScript("open", "exec sleep 1000", 0o777)
    sandbox.startDaemon(sandbox.daemonArgs(["--no-strict-modes"]))
    await waitForSpawns(sandbox, "open")
    expect(strictWarnings(sandbox)).toEqual([])
  })
})
