/**
 * Operating a live daemon: `status`, `journal` and `logs` against real
 * services, including a rotation while a service writes and `logs --follow`
 * through it.
 */
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { afterEach, beforeEach, describe, expect, it } from "vitest"
import { CLI, NODE, Sandbox, waitFor, waitForJournal, waitForSpawns } from "./harness.ts"

/** A CLI command left running (`--follow`): its output so far; killed by `stop`. */
const follow = (sandbox: Sandbox, args: ReadonlyArray<string>) => {
  const child = spawn(NODE, [CLI, ...args], { env: sandbox.env(), stdio: ["ignore", "pipe", "pipe"] })
  let stdout = ""
  child.stdout.setEncoding("utf8").on("data", (chunk: string) => void (stdout += chunk))
  const closed = new Promise<void>((resolve) => child.once("close", () => resolve()))
  return {
    output: () => stdout,
    stop: async () => {
      child.kill("SIGTERM")
      await closed
    }
  }
}

describe("operating a live daemon", () => {
  let sandbox: Sandbox
  beforeEach(() => {
    sandbox = new Sandbox()
  })
  afterEach(async () => {
    await sandbox.cleanUp()
  })

  it("status says what runs, and exits 3 once the daemon stopped", { timeout: 30_000 }, async () => {
    sandbox.writeScript("web", "echo 'web up'\nexec sleep 1000")
    sandbox.writeScript("crasher", "exit 7")
    const daemon = sandbox.startDaemon()
    const [webPid] = await waitForSpawns(sandbox, "web")
    await waitForJournal(sandbox, (journal) => journal.some((e) => e.type === "process exited" && e.data["file"] === "crasher"))

    const text = sandbox.run(["status", "-j", sandbox.journal])
    expect(text.status).toBe(0)
    expect(text.stdout).toContain(`cronmon is running: pid ${daemon.pid}`)
    expect(text.stdout).toMatch(new RegExp(`^web\\trunning\\t${webPid}\\t`, "m"))
    expect(text.stdout).toMatch(/^crasher\t(waiting|running)/m)
    expect(text.stdout).not.toContain("\u001b[") // no colour when not on a terminal

    const json = sandbox.run(["status", "-j", sandbox.journal, "--json"])
    expect(json.status).toBe(0)
    const report = JSON.parse(json.stdout)
    expect(report.daemon).toMatchObject({ state: "running", pid: daemon.pid })
    expect(report.services.find((s: { name: string }) => s.name === "web")).toMatchObject({ state: "running", pid: webPid })
    expect(report.services.find((s: { name: string }) => s.name === "crasher").last_exit).toMatchObject({ code: 7 })

    const journal = sandbox.run(["journal", "-j", sandbox.journal, "--service", "web"])
    expect(journal.status).toBe(0)
    expect(journal.stdout).toContain(`web: started, pid ${webPid}`)
    expect(journal.stdout).not.toContain("crasher")

    daemon.kill("SIGTERM")
    await daemon.waitExit()
    const after = sandbox.run(["status", "-j", sandbox.journal])
    expect(after.status).toBe(3)
    expect(after.stdout).toContain("cronmon is not running: stopped at")
    expect(after.stdout).toMatch(/^web\tstopped\t-/m)
  })

  it("status decides by the lock: a journal truncated under a running daemon is running", { timeout: 30_000 }, async () => {
    sandbox.writeScript("web", "exec sleep 1000")
    const daemon = sandbox.startDaemon()
    await waitForSpawns(sandbox, "web")
    fs.truncateSync(sandbox.journal, 0)
    // The daemon answers from what it knows, whatever the journal holds.
    const live = sandbox.run(["status", "-j", sandbox.journal])
    expect(live.status).toBe(0)
    expect(live.stdout).toMatch(new RegExp(`^cronmon is running: pid ${daemon.pid},`))
    // With no answer (its socket gone), the journal and the lock decide.
    fs.unlinkSync(`${sandbox.journal}.sock`)
    const truncated = sandbox.run(["status", "-j", sandbox.journal])
    expect(truncated.stderr).toBe("")
    expect(truncated.status).toBe(0)
    expect(truncated.stdout).toMatch(/^cronmon is running: it holds the journal's lock/)
    daemon.kill("SIGTERM")
    await daemon.waitExit()
    const stopped = sandbox.run(["status", "-j", sandbox.journal])
    expect(stopped.status).toBe(3)
    // A journal that cannot be read: the state is unknown (exit 4), said in one line.
    const unreadable = sandbox.run(["status", "-j", sandbox.root])
    expect(unreadable.status).toBe(4)
    expect(unreadable.stderr).toBe(`cronmon: the journal ${sandbox.root} is a directory\n`)
    const missing = sandbox.run(["status", "-j", path.join(sandbox.root, "none.json")])
    expect(missing.status).toBe(3)
    expect(missing.stdout).toContain(`no journal at ${path.join(sandbox.root, "none.json")} (cronmon has not run with it)`)
  })

  it("logs reads across rotations, and --follow loses no line through them", { timeout: 30_000 }, async () => {
    const lines = 20_000
    const go = path.join(sandbox.root, "go")
    sandbox.writeScript(
      "writer",
      `while [ ! -e '${go}' ]; do sleep 0.05; done\n` +
        `seq 1 ${lines} | sed 's/$/ the quick brown fox/'\necho done\nexec sleep 1000`
    )
    sandbox.startDaemon(sandbox.daemonArgs(["--log-max-size", "32k", "--log-keep", "100"]))
    await waitForSpawns(sandbox, "writer")
    const log = path.join(sandbox.logs, "writer.log")
    const follower = follow(sandbox, ["logs", "writer", "--logs", sandbox.logs, "--follow", "-n", "0"])
    try {
      await waitFor(() => fs.existsSync(log), { message: "the empty log opened" }).catch(() => undefined)
      fs.writeFileSync(go, "")
      const expected = Array.from({ length: lines }, (_, i) => `${i + 1} the quick brown fox\n`).join("") + "done\n"
      await waitFor(() => follower.output().endsWith("done\n"), { timeout: 15_000, message: "--follow saw the last line" })
      expect(follower.output() === expected).toBe(true)
      expect(fs.readdirSync(sandbox.logs).filter((name) => name.startsWith("writer.log.")).length).toBeGreaterThan(5)

      const last = sandbox.run(["logs", "writer", "--logs", sandbox.logs, "-n", "3"])
      expect(last.status).toBe(0)
      expect(last.stdout).toBe(`${lines - 1} the quick brown fox\n${lines} the quick brown fox\ndone\n`)
      // Back through every rotated file.
      const all = sandbox.run(["logs", "writer", "--logs", sandbox.logs, "-n", String(lines + 1)])
      expect(all.stdout === expected).toBe(true)
    } finally {
      await follower.stop()
    }
    const missing = sandbox.run(["logs", "nobody", "--logs", sandbox.logs])
    expect(missing.status).toBe(1)
    expect(missing.stderr).toBe(`cronmon: no log for nobody in ${sandbox.logs}\n`)
  })

  it("journal --follow prints new events and survives the journal being truncated", { timeout: 20_000 }, async () => {
    const line = (time: string, type: string, data: object) => JSON.stringify({ time, type, data }) + "\n"
    fs.writeFileSync(sandbox.journal, line("2026-11-23T20:00:00Z", "acquired lock", { journal_id: "x", pid: 1 }))
    const follower = follow(sandbox, ["journal", "-j", sandbox.journal, "--follow"])
    try {
      await waitFor(() => follower.output().includes("cronmon started, pid 1"), { message: "the first event" })
      fs.appendFileSync(sandbox.journal, line("2026-11-23T20:00:01Z", "process spawned", { file: "web", pid: 42 }))
      await waitFor(() => follower.output().includes("web: started, pid 42"), { message: "an appended event" })
      fs.writeFileSync(sandbox.journal, line("2026-11-23T20:05:00Z", "acquired lock", { journal_id: "x", pid: 2 }))
      await waitFor(() => follower.output().includes("cronmon started, pid 2"), { message: "after the truncation" })
      fs.appendFileSync(sandbox.journal, line("2026-11-23T20:05:01Z", "monitor quit", {}))
      await waitFor(() => follower.output().includes("cronmon stopped"), { message: "the event after" })
      expect(follower.output()).toBe([
        "2026-11-23T20:00:00.000Z cronmon started, pid 1 (x)",
        "2026-11-23T20:00:01.000Z web: started, pid 42",
        "2026-11-23T20:05:00.000Z cronmon started, pid 2 (x)",
        "2026-11-23T20:05:01.000Z cronmon stopped",
        ""
      ].join("\n"))
    } finally {
      await follower.stop()
    }
  })
})
