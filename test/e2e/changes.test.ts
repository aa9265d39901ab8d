/**
 * Changes of the scripts directory while the daemon runs: add by rename,
 * edits (by rename and in place), `chmod ±x`, `rm`.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { afterEach, beforeEach, describe, expect, it } from "vitest"
import {
  delay,
  eventsOf,
  isAlive,
  type JournalLine,
  Sandbox,
  spawnedPids,
  waitFor,
  waitForJournal,
  waitForSpawns
} from "./harness.ts"

const listModified = (journal: ReadonlyArray<JournalLine>, file: string) =>
  eventsOf(journal, "process list modified", file).map((event) => event.data["op"])

/**
 * At no point of the journal were two processes of `file` running: every
 * spawn after the first follows the exit of the one before.
 */
const neverOverlaps = (journal: ReadonlyArray<JournalLine>, file: string): boolean => {
  let running = 0
  for (const event of journal) {
    if (event.data["file"] !== file) continue
    if (event.type === "process spawned") running += 1
    if (event.type === "process exited") running -= 1
    if (running > 1) return false
  }
  return true
}

describe("changes of the scripts directory", () => {
  let sandbox: Sandbox
  beforeEach(() => {
    sandbox = new Sandbox()
  })
  afterEach(async () => {
    await sandbox.cleanUp()
  })

  it("starts a script moved into the directory", { timeout: 20_000 }, async () => {
    sandbox.startDaemon()
    await waitForJournal(sandbox, (j) => eventsOf(j, "acquired lock").length === 1)

    // Written and made executable outside, on the same file system, then renamed in.
    const staging = path.join(sandbox.root, "staging-newsvc")
    fs.writeFileSync(staging, sandbox.scriptText("newsvc", "exec sleep 1000"), { mode: 0o644 })
    fs.chmodSync(staging, 0o755)
    fs.renameSync(staging, path.join(sandbox.scripts, "newsvc"))

    const [pid] = await waitForSpawns(sandbox, "newsvc")
    await waitFor(() => sandbox.recordedPids("newsvc").includes(pid!), { message: "newsvc records its pid" })
    expect(isAlive(pid!)).toBe(true)
    expect(listModified(sandbox.readJournal(), "newsvc")).toEqual(["add"])
  })

  it("restarts an edited script, one instance at a time", { timeout: 30_000 }, async () => {
    // The lock directory is taken by each instance and given back on SIGTERM:
    // an instance that finds it taken records an overlap.
    const lock = path.join(sandbox.root, "svc.lock")
    const overlap = path.join(sandbox.root, "overlap")
    const body = (version: string) =>
      [
        // The trap first: a SIGTERM before it would leave the lock behind.
        `trap 'rmdir "${lock}"; exit 0' TERM`,
        `mkdir '${lock}' 2>/dev/null || echo "$$" >> '${overlap}'`,
        `echo ${version}`,
        "while :; do sleep 0.1; done"
      ].join("\n")
    const file = sandbox.writeScript("svc", body("v1"))
    sandbox.startDaemon()
    const [first] = await waitForSpawns(sandbox, "svc", 1)

    // 1. A new file renamed over the old one (a new inode, like `sed -i` or Vim).
    const staging = path.join(sandbox.root, "svc.new")
    fs.writeFileSync(staging, sandbox.scriptText("svc", body("version-two")), { mode: 0o755 })
    fs.chmodSync(staging, 0o755)
    fs.renameSync(staging, file)
    const afterRename = await waitForSpawns(sandbox, "svc", 2)
    expect(afterRename[1]).not.toBe(first)
    await waitFor(() => !isAlive(first!), { message: `old pid ${first} gone` })
    // Recorded pid: sh has parsed the whole script (a brace group), so an
    // in-place edit now cannot change what this instance runs.
    await waitFor(() => sandbox.recordedPids("svc").includes(afterRename[1]!), { message: "second instance runs" })
    // Its trap and lock in place (its version is echoed after them): under
    // load, a stop between the pid's record and the trap left a stale lock.
    await waitFor(() => fs.readFileSync(path.join(sandbox.logs, "svc.log"), "utf8").includes("version-two"), {
      message: "second instance past its trap"
    })

    // 2. Rewritten in place (same inode, like nano or `>`).
    fs.writeFileSync(file, sandbox.scriptText("svc", body("the third version")))
    const afterWrite = await waitForSpawns(sandbox, "svc", 3)
    const second = afterRename[1]!
    const third = afterWrite[2]!
    await waitFor(() => !isAlive(second), { message: `old pid ${second} gone` })

    await waitFor(() => sandbox.recordedPids("svc").includes(third), { message: "third instance runs" })
    expect(isAlive(third)).toBe(true)
    expect(sandbox.livePids("svc")).toEqual([third])
    const journal = sandbox.readJournal()
    expect(spawnedPids(journal, "svc")).toHaveLength(3) // one restart per save
    expect(listModified(journal, "svc")).toEqual(["add", "update", "update"])
    expect(neverOverlaps(journal, "svc")).toBe(true)
    expect(fs.existsSync(overlap)).toBe(false)
    // The exits of the old instances are journaled.
    const exited = eventsOf(journal, "process exited", "svc").map((event) => event.data["pid"])
    expect(exited).toEqual([first, second])
  })

  it("stops a service on chmod -x without restarting it, starts it on chmod +x", { timeout: 20_000 }, async () => {
    const file = sandbox.writeScript("svc", "exec sleep 1000")
    sandbox.startDaemon()
    const [pid] = await waitForSpawns(sandbox, "svc")

    fs.chmodSync(file, 0o644)
    const journal = await waitForJournal(
      sandbox,
      (j) => eventsOf(j, "process exited", "svc").some((event) => event.data["pid"] === pid),
      { message: `process exited for ${pid}` }
    )
    expect(listModified(journal, "svc")).toEqual(["add", "remove"])
    // Said as what it is: the file is still there.
    expect(eventsOf(journal, "process list modified", "svc")[1]!.data).toEqual({ op: "remove", file: "svc", reason: "not executable" })
    await waitFor(() => !isAlive(pid!), { message: `pid ${pid} gone` })

    // No restart: the service is stopped, not crashed.
    await delay(1_000)
    expect(spawnedPids(sandbox.readJournal(), "svc")).toEqual([pid])
    expect(sandbox.livePids("svc")).toEqual([])

    fs.chmodSync(file, 0o755)
    const pids = await waitForSpawns(sandbox, "svc", 2)
    expect(pids[1]).not.toBe(pid)
    expect(listModified(sandbox.readJournal(), "svc")).toEqual(["add", "remove", "add"])
    await waitFor(() => sandbox.recordedPids("svc").includes(pids[1]!), { message: "svc runs again" })
    expect(isAlive(pids[1]!)).toBe(true)
  })

  it("stops a removed service together with its children", { timeout: 20_000 }, async () => {
    const file = sandbox.writeScript("svc", `sleep 1000 &\necho "$! svc-child" >> "$PIDS"\nwait`)
    sandbox.startDaemon()
    const [pid] = await waitForSpawns(sandbox, "svc")
    const [child] = await waitFor(() => {
      const children = sandbox.recordedPids("svc-child")
      return children.length > 0 ? children : undefined
    }, { message: "the child records its pid" })
    expect(isAlive(pid!)).toBe(true)
    expect(isAlive(child!)).toBe(true)

    fs.rmSync(file)
    const journal = await waitForJournal(sandbox, (j) => eventsOf(j, "process exited", "svc").length === 1, {
      message: "process exited for svc"
    })
    expect(eventsOf(journal, "process exited", "svc")[0]!.data["pid"]).toBe(pid)
    expect(listModified(journal, "svc")).toEqual(["add", "remove"])
    await waitFor(() => !isAlive(pid!) && !isAlive(child!), { timeout: 3_000, message: "script and child gone" })

    await delay(500)
    expect(spawnedPids(sandbox.readJournal(), "svc")).toEqual([pid])
  })
})
