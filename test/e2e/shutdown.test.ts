/**
 * The daemon's life: one instance per journal, and a graceful stop on
 * SIGTERM or SIGINT that stops every service (in parallel, bounded by the
 * stop timeout) and ends the journal with `monitor quit`.
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest"
import { eventsOf, isAlive, Sandbox, waitFor, waitForJournal, waitForSpawns } from "./harness.ts"

/** A script whose shell ignores SIGTERM (its `sleep` children do not). It records `NAME-trapped` once the trap is set. */
const STUBBORN = (name: string) => `trap '' TERM\necho "$$ ${name}-trapped" >> "$PIDS"\nwhile :; do sleep 0.1; done`

describe("daemon life", () => {
  let sandbox: Sandbox
  beforeEach(() => {
    sandbox = new Sandbox()
  })
  afterEach(async () => {
    await sandbox.cleanUp()
  })

  it("kills a service that ignores SIGTERM after the stop timeout", { timeout: 20_000 }, async () => {
    sandbox.writeScript("stubborn", STUBBORN("stubborn"))
    const daemon = sandbox.startDaemon() // --stop-timeout 1s
    const [pid] = await waitForSpawns(sandbox, "stubborn")
    await waitFor(() => sandbox.recordedPids("stubborn-trapped").length === 1, { message: "the trap is set" })

    const sent = Date.now()
    daemon.kill("SIGTERM")
    expect(await daemon.waitExit(10_000)).toBe(0)
    const took = daemon.exitedAt! - sent
    expect(took).toBeGreaterThanOrEqual(800)
    expect(took).toBeLessThan(4_000)

    const journal = sandbox.readJournal()
    const exited = eventsOf(journal, "process exited", "stubborn")
    expect(exited).toHaveLength(1)
    expect(exited[0]!.data).toMatchObject({ pid, exit_code: -1, signal: "SIGKILL" })
    expect(journal.at(-1)!.type).toBe("monitor quit")
    expect(isAlive(pid!)).toBe(false)
  })

  // A second signal while the services stop must not kill the daemon half-way
  // (Node's default action for SIGHUP, once no handler is left).
  it("stops cleanly when SIGHUP comes twice during the stop", { timeout: 20_000 }, async () => {
    sandbox.writeScript("stubborn", STUBBORN("stubborn"))
    const daemon = sandbox.startDaemon()
    const [pid] = await waitForSpawns(sandbox, "stubborn")
    await waitFor(() => sandbox.recordedPids("stubborn-trapped").length === 1, { message: "the trap is set" })
    daemon.kill("SIGHUP")
    await new Promise((resolve) => setTimeout(resolve, 300)) // inside the 1 s stop timeout
    daemon.kill("SIGHUP")
    expect(await daemon.waitExit(10_000)).toBe(0)
    const journal = sandbox.readJournal()
    expect(eventsOf(journal, "process exited", "stubborn")[0]!.data).toMatchObject({ pid, signal: "SIGKILL" })
    expect(journal.at(-1)!.type).toBe("monitor quit")
  })

  it("lets only one daemon run per journal", { timeout: 20_000 }, async () => {
    sandbox.writeScript("svc", "exec sleep 1000")
    const first = sandbox.startDaemon()
    await waitForSpawns(sandbox, "svc")

    const started = Date.now()
    const second = sandbox.run(sandbox.daemonArgs())
    expect(Date.now() - started).toBeLessThan(5_000)
    expect(second.status).toBe(0)
    expect(second.stderr).toBe("cronmon is already running\n")
    expect(second.stdout).toBe("")

    // The first one is undisturbed, and the second wrote nothing.
    expect(first.exited).toBe(false)
    const journal = sandbox.readJournal()
    expect(eventsOf(journal, "acquired lock")).toHaveLength(1)
    expect(eventsOf(journal, "process spawned")).toHaveLength(1)
  })

  for (const signal of ["SIGTERM", "SIGINT"] as const) {
    it(`stops every service and quits on ${signal}`, { timeout: 20_000 }, async () => {
      sandbox.writeScript("plain", "exec sleep 1000")
      sandbox.writeScript("looper", "while :; do sleep 1; done")
      sandbox.writeScript("parent", `sleep 1000 &\necho "$! parent-child" >> "$PIDS"\nwait`)
      const daemon = sandbox.startDaemon()
      for (const name of ["plain", "looper", "parent"]) await waitForSpawns(sandbox, name)
      await waitFor(() => sandbox.recordedPids().length === 4, { message: "3 services and a child record pids" })
      const pids = sandbox.recordedPids()
      expect(pids.every(isAlive)).toBe(true)

      daemon.kill(signal)
      expect(await daemon.waitExit(10_000)).toBe(0)

      const journal = sandbox.readJournal()
      expect(journal.at(-1)).toMatchObject({ type: "monitor quit", data: {} })
      expect(eventsOf(journal, "monitor quit")).toHaveLength(1)
      const exited = eventsOf(journal, "process exited").map((event) => event.data["file"])
      expect(exited.sort()).toEqual(["looper", "parent", "plain"])
      expect(pids.filter(isAlive)).toEqual([])
      expect(daemon.stderr).toMatch(/stopped/)
    })
  }

  it("stops services in parallel", { timeout: 20_000 }, async () => {
    const names = ["s1", "s2", "s3", "s4", "s5"]
    for (const name of names) sandbox.writeScript(name, STUBBORN(name))
    const daemon = sandbox.startDaemon() // --stop-timeout 1s
    await waitFor(() => names.every((name) => sandbox.recordedPids(`${name}-trapped`).length === 1), {
      message: "five traps set"
    })

    const sent = Date.now()
    daemon.kill("SIGTERM")
    expect(await daemon.waitExit(10_000)).toBe(0)
    // In series it would take 5 s at least.
    expect(daemon.exitedAt! - sent).toBeLessThan(3_500)

    const journal = await waitForJournal(sandbox, (j) => j.at(-1)?.type === "monitor quit")
    const exited = eventsOf(journal, "process exited")
    expect(exited.map((event) => event.data["file"]).sort()).toEqual(names)
    for (const event of exited) expect(event.data).toMatchObject({ exit_code: -1, signal: "SIGKILL" })
    expect(sandbox.livePids()).toEqual([])
  })
})
