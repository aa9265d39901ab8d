/**
 * The scripts directory made unreadable under a running daemon (chmod 000),
 * then readable again. Root reads any directory, so the daemon runs as
 * `nobody` here (through setpriv).
 */
import * as fs from "node:fs"
import { afterEach, beforeEach, describe, expect, it } from "vitest"
import { delay, eventsOf, Sandbox, waitFor, waitForJournal, waitForSpawns } from "../e2e/harness.ts"

const NOBODY = 65534
const asRoot = process.getuid?.() === 0

describe("an unreadable scripts directory", () => {
  let sandbox: Sandbox
  beforeEach(() => {
    sandbox = new Sandbox()
  })
  afterEach(async () => {
    fs.chmodSync(sandbox.scripts, 0o755)
    await sandbox.cleanUp()
  })

  it.skipIf(!asRoot)("stops what it can no longer see, says so once, and resumes; the daemon stays", {
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
})
