/**
 * Services that misbehave: crash loops, files that cannot be spawned, a
 * service that ignores SIGTERM with children, a double-forking daemon, a
 * fork storm and a flood of output. Each case checks
 * the journal and (in `cleanUp`) that nothing is left running.
 */
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { afterEach, beforeEach, describe, expect, it } from "vitest"
import {
  delay,
  eventsOf,
  isAlive,
  type JournalLine,
  procState,
  Sandbox,
  spawnedPids,
  waitFor,
  waitForJournal,
  waitForSpawns
} from "../e2e/harness.ts"

/** The direct children of `pid` (every thread's), with their state letters. */
const childrenOf = (pid: number): Array<{ readonly pid: number; readonly state: string }> => {
  const children = new Set<number>()
  try {
    for (const tid of fs.readdirSync(`/proc/${pid}/task`)) {
      const text = fs.readFileSync(`/proc/${pid}/task/${tid}/children`, "latin1").trim()
      for (const child of text.split(" ")) if (child !== "") children.add(Number(child))
    }
  } catch {
    // gone
  }
  return [...children].flatMap((child) => {
    const state = procState(child)?.state
    return state === undefined ? [] : [{ pid: child, state }]
  })
}

/** Waits until `count` pids are recorded as `who`; returns them. */
const recorded = (sandbox: Sandbox, who: string, count = 1) =>
  waitFor(() => {
    const pids = sandbox.recordedPids(who)
    return pids.length >= count ? pids : undefined
  }, { message: `${count} pid(s) recorded as ${who}` })

const exitCodes = (journal: ReadonlyArray<JournalLine>, file: string) =>
  eventsOf(journal, "process exited", file).map((event) => event.data["exit_code"])

