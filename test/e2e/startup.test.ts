/**
 * Start-up: which entries of the scripts directory become services, the
 * directories and files the daemon creates, and a journal of the Go original.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { afterEach, beforeEach, describe, expect, it } from "vitest"
import {
  delay,
  eventsOf,
  isAlive,
  modeOf,
  readJournal,
  Sandbox,
  spawnedPids,
  waitFor,
  waitForJournal,
  waitForSpawns
} from "./harness.ts"

const LOOP = "exec sleep 1000"

describe("start-up", () => {
  let sandbox: Sandbox
  beforeEach(() => {
    sandbox = new Sandbox()
  })
  afterEach(async () => {
    await sandbox.cleanUp()
  })

  it("spawns exactly the executable regular files, nothing else", { timeout: 20_000 }, async () => {
    sandbox.writeScript("alpha", LOOP)
    sandbox.writeScript("beta", LOOP)
    sandbox.writeScript("notes", LOOP, 0o644) // no execute bit
    sandbox.writeScript(".hidden", LOOP) // dotfile
    sandbox.writeScript("alpha~", LOOP) // editor backup, executable
    sandbox.writeScript(".alpha.swp", LOOP)
    sandbox.writeScript("beta.swp", LOOP)
    fs.mkdirSync(path.join(sandbox.scripts, "subdir"), { mode: 0o755 })
    fs.writeFileSync(path.join(sandbox.scripts, "subdir", "inner"), sandbox.scriptText("inner", LOOP), { mode: 0o755 })

    sandbox.startDaemon()
    const alpha = await waitForSpawns(sandbox, "alpha")
    const beta = await waitForSpawns(sandbox, "beta")
    // Both services record their pid once they run.
    await waitFor(() => sandbox.recordedPids("alpha").length === 1 && sandbox.recordedPids("beta").length === 1, {
      message: "alpha and beta record their pids"
    })

    // The initial scan is over once both spawned; anything else would have
    // been spawned with them (a short grace for a straggler to show).
    await delay(300)
    const journal = sandbox.readJournal()
    expect(eventsOf(journal, "process list modified").map((e) => `${e.data["op"]} ${e.data["file"]}`)).toEqual([
      "add alpha",
      "add beta"
    ])
    const spawned = eventsOf(journal, "process spawned").map((event) => event.data["file"])
    expect(spawned.sort()).toEqual(["alpha", "beta"])
    expect(eventsOf(journal, "process spawn error")).toEqual([])
    expect(alpha).toEqual(sandbox.recordedPids("alpha"))
    expect(beta).toEqual(sandbox.recordedPids("beta"))
    expect(isAlive(alpha[0]!)).toBe(true)
    expect(isAlive(beta[0]!)).toBe(true)
    // No ignored file ran.
    expect(sandbox.recordedPids().length).toBe(2)
  })

  it("creates missing directories (0750) and the journal (0600)", { timeout: 20_000 }, async () => {
    const journal = path.join(sandbox.root, "state", "deep", "er", "journal.json")
    const scripts = path.join(sandbox.root, "conf", "nested", "scripts")
    const logs = path.join(sandbox.root, "var", "logs")
    const daemon = sandbox.startDaemon(["-j", journal, "-s", scripts, "--logs", logs, "--stop-timeout", "1s"])
    await waitFor(() => readJournal(journal).some((event) => event.type === "acquired lock"), {
      message: "acquired lock in the new journal"
    })

    expect(modeOf(journal)).toBe(0o600)
    for (const dir of ["state", "state/deep", "state/deep/er", "conf", "conf/nested", "conf/nested/scripts"]) {
      const full = path.join(sandbox.root, dir)
      expect(fs.statSync(full).isDirectory(), dir).toBe(true)
      expect(modeOf(full).toString(8), dir).toBe("750")
    }

    // The logs directory appears with the first output.
    fs.writeFileSync(path.join(scripts, "talker"), sandbox.scriptText("talker", `echo hello\n${LOOP}`), {
      mode: 0o755
    })
    await waitFor(() => fs.existsSync(path.join(logs, "talker.log")), { message: "talker.log" })
    expect(modeOf(logs).toString(8)).toBe("750")
    expect(modeOf(path.join(sandbox.root, "var")).toString(8)).toBe("750")

    daemon.kill("SIGTERM")
    expect(await daemon.waitExit()).toBe(0)
  })

  it("runs on a journal of the Go original and keeps its lines", { timeout: 20_000 }, async () => {
    const fixture = fs.readFileSync(new URL("../fixtures/go-original-journal.json", import.meta.url), "utf8")
    fs.writeFileSync(sandbox.journal, fixture, { mode: 0o600 })
    sandbox.writeScript("svc", LOOP)

    const daemon = sandbox.startDaemon()
    await waitForSpawns(sandbox, "svc")
    daemon.kill("SIGTERM")
    expect(await daemon.waitExit()).toBe(0)

    const text = fs.readFileSync(sandbox.journal, "utf8")
    expect(text.startsWith(fixture)).toBe(true)
    const added = readJournal(sandbox.journal).slice(fixture.trimEnd().split("\n").length)
    // The fixture ends with `monitor quit`: nothing to clean up, nothing to repair.
    expect(added.map((event) => event.type)).toEqual([
      "acquired lock",
      "process list modified",
      "process spawned",
      "process exited",
      "monitor quit"
    ])
    expect(spawnedPids(added, "svc")).toHaveLength(1)
    expect(daemon.stderr).not.toMatch(/warning|truncated/i)
  })

  it("runs the daemon with its Node flags, in the process it was started as", { timeout: 20_000 }, async () => {
    sandbox.writeScript("svc", LOOP)
    const daemon = sandbox.startDaemon()
    await waitForSpawns(sandbox, "svc")
    // The pid started (node dist/cronmon.js …) runs itself again with them.
    const argv = fs.readFileSync(`/proc/${daemon.pid}/cmdline`, "utf8").split("\0")
    expect(argv).toEqual(expect.arrayContaining(["--max-semi-space-size=1", "--lite-mode", "--expose-gc"]))
    daemon.kill("SIGTERM")
    expect(await daemon.waitExit()).toBe(0)
    expect(eventsOf(readJournal(sandbox.journal), "monitor quit")).toHaveLength(1)
  })
})
