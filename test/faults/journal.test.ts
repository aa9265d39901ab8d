/**
 * The journal under faults: unwritable for a while (an immutable file, which
 * fails even for root), a bad line in the middle, and kept under its size
 * bound by the running daemon.
 */
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import { afterEach, beforeEach, describe, expect, it } from "vitest"
import { eventsOf, type JournalLine, Sandbox, waitFor, waitForJournal, waitForSpawns } from "../e2e/harness.ts"

const chattr = (flag: string, file: string) => spawnSync("chattr", [flag, file], { encoding: "utf8" }).status === 0

// chattr +i needs a file system that has the flag (not tmpfs) and the right to set it.
const immutableWorks = (() => {
  const dir = fs.mkdtempSync("/var/tmp/cronmon-chattr-")
  const probe = `${dir}/probe`
  fs.writeFileSync(probe, "")
  const works = chattr("+i", probe)
  chattr("-i", probe)
  fs.rmSync(dir, { recursive: true, force: true })
  return works
})()

describe("journal faults", () => {
  let sandbox: Sandbox
  beforeEach(() => {
    sandbox = new Sandbox({ base: "/var/tmp" })
  })
  afterEach(async () => {
    chattr("-i", sandbox.journal)
    await sandbox.cleanUp()
  })

  it.skipIf(!immutableWorks)(
    "an unwritable journal is said once on stderr; journaling resumes after, with what was lost",
    { timeout: 30_000 },
    async () => {
      sandbox.writeScript("a", "exec sleep 1000")
      const daemon = sandbox.startDaemon()
      await waitForSpawns(sandbox, "a")
      expect(chattr("+i", sandbox.journal)).toBe(true)
      // Events while it cannot be written: three services come and one goes.
      for (const name of ["b", "c", "d"]) sandbox.writeScript(name, "exec sleep 1000")
      await waitFor(() => sandbox.livePids().length === 4, { message: "b, c, d started" })
      fs.rmSync(`${sandbox.scripts}/d`)
      await waitFor(() => sandbox.livePids("d").length === 0, { message: "d stopped" })
      expect(daemon.stderr.match(/cannot write the journal/g)).toHaveLength(1)
      chattr("-i", sandbox.journal)
      sandbox.writeScript("e", "exec sleep 1000")
      const journal = await waitForJournal(sandbox, (j) => eventsOf(j, "process spawned", "e").length === 1)
      expect(daemon.stderr).toContain("is writable again")
      const warning = eventsOf(journal, "warning").find((e) => String(e.data["error"]).includes("events lost"))
      expect(warning?.data["error"]).toMatch(/could not be written: \d+ events lost/)
      // The spawns lost and still running are written once it can be, so a
      // killed daemon's successor would still find them. Appends are written
      // in order by a writer that may lag: d may still run in the journal's
      // order when a write first succeeds, and is then written with its exit.
      const spawned = eventsOf(journal, "process spawned").map((e) => e.data["file"])
      expect(spawned.filter((file) => file !== "d").sort()).toEqual(["a", "b", "c", "e"])
      daemon.kill("SIGTERM")
      expect(await daemon.waitExit()).toBe(0)
      const final = sandbox.readJournal()
      expect(final.at(-1)?.type).toBe("monitor quit")
      const lastOfD = final.findLastIndex((e) => e.type === "process spawned" && e.data["file"] === "d")
      if (lastOfD >= 0) expect(eventsOf(final.slice(lastOfD), "process exited", "d")).toHaveLength(1)
    }
  )

  it("a file that is not a journal is refused in one line, exit 1 (status and journal: 4), and left as it was", { timeout: 30_000 }, () => {
    sandbox.writeScript("a", "exec sleep 1000")
    const notes = `${sandbox.root}/notes.txt`
    const noise = `${sandbox.root}/noise`
    fs.copyFileSync(new URL("../../README.md", import.meta.url), notes)
    fs.writeFileSync(noise, Buffer.from(Array.from({ length: 3000 }, (_, i) => (i * 7919 + 13) % 256)))
    for (const file of [notes, noise]) {
      const before = fs.readFileSync(file)
      const result = sandbox.run(sandbox.daemonArgs().map((arg) => arg === sandbox.journal ? file : arg), { timeout: 8_000 })
      expect([result.status, result.stderr]).toEqual([
        1,
        `cronmon: cannot open the journal ${file}: not a cronmon journal (its first line is not a JSON event): left untouched\n`
      ])
      // The commands that read the journal: its state is unknown (4).
      for (const command of [["status"], ["status", "--json"], ["journal"], ["journal", "--json"], ["journal", "--follow"]]) {
        const read = sandbox.run([...command, "-j", file], { timeout: 8_000 })
        expect([command.join(" "), read.status, read.stdout, read.stderr]).toEqual([
          command.join(" "),
          4,
          "",
          `cronmon: the journal ${file} is not a cronmon journal (its first line is not a JSON event): left untouched\n`
        ])
      }
      expect(fs.readFileSync(file).equals(before)).toBe(true)
    }
    expect(sandbox.recordedPids()).toEqual([])
  })

  it("a journal that cannot be written at start is one line and exit 1, not an outage", { timeout: 30_000 }, () => {
    sandbox.writeScript("a", "exec sleep 1000")
    const args = sandbox.daemonArgs().map((arg) => arg === sandbox.journal ? "/proc/version" : arg)
    const result = sandbox.run(args, { timeout: 8_000 })
    expect(result.status).toBe(1)
    expect(result.stderr).toMatch(/^cronmon: cannot open the journal \/proc\/version: [^\n]+\n$/)
    expect(sandbox.recordedPids()).toEqual([])
  })

  it("a bad line in the middle of the journal is skipped with a warning, and what follows it is read", {
    timeout: 20_000
  }, async () => {
    const now = new Date().toISOString()
    const line = (type: string, data: object) => JSON.stringify({ time: now, type, data })
    // An unclean session whose spawn comes after a garbage line.
    fs.writeFileSync(
      sandbox.journal,
      [
        line("acquired lock", { journal_id: "file:x" }),
        "\u0000\u0000garbage {",
        line("process spawned", { file: "ghost", pid: 999_999 }),
        line("process spawned", { file: "ghost2", pid: 999_998 })
      ].join("\n") + "\n"
    )
    const daemon = sandbox.startDaemon()
    // Read as a tolerant reader does: the bad line skipped.
    const tolerant = () =>
      fs.readFileSync(sandbox.journal, "utf8").split("\n").flatMap((text): Array<JournalLine> => {
        try {
          return [JSON.parse(text) as JournalLine]
        } catch {
          return []
        }
      })
    const journal = await waitFor(() => {
      const lines = tolerant()
      return eventsOf(lines, "process exited").length === 2 ? lines : undefined
    })
    expect(eventsOf(journal, "warning").map((e) => e.data["error"])).toContain("1 unreadable lines skipped")
    expect(eventsOf(journal, "process exited").map((e) => e.data["file"]).sort()).toEqual(["ghost", "ghost2"])
    daemon.kill("SIGTERM")
    expect(await daemon.waitExit()).toBe(0)
    // The bad line stays where it was; it is not in the middle of anything new.
    expect(fs.readFileSync(sandbox.journal, "utf8")).toContain("garbage {")
  })

  it("the running daemon keeps its journal under --journal-max-size, dropping whole old sessions", {
    timeout: 30_000
  }, async () => {
    sandbox.writeScript("svc", "exec sleep 1000")
    // Three clean sessions, each bigger than a third of the bound.
    for (let i = 0; i < 3; i++) {
      const daemon = sandbox.startDaemon(sandbox.daemonArgs(["--journal-max-size", "4k"]))
      await waitForJournal(sandbox, (j) => eventsOf(j, "process spawned").length === i + 1)
      daemon.kill("SIGTERM")
      expect(await daemon.waitExit()).toBe(0)
    }
    const daemon = sandbox.startDaemon(sandbox.daemonArgs(["--journal-max-size", "4k"]))
    await waitForJournal(sandbox, (j) => eventsOf(j, "process spawned").length >= 1 && j.at(-1)?.type !== "monitor quit")
    // Restarts by touch until the journal would pass 4 KiB several times over.
    for (let i = 0; i < 25; i++) {
      fs.utimesSync(`${sandbox.scripts}/svc`, new Date(), new Date(Date.now() + i * 1000))
      await waitFor(() => sandbox.readJournal().filter((e) => e.type === "process spawned").length > 0)
      await new Promise((resolve) => setTimeout(resolve, 60))
    }
    daemon.kill("SIGTERM")
    expect(await daemon.waitExit()).toBe(0)
    const journal = sandbox.readJournal()
    expect(eventsOf(journal, "log truncated").length).toBeGreaterThan(0)
    expect(journal[0]?.type).toBe("acquired lock")
    expect(daemon.stderr).not.toContain("moved or removed")
    expect(fs.readdirSync(sandbox.root).filter((name) => name.includes("compacting"))).toEqual([])
  })
})
