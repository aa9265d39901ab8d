/**
 * Twenty cycles of `kill -9` of the daemon and a cron-style relaunch (some
 * of them two invocations at once, as overlapping cron ticks): after every cycle
 * exactly one daemon holds the lock, exactly one instance of each service
 * runs, and every journal line parses.
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest"
import { type Daemon, isAlive, type JournalLine, Sandbox, waitFor } from "../e2e/harness.ts"

const SERVICES = ["a", "b", "c"]
const CYCLES = 20

/** The lines of the session that `daemon` began (from its `acquired lock`). */
const sessionOf = (journal: ReadonlyArray<JournalLine>, daemon: Daemon): Array<JournalLine> => {
  const start = journal.findIndex((e) => e.type === "acquired lock" && e.data["pid"] === daemon.pid)
  return start < 0 ? [] : journal.slice(start)
}

describe("kill -9 and relaunch", () => {
  let sandbox: Sandbox
  beforeEach(() => {
    sandbox = new Sandbox()
  })
  afterEach(async () => {
    await sandbox.cleanUp()
  })

  it(`${CYCLES} cycles: one daemon, one instance of each service, a parseable journal`, { timeout: 120_000 }, async () => {
    for (const name of SERVICES) sandbox.writeScript(name, "exec sleep 1000")
    for (let cycle = 0; cycle < CYCLES; cycle++) {
      // Every fifth relaunch is two at once (overlapping cron ticks): one
      // wins the lock and starts every service; the other says so and exits 0.
      const launched = cycle % 5 === 0 ? [sandbox.startDaemon(), sandbox.startDaemon()] : [sandbox.startDaemon()]
      const winner = await waitFor(() =>
        launched.find((daemon) => {
          const session = sessionOf(sandbox.readJournal(), daemon) // throws on a line that does not parse
          return SERVICES.every((name) => session.some((e) => e.type === "process spawned" && e.data["file"] === name))
        }), { timeout: 15_000, message: `cycle ${cycle}: a daemon with every service started` })
      for (const loser of launched.filter((daemon) => daemon !== winner)) {
        expect(await loser.waitExit()).toBe(0)
        expect(loser.stderr).toContain("cronmon is already running")
      }
      await waitFor(() => SERVICES.every((name) => sandbox.livePids(name).length === 1), {
        message: () =>
          `cycle ${cycle}: one instance each; live: ${SERVICES.map((n) => `${n}=${sandbox.livePids(n).join(",")}`)}`
      })
      winner.kill("SIGKILL")
      await winner.waitExit()
    }
    // The last relaunch cleans up after the last kill, and quits cleanly.
    const last = sandbox.startDaemon()
    await waitFor(() => SERVICES.every((name) => sandbox.livePids(name).length === 1) && sessionOf(sandbox.readJournal(), last).length > 0)
    last.kill("SIGTERM")
    expect(await last.waitExit()).toBe(0)
    const journal = sandbox.readJournal()
    expect(journal.at(-1)?.type).toBe("monitor quit")
    expect(journal.filter((e) => e.type === "acquired lock")).toHaveLength(CYCLES + 1)
    expect(sandbox.recordedPids().filter(isAlive)).toEqual([])
  })
})
