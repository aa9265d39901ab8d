/**
 * Faults that root does not see, with the daemon run as `nobody` (through
 * setpriv): the scripts directory made unreadable under it (chmod 000) then
 * readable again, and a script it may execute but not read.
 */
import * as fs from "node:fs"
import { afterEach, beforeEach, describe, expect, it } from "vitest"
import { delay, eventsOf, Sandbox, waitFor, waitForJournal, waitForSpawns } from "../e2e/harness.ts"

const NOBODY = 65534
const asRoot = process.getuid?.() === 0

describe("as an unprivileged user", () => {
  let sandbox: Sandbox
  beforeEach(() => {
    sandbox = new Sandbox()
  })
  afterEach(async () => {
    fs.chmodSync(sandbox.scripts, 0o755)
    await sandbox.cleanUp()
  })

  it.skipIf(!asRoot)("an unreadable scripts directory: stops what it can no longer see, says so once, and resumes; the daemon stays", {
    timeout: 30_000
  }, async () => {
    sandbox.writeScript("svc", "exec sleep 1000")
    const daemon = sandbox.startDaemon(sandbox.daemonArgs(), { uid: NOBODY })
    const [first] = await waitForSpawns(sandbox, "svc")
    fs.chmodSync(sandbox.scripts, 0o000)
    await waitForJournal(sandbox, (j) => eventsOf(j, "process exited", "svc").length === 1, { message: "svc stopped" })
    // Nothing more while it stays unreadable: no warning every retry.
    await delay(2_500)
    const warnings = () =>
      eventsOf(sandbox.readJournal(), "warning").map((e) => String(e.data["error"])).filter((w) => w.includes(sandbox.scripts))
    expect(warnings()).toHaveLength(1)
    expect(warnings()[0]).toContain("cannot be read (EACCES)")
    expect(daemon.exited).toBe(false)
    fs.chmodSync(sandbox.scripts, 0o755)
    const pids = await waitForSpawns(sandbox, "svc", 2)
    expect(pids[1]).not.toBe(first)
    await waitFor(() => sandbox.livePids("svc").length === 1)
    expect(warnings().at(-1)).toContain("can be read again")
  })

  it.skipIf(!asRoot)("a script it may execute but not read fails as a run, retried with the delays", {
    timeout: 20_000
  }, async () => {
    const file = sandbox.writeScript("unreadable", "exec sleep 1000")
    sandbox.writeScript("fine", "exec sleep 1000")
    fs.chmodSync(file, 0o100)
    const daemon = sandbox.startDaemon(sandbox.daemonArgs(), { uid: NOBODY })
    await waitForSpawns(sandbox, "fine")
    const journal = await waitForJournal(sandbox, (j) => eventsOf(j, "process exited", "unreadable").length === 2)
    // sh cannot open it: exit 2, at once, then the 5 s delay.
    expect(eventsOf(journal, "process exited", "unreadable").map((e) => e.data["exit_code"])).toEqual([2, 2])
    await delay(1_000)
    expect(eventsOf(sandbox.readJournal(), "process spawned", "unreadable")).toHaveLength(2)
    expect(fs.readFileSync(`${sandbox.logs}/unreadable.log`, "utf8")).toContain("Permission denied")
    daemon.kill("SIGTERM")
    expect(await daemon.waitExit()).toBe(0)
  })
})
