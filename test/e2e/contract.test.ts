/**
 * More of the design contract: symlinks, a durable and a torn journal, what
 * a killed daemon leaves behind, and the process-tree duties on Linux
 * (parent-death signal, child subreaper).
 */
import { spawn, spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { afterEach, beforeEach, describe, expect, it } from "vitest"
import {
  CLI,
  eventsOf,
  isAlive,
  killQuietly,
  NODE,
  procState,
  Sandbox,
  spawnedPids,
  waitFor,
  waitForJournal,
  waitForSpawns
} from "./harness.ts"

/**
 * Why the process `pid` does not write `file` durably, or `undefined` when it
 * does: every descriptor it holds on `file` for writing is open `O_SYNC`
 * (a write returns once the line is on disk), as `/proc/PID/fdinfo` says.
 * The one place to change if the journal's writer makes its lines durable
 * another way (an fsync after each write, say).
 */
const whyNotWrittenDurably = (pid: number, file: string): string | undefined => {
  const { O_RDONLY, O_SYNC } = fs.constants
  const O_ACCMODE = 0o3 // the access mode bits (not in Node's constants)
  const writers = fs.readdirSync(`/proc/${pid}/fd`).flatMap((fd) => {
    try {
      if (fs.readlinkSync(`/proc/${pid}/fd/${fd}`) !== file) return []
      const flags = /^flags:\s+([0-7]+)$/m.exec(fs.readFileSync(`/proc/${pid}/fdinfo/${fd}`, "utf8"))?.[1]
      return [{ fd, flags: Number.parseInt(flags ?? "0", 8) }]
    } catch {
      return [] // closed meanwhile
    }
  }).filter(({ flags }) => (flags & O_ACCMODE) !== O_RDONLY)
  if (writers.length === 0) return `process ${pid} holds no descriptor on ${file} for writing`
  const unsynced = writers.filter(({ flags }) => (flags & O_SYNC) !== O_SYNC)
  return unsynced.length === 0
    ? undefined
    : unsynced.map(({ fd, flags }) => `fd ${fd} on ${file} is open without O_SYNC (flags 0${flags.toString(8)})`).join("; ")
}

describe("design contract", () => {
  let sandbox: Sandbox
  beforeEach(() => {
    sandbox = new Sandbox()
  })
  afterEach(async () => {
    await sandbox.cleanUp()
  })

  it("runs a symlink to an executable file as a service", { timeout: 20_000 }, async () => {
    const target = path.join(sandbox.root, "real-script")
    fs.writeFileSync(target, sandbox.scriptText("linked", "exec sleep 1000"), { mode: 0o755 })
    fs.symlinkSync(target, path.join(sandbox.scripts, "linked"))
    fs.symlinkSync(path.join(sandbox.root, "missing"), path.join(sandbox.scripts, "dangling"))
    sandbox.startDaemon()
    const [pid] = await waitForSpawns(sandbox, "linked")
    await waitFor(() => sandbox.recordedPids("linked").includes(pid!), { message: "linked runs" })
    expect(eventsOf(sandbox.readJournal(), "process spawned").map((e) => e.data["file"])).toEqual(["linked"])
  })

  it("writes the journal durably: each line is on disk once written (O_SYNC)", { timeout: 20_000 }, async () => {
    const daemon = sandbox.startDaemon()
    await waitForJournal(sandbox, (j) => eventsOf(j, "acquired lock").length === 1)
    expect(whyNotWrittenDurably(daemon.pid!, sandbox.journal)).toBeUndefined()
  })

  it("cuts a torn last journal line and says so", { timeout: 20_000 }, async () => {
    const whole = `{"time":"2026-11-23T19:19:42.784Z","type":"acquired lock","data":{"journal_id":"x"}}\n` +
      `{"time":"2026-11-23T19:19:43.000Z","type":"monitor quit","data":{}}\n`
    fs.writeFileSync(sandbox.journal, `${whole}{"time":"2026-11-23T19:2`, { mode: 0o600 })
    const daemon = sandbox.startDaemon()
    const journal = await waitForJournal(sandbox, (j) => eventsOf(j, "log truncated").length === 1, {
      message: "log truncated"
    })
    expect(journal.slice(0, 3).map((e) => e.type)).toEqual(["acquired lock", "monitor quit", "acquired lock"])
    expect(journal[3]!.type).toBe("log truncated")
    expect(typeof journal[3]!.data["reason"]).toBe("string")
    expect(fs.readFileSync(sandbox.journal, "utf8").startsWith(whole)).toBe(true)
    daemon.kill("SIGTERM")
    expect(await daemon.waitExit()).toBe(0)
  })

  it("terminates, at start, the services a killed daemon left running", { timeout: 20_000 }, async () => {
    sandbox.writeScript("svc", "exec sleep 1000")
    const killed = sandbox.startDaemon()
    const [old] = await waitForSpawns(sandbox, "svc")
    await waitFor(() => sandbox.recordedPids("svc").includes(old!), { message: "svc runs" })
    killed.kill("SIGKILL")
    await killed.waitExit()

    sandbox.startDaemon()
    const journal = await waitForJournal(sandbox, (j) => spawnedPids(j, "svc").length === 2, {
      message: "svc spawned by the second daemon"
    })
    await waitFor(() => !isAlive(old!), { message: `old svc ${old} gone` })
    const second = journal.findLastIndex((e) => e.type === "acquired lock")
    const session = journal.slice(second)
    const oldExit = session.findIndex((e) => e.type === "process exited" && e.data["pid"] === old)
    const newSpawn = session.findIndex((e) => e.type === "process spawned")
    expect(oldExit).toBeGreaterThan(0)
    expect(oldExit).toBeLessThan(newSpawn) // cleaned up before services start
  })

  // The parent-death signal ends only a service's main process: what it
  // started stays in its process group, which the next daemon must end
  // before it starts services (DESIGN.md: "Any of those process groups still
  // alive ... is terminated before services start").
  it("terminates, at start, what a SIGKILLed daemon's service left in its group", { timeout: 20_000 }, async () => {
    sandbox.writeScript("svc", `sleep 1000 &\necho "$! svc-child" >> "$PIDS"\nwait`)
    const killed = sandbox.startDaemon()
    const [leader] = await waitForSpawns(sandbox, "svc") // journaled before the kill
    const [child] = await waitFor(() => {
      const found = sandbox.recordedPids("svc-child")
      return found.length > 0 ? found : undefined
    }, { message: "child recorded" })
    killed.kill("SIGKILL")
    await killed.waitExit()
    await waitFor(() => !isAlive(leader!), { message: `svc ${leader} ended by its parent-death signal` })
    expect(isAlive(child!)).toBe(true) // left behind in the group

    sandbox.startDaemon()
    const journal = await waitForJournal(sandbox, (j) => spawnedPids(j, "svc").length === 2, {
      message: "svc spawned by the second daemon"
    })
    await waitFor(() => !isAlive(child!), { message: `child ${child} gone` })
    const session = journal.slice(journal.findLastIndex((e) => e.type === "acquired lock"))
    // Found by the service mark it inherited, not through the leader's group ID.
    const warned = session.findIndex((e) =>
      e.type === "warning" && /earlier session \(pid [\d, ]+\)/.test(String(e.data["error"])) &&
      String(e.data["error"]).includes(`${child}`)
    )
    expect(warned).toBeGreaterThan(0)
    expect(warned).toBeLessThan(session.findIndex((e) => e.type === "process spawned"))
  })

  // DESIGN.md: "Stopping a service means: SIGTERM to the group, wait up to
  // the stop timeout, then SIGKILL to the group". A leader that survives
  // SIGTERM keeps its group alive until the SIGKILL: a member must have had
  // its SIGTERM by then, not only at the clean-up after the leader is gone.
  for (const stop of ["its file is removed", "the daemon stops"] as const) {
    it(`every member of a service's group gets SIGTERM with the leader when ${stop}`, { timeout: 20_000 }, async () => {
      const stamps = path.join(sandbox.root, "stamps")
      // On SIGTERM the member notes how many journal lines were written then.
      const member = path.join(sandbox.root, "member")
      fs.writeFileSync(
        member,
        [
          "#!/bin/sh",
          `trap 'echo "member-term $(wc -l < '${sandbox.journal}')" >> '${stamps}'; exit 0' TERM`,
          `echo "$$ member" >> '${sandbox.pidsFile}'`,
          "while :; do sleep 0.05; done"
        ].join("\n"),
        { mode: 0o755 }
      )
      const file = sandbox.writeScript(
        "group",
        [
          `trap 'echo leader-term >> "${stamps}"' TERM`,
          `echo "$$ leader-trapped" >> "$PIDS"`,
          `'${member}' &`,
          "while :; do sleep 0.05; done"
        ].join("\n")
      )
      const daemon = sandbox.startDaemon() // --stop-timeout 1s
      const [leader] = await waitForSpawns(sandbox, "group")
      await waitFor(
        () => sandbox.recordedPids("leader-trapped").length === 1 && sandbox.recordedPids("member").length === 1,
        { message: "the leader's trap is set and the member runs" }
      )

      if (stop === "its file is removed") fs.rmSync(file)
      else daemon.kill("SIGTERM")
      const journal = await waitForJournal(sandbox, (j) => eventsOf(j, "process exited", "group").length === 1, {
        message: "the leader's exit"
      })
      const leaderKilled = journal.findIndex((e) => e.type === "process exited" && e.data["file"] === "group")
      expect(journal[leaderKilled]!.data).toMatchObject({ pid: leader, signal: "SIGKILL" })
      const said = await waitFor(() => {
        const lines = fs.existsSync(stamps) ? fs.readFileSync(stamps, "utf8").split("\n") : []
        return lines.includes("leader-term") && lines.some((line) => line.startsWith("member-term ")) ? lines : undefined
      }, { message: "both the leader and the member got SIGTERM" })
      const linesAtMemberTerm = Number(said.find((line) => line.startsWith("member-term "))!.split(" ")[1])
      // The member's SIGTERM came while the leader's SIGKILL exit was not journaled yet.
      expect(linesAtMemberTerm).toBeLessThanOrEqual(leaderKilled)
      await waitFor(() => sandbox.livePids().length === 0, { message: "the whole group gone" })
    })
  }

  // The lock is on the journal file, not its path: moving or removing the
  // file must not let the next cron run start a second daemon.
  it("keeps the lock when the journal is moved away or removed, carrying the running services over", { timeout: 20_000 }, async () => {
    sandbox.writeScript("web", "exec sleep 1000")
    const daemon = sandbox.startDaemon()
    const [pid] = await waitForSpawns(sandbox, "web")
    for (const move of [() => fs.renameSync(sandbox.journal, `${sandbox.journal}.old`), () => fs.rmSync(sandbox.journal)]) {
      move()
      const journal = await waitForJournal(sandbox, (j) => spawnedPids(j, "web").length === 1, {
        message: "a new journal that carries web over"
      })
      // The services known come along too, so that `status` still lists them.
      expect(journal.map((e) => e.type)).toEqual(["acquired lock", "warning", "process list modified", "process spawned"])
      expect(spawnedPids(journal, "web")).toEqual([pid])
      const second = sandbox.run(sandbox.daemonArgs())
      expect(second.status).toBe(0)
      expect(second.stderr).toBe(`cronmon is already running (pid ${daemon.pid}, scripts ${sandbox.scripts})\n`)
    }
    expect(sandbox.livePids("web")).toEqual([pid])
    daemon.kill("SIGTERM")
    expect(await daemon.waitExit()).toBe(0)
    expect(sandbox.readJournal().at(-1)!.type).toBe("monitor quit")
  })

  // A journal line names pid 0 (or 1, or the daemon itself): kill(0) would
  // signal the daemon's own process group. Never a target. The daemon runs
  // in a group of its own here, so that a regression kills only it.
  it("never signals its own group, init or everyone, whatever the journal says", { timeout: 20_000 }, async () => {
    sandbox.writeScript("svc", "exec sleep 1000")
    const now = new Date().toISOString()
    fs.writeFileSync(
      sandbox.journal,
      [
        `{"time":"${now}","type":"acquired lock","data":{"journal_id":"x"}}`,
        `{"time":"${now}","type":"process spawned","data":{"file":"zero","pid":0,"pgid":0,"start_time":"0"}}`,
        `{"time":"${now}","type":"process spawned","data":{"file":"init","pid":1,"pgid":1}}`,
        ""
      ].join("\n")
    )
    const daemon = spawn(NODE, [CLI, ...sandbox.daemonArgs()], { detached: true, stdio: "ignore", env: sandbox.env() })
    try {
      await waitForSpawns(sandbox, "svc")
      expect(daemon.exitCode).toBe(null)
      const exits = eventsOf(sandbox.readJournal(), "process exited").map((e) => [e.data["file"], e.data["error"]])
      expect(exits).toEqual([["zero", "exit not seen: cronmon was not running"], ["init", "exit not seen: cronmon was not running"]])
    } finally {
      if (daemon.exitCode === null && daemon.signalCode === null) {
        const exited = new Promise((resolve) => daemon.once("exit", resolve))
        daemon.kill("SIGTERM")
        await exited
      }
    }
  })

  // DESIGN.md: "executed directly (never through a shell)", and ENOEXEC is a
  // spawn failure: execvp would run a file without #! through /bin/sh.
  it("refuses a file that is neither a #! script nor a binary, and never runs it", { timeout: 20_000 }, async () => {
    const file = path.join(sandbox.scripts, "plain")
    fs.writeFileSync(file, `echo ran >> '${sandbox.root}/ran'\n`, { mode: 0o755 })
    sandbox.startDaemon()
    const journal = await waitForJournal(sandbox, (j) => eventsOf(j, "process spawn error", "plain").length >= 2, {
      message: "spawn errors for plain"
    })
    expect(String(eventsOf(journal, "process spawn error", "plain")[0]!.data["reason"])).toContain("ENOEXEC")
    expect(spawnedPids(journal, "plain")).toEqual([])
    expect(fs.existsSync(path.join(sandbox.root, "ran"))).toBe(false)
  })

  // DESIGN.md: "the service is started with a parent-death signal (SIGTERM),
  // so it dies when the daemon dies ungracefully".
  it("services die with a daemon that is SIGKILLed (parent-death signal)", { timeout: 20_000 }, async () => {
    sandbox.writeScript("svc", "exec sleep 1000")
    const daemon = sandbox.startDaemon()
    const [pid] = await waitForSpawns(sandbox, "svc")
    await waitFor(() => sandbox.recordedPids("svc").includes(pid!), { message: "svc runs" })
    daemon.kill("SIGKILL")
    await daemon.waitExit()
    try {
      await waitFor(() => !isAlive(pid!), { timeout: 3_000, message: `svc ${pid} dies with the daemon` })
    } finally {
      killQuietly(-pid!) // its group, when the test fails
    }
  })

  // DESIGN.md: "The daemon is a child subreaper (PR_SET_CHILD_SUBREAPER):
  // processes that a service orphans are re-parented to the daemon".
  it("adopts what a service orphans (child subreaper)", { timeout: 20_000 }, async () => {
    sandbox.writeScript("svc", `( setsid sleep 1000 & echo "$! svc-orphan" >> "$PIDS" )\nexec sleep 1000`)
    const daemon = sandbox.startDaemon()
    const [orphan] = await waitFor(() => {
      const found = sandbox.recordedPids("svc-orphan")
      return found.length > 0 ? found : undefined
    }, { message: "orphan recorded" })
    try {
      await waitFor(() => procState(orphan!)?.ppid === daemon.pid, {
        timeout: 3_000,
        message: () => `orphan ${orphan} has ppid ${procState(orphan!)?.ppid}, not the daemon ${daemon.pid}`
      })
    } finally {
      killQuietly(orphan!)
    }
  })

  // DESIGN.md: orphans are "reaped when they exit (never left as zombies)",
  // and the reaper must never steal the exit status of the daemon's own
  // children: orphans die while the service itself keeps exiting with 7.
  it("reaps orphans as they exit, and every service exit keeps its own code", { timeout: 30_000 }, async () => {
    sandbox.writeScript("svc", `( setsid sh -c 'sleep 0.05' & ) ; ( sleep 0.02 & ) ; sleep 0.05 ; exit 7`)
    const daemon = sandbox.startDaemon()
    // backoff: exits at once, 0 s, then 5 s: three runs in about 5 s
    const journal = await waitForJournal(sandbox, (j) => eventsOf(j, "process exited", "svc").length >= 3, {
      timeout: 15_000,
      message: "three exits of svc"
    })
    expect(eventsOf(journal, "process exited", "svc").map((e) => e.data["exit_code"])).toEqual([7, 7, 7])
    await waitFor(() => {
      // ps exits 1 when the daemon has no children at all
      const zombies = spawnSync("ps", ["-o", "pid=,stat=", "--ppid", String(daemon.pid)], { encoding: "utf8" })
        .stdout.split("\n").filter((line) => /\sZ/.test(line))
      return zombies.length === 0
    }, { timeout: 2_000, message: "zombie children of the daemon" })
  })

  // DESIGN.md: adopted orphans are "terminated (SIGTERM, then SIGKILL) when
  // it shuts down".
  it("terminates adopted orphans when it shuts down", { timeout: 20_000 }, async () => {
    sandbox.writeScript("svc", `( setsid sleep 1000 & echo "$! svc-orphan" >> "$PIDS" )\nexec sleep 1000`)
    const daemon = sandbox.startDaemon()
    const [orphan] = await waitFor(() => {
      const found = sandbox.recordedPids("svc-orphan")
      return found.length > 0 ? found : undefined
    }, { message: "orphan recorded" })
    daemon.kill("SIGTERM")
    expect(await daemon.waitExit()).toBe(0)
    try {
      await waitFor(() => !isAlive(orphan!), { timeout: 2_000, message: `orphan ${orphan} still alive` })
    } finally {
      killQuietly(orphan!)
    }
  })
})