describe("misbehaving services", () => {
  let sandbox: Sandbox
  beforeEach(() => {
    sandbox = new Sandbox()
  })
  afterEach(async () => {
    await sandbox.cleanUp()
  })

  it("a crash loop follows the delays (at once, then 5 s), each exit journaled", { timeout: 20_000 }, async () => {
    sandbox.writeScript("crash", "echo crashing >&2\nexit 3")
    const daemon = sandbox.startDaemon()
    await waitForJournal(sandbox, (j) => exitCodes(j, "crash").length === 2)
    // The 5 s delay runs: nothing in this window.
    await delay(1_500)
    const journal = sandbox.readJournal()
    expect(spawnedPids(journal, "crash")).toHaveLength(2)
    expect(exitCodes(journal, "crash")).toEqual([3, 3])
    daemon.kill("SIGTERM")
    expect(await daemon.waitExit()).toBe(0)
    expect(sandbox.readJournal().at(-1)?.type).toBe("monitor quit")
  })

  it("files that cannot be spawned are journaled and retried with the delays, not in a loop", {
    timeout: 20_000
  }, async () => {
    const write = (name: string, content: string | Buffer) => {
      const file = path.join(sandbox.scripts, name)
      fs.writeFileSync(file, content)
      fs.chmodSync(file, 0o755)
    }
    write("no-interpreter", "#!/nonexistent/sh\nexit 0\n")
    write("random-bytes", Buffer.from([0x00, 0x13, 0x37, 0xfe, 0xff, 0x10, 0x20]))
    // An ELF header for this machine over garbage: the kernel refuses it
    // with ENOEXEC, and execvp would then run it through /bin/sh.
    const elf = Buffer.alloc(64)
    Buffer.from([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1]).copy(elf)
    elf.writeUInt16LE(2, 16)
    elf.writeUInt16LE({ x64: 62, arm64: 183 }[process.arch as "x64" | "arm64"] ?? 62, 18)
    write("garbage-elf", elf)
    // Deletes itself: its restart finds no file (or its removal comes first).
    sandbox.writeScript("self-deleting", `rm -f "$0"\nexit 1`)
    const daemon = sandbox.startDaemon()
    const attempts = (journal: ReadonlyArray<JournalLine>, file: string) =>
      eventsOf(journal, "process spawn error", file).length + spawnedPids(journal, file).length
    const names = ["no-interpreter", "random-bytes", "garbage-elf", "self-deleting"]
    await waitForJournal(sandbox, (j) => names.every((name) => attempts(j, name) >= 1))
    await delay(1_500)
    const journal = sandbox.readJournal()
    for (const name of names) expect([name, attempts(journal, name) <= 2]).toEqual([name, true])
    const reasons = (file: string) => eventsOf(journal, "process spawn error", file).map((e) => String(e.data["reason"]))
    expect(reasons("no-interpreter")[0]).toContain("bad interpreter /nonexistent/sh")
    expect(reasons("random-bytes")[0]).toContain("ENOEXEC")
    expect(reasons("garbage-elf")[0]).toContain("ENOEXEC")
    expect(eventsOf(journal, "process list modified", "self-deleting").map((e) => e.data["op"])).toEqual([
      "add",
      "remove"
    ])
    daemon.kill("SIGTERM")
    expect(await daemon.waitExit()).toBe(0)
  })

  it("a service that ignores SIGTERM, with children that do too, is killed whole after the stop timeout", {
    timeout: 20_000
  }, async () => {
    const file = sandbox.writeScript(
      "stubborn",
      `trap '' TERM\nsleep 1000 &\necho "$! child" >> "$PIDS"\nsleep 1000 &\necho "$! child" >> "$PIDS"\nwait`
    )
    sandbox.startDaemon()
    await waitForSpawns(sandbox, "stubborn")
    const children = await recorded(sandbox, "child", 2)
    fs.rmSync(file)
    const journal = await waitForJournal(sandbox, (j) => eventsOf(j, "process exited", "stubborn").length === 1, {
      timeout: 10_000
    })
    expect(eventsOf(journal, "process exited", "stubborn")[0]?.data["signal"]).toBe("SIGKILL")
    await waitFor(() => children.every((pid) => !isAlive(pid)), { message: "children gone" })
  })

  it("a double-forking daemon is adopted, reaped when it ends, and killed at shutdown", { timeout: 20_000 }, async () => {
    sandbox.writeScript(
      "forker",
      [
        "export PIDS",
        `( setsid sh -c 'echo "$$ orphan" >> "$PIDS"; exec sleep 1000' & )`,
        `( setsid sh -c 'echo "$$ brief" >> "$PIDS"; exec sleep 0.3' & )`,
        "exec sleep 1000"
      ].join("\n")
    )
    const daemon = sandbox.startDaemon()
    await waitForSpawns(sandbox, "forker")
    const [orphan] = await recorded(sandbox, "orphan")
    const [brief] = await recorded(sandbox, "brief")
    await waitFor(() => procState(orphan!)?.ppid === daemon.pid, { message: "orphan adopted" })
    // The short-lived one is reaped, never left a zombie of the daemon.
    await waitFor(() => procState(brief!) === undefined, { message: "brief orphan reaped" })
    daemon.kill("SIGTERM")
    expect(await daemon.waitExit()).toBe(0)
    expect(isAlive(orphan!)).toBe(false)
  })

  it("after a kill -9 of the daemon, the next one terminates what its services double-forked, named in no journal line", {
    timeout: 20_000
  }, async () => {
    sandbox.writeScript(
      "forker",
      [
        "export PIDS",
        `( setsid sh -c 'trap "" TERM; echo "$$ orphan" >> "$PIDS"; while :; do sleep 1; done' & )`,
        "exec sleep 1000"
      ].join("\n")
    )
    // An unrelated process outside any service: never touched.
    const bystander = spawn("sleep", ["1000"], { detached: true, stdio: "ignore" })
    try {
      const first = sandbox.startDaemon()
      await waitForSpawns(sandbox, "forker")
      const [orphan] = await recorded(sandbox, "orphan")
      first.kill("SIGKILL")
      await first.waitExit()
      // The parent-death signal ended the service; its orphan ignores SIGTERM.
      expect(isAlive(orphan!)).toBe(true)
      const second = sandbox.startDaemon()
      await waitFor(() => !isAlive(orphan!), { timeout: 5_000, message: () => `the orphan of the crashed session is gone; stderr: ${second.stderr}` })
      // Journaled before the kill, written by the journal's writer in its own time.
      const said = (w: JournalLine) => String(w.data["error"]).includes(`of services of an earlier session (pid ${orphan}`)
      await waitForJournal(sandbox, (journal) => eventsOf(journal, "warning").some(said))
      expect(isAlive(bystander.pid!)).toBe(true)
      second.kill("SIGTERM")
      expect(await second.waitExit()).toBe(0)
    } finally {
      bystander.kill("SIGKILL")
    }
  })

  it("a service that forks 200 children and exits: every child reaped, every exit code kept", {
    timeout: 30_000
  }, async () => {
    sandbox.writeScript("storm", "for i in $(seq 200); do ( sleep 0.3 & ) ; done\nexit 7")
    const daemon = sandbox.startDaemon()
    await waitForJournal(sandbox, (j) => exitCodes(j, "storm").length === 2, { timeout: 15_000 })
    // Between the second run and the third (5 s later): no child left, no zombie.
    await waitFor(() => childrenOf(daemon.pid!).length === 0, {
      timeout: 4_000,
      message: () => `children of the daemon: ${JSON.stringify(childrenOf(daemon.pid!).slice(0, 10))}`
    })
    expect(exitCodes(sandbox.readJournal(), "storm")).toEqual([7, 7])
  })

  it("50 MB of output, fast, all reaches the log and the daemon stays responsive", { timeout: 30_000 }, async () => {
    sandbox.writeScript("flood", `head -c 50000000 /dev/zero | tr '\\\\0' x\ntouch "$PIDS.done"\nexec sleep 1000`)
    sandbox.writeScript("other", "exec sleep 1000")
    sandbox.startDaemon()
    await waitForSpawns(sandbox, "other")
    await waitFor(() => fs.existsSync(`${sandbox.pidsFile}.done`), { timeout: 20_000, message: "flood written" })
    // The log may be rotated: count every NAME.log* file.
    const logged = () =>
      fs.readdirSync(sandbox.logs).filter((name) => name.startsWith("flood.log"))
        .reduce((sum, name) => sum + fs.statSync(path.join(sandbox.logs, name)).size, 0)
    await waitFor(() => logged() >= 50_000_000, { timeout: 10_000, message: () => `logged ${logged()} bytes` })
    // Still responsive: a touch restarts the other service.
    fs.utimesSync(path.join(sandbox.scripts, "other"), new Date(), new Date(Date.now() + 10_000))
    await waitForSpawns(sandbox, "other", 2)
  })
})
