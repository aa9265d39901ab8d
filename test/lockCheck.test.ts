import { assert, describe, it } from "@effect/vitest"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { ALREADY_RUNNING, alreadyRunning } from "../src/domain/AlreadyRunning.ts"
import { LOCK_EX, LOCK_NB, loadLibc } from "../src/internal/Libc.ts"
import { daemonPaths, flockListed, isLockedElsewhere, lockState, runningDaemon, SESSION_SEARCH_BYTES } from "../src/internal/LockCheck.ts"
import { JournalLocked } from "../src/services/Journal.ts"

const daemonJournal = (argv: ReadonlyArray<string>, environment: Record<string, string>, cwd: string) =>
  daemonPaths(argv, environment, cwd)?.journal

const env = { HOME: "/home/me" }

describe("the cron tick's lock check", () => {
  it("finds the journal a daemon invocation would use", () => {
    assert.strictEqual(daemonJournal([], env, "/w"), "/home/me/.config/cronmon/journal.json")
    assert.strictEqual(daemonJournal(["-j", "j.json"], env, "/w"), "/w/j.json")
    assert.strictEqual(daemonJournal(["--journal=/a/j"], env, "/w"), "/a/j")
    assert.strictEqual(daemonJournal(["-s", "s", "--logs", "l", "--stop-timeout", "1s", "--journal", "j"], env, "/w"), "/w/j")
    assert.strictEqual(
      daemonJournal(
        ["--no-strict-modes", "--journal-max-size", "1G", "--log-max-size=10M", "--log-keep", "3", "--log-timestamps", "-j", "j"],
        env,
        "/w"
      ),
      "/w/j"
    )
  })

  it("finds the scripts directory it would watch, to compare with the running daemon's", () => {
    assert.deepStrictEqual(daemonPaths([], env, "/w"), {
      journal: "/home/me/.config/cronmon/journal.json",
      scripts: "/home/me/.config/cronmon/scripts"
    })
    assert.deepStrictEqual(daemonPaths(["-s", "s", "--journal=/j"], env, "/w"), { journal: "/j", scripts: "/w/s" })
    assert.deepStrictEqual(daemonPaths(["--scripts", "/s"], env, "/w")?.scripts, "/s")
  })

  it("leaves everything else to the CLI", () => {
    for (const argv of [["--stop-timeout", "xyz"], ["--stop-timeout=-1"], ["cron"], ["--help"], ["-h"], ["--version"], ["-j"], ["-jj.json"], ["-s", "s", "cron"], ["--bogus"], ["--log-keep", "-1"], ["--log-max-size", "0"], ["--journal-max-size", "lots"], ["--strict-modes=no"], ["--stop-timeout", "0"], ["--log-max-size", "1"], ["--journal-max-size", "1k"], ["--log-keep", "1001"]]) {
      assert.isUndefined(daemonJournal(argv, env, "/w"), argv.join(" "))
    }
  })

  it("sees a lock held by another open file, and only then", () => {
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "cronmon-lock-")), "journal.json")
    assert.isFalse(isLockedElsewhere(file), "no journal yet")
    fs.writeFileSync(file, "")
    assert.isFalse(isLockedElsewhere(file), "nobody holds it")
    const holder = fs.openSync(file, "r")
    assert.strictEqual(loadLibc().flock(holder, LOCK_EX | LOCK_NB), 0)
    assert.isTrue(isLockedElsewhere(file))
    fs.closeSync(holder)
    assert.isFalse(isLockedElsewhere(file), "released with its holder")
  })

  it("lockState tells a free lock from one it cannot know (status decides by it)", () => {
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "cronmon-lock-")), "journal.json")
    assert.strictEqual(lockState(file), "unknown", "no journal")
    fs.writeFileSync(file, "")
    assert.strictEqual(lockState(file), "free")
    const holder = fs.openSync(file, "r")
    assert.strictEqual(loadLibc().flock(holder, LOCK_EX | LOCK_NB), 0)
    assert.strictEqual(lockState(file), "held")
    fs.closeSync(holder)
  })

  it("reads /proc/locks: flock locks held on the file's device and inode, not waiters or other kinds", () => {
    const locks = [
      "1: POSIX  ADVISORY  WRITE 10 fe:00:77 0 EOF",
      "2: FLOCK  ADVISORY  WRITE 762 fe:00:2146997 0 EOF",
      "2: -> FLOCK  ADVISORY  WRITE 763 fe:00:88 0 EOF",
      "3: FLOCK  ADVISORY  WRITE 764 103:02:99 0 EOF"
    ].join("\n")
    assert.isTrue(flockListed(locks, 0xfe00n, 2146997n))
    assert.isFalse(flockListed(locks, 0xfe00n, 77n), "a POSIX lock")
    assert.isFalse(flockListed(locks, 0xfe00n, 88n), "a waiter")
    assert.isFalse(flockListed(locks, 0xfe01n, 2146997n), "another device")
    // major 259 (0x103), minor 2, encoded as glibc does
    assert.isTrue(flockListed(locks, (0x103n << 8n) | 2n, 99n))
  })

  it("sees the lock in /proc/locks without probing it", () => {
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "cronmon-lock-")), "journal.json")
    fs.writeFileSync(file, "")
    const holder = fs.openSync(file, "r")
    assert.strictEqual(loadLibc().flock(holder, LOCK_EX | LOCK_NB), 0)
    const { dev, ino } = fs.statSync(file, { bigint: true })
    assert.isTrue(flockListed(fs.readFileSync("/proc/locks", "latin1"), dev, ino))
    fs.closeSync(holder)
    assert.isFalse(flockListed(fs.readFileSync("/proc/locks", "latin1"), dev, ino))
  })

  it("JournalLocked says what the tick says, and names the journal", () => {
    assert.strictEqual(
      new JournalLocked({ path: "/j" }).message,
      `${ALREADY_RUNNING}: another process holds the lock of the journal /j`
    )
  })

  it("reads the running daemon's pid and scripts directory from its session's start, at the journal's end", () => {
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "cronmon-lock-")), "journal.json")
    const line = (type: string, data: object) => JSON.stringify({ time: "2026-11-23T19:00:00Z", type, data }) + "\n"
    const ended = line("acquired lock", { journal_id: "x", pid: 10, scripts: "/old" }) + line("monitor quit", {})
    const current = line("acquired lock", { journal_id: "x", pid: 42, scripts: "/srv/scripts" }) +
      line("process spawned", { file: "web", pid: 43 })
    assert.deepStrictEqual(runningDaemon(file), {}, "no journal")
    fs.writeFileSync(file, ended + current)
    assert.deepStrictEqual(runningDaemon(file), { pid: 42, scripts: "/srv/scripts" })
    fs.writeFileSync(file, ended)
    assert.deepStrictEqual(runningDaemon(file), {}, "its session is not in the journal (truncated)")
    fs.writeFileSync(file, line("acquired lock", { journal_id: "x" }))
    assert.deepStrictEqual(runningDaemon(file), { pid: undefined, scripts: undefined }, "the Go original records neither")
    // A session begun further back than the tick reads: not looked for.
    const filler = line("warning", { component: "w", error: "x".repeat(1000) })
    fs.writeFileSync(file, current + filler.repeat(Math.ceil(SESSION_SEARCH_BYTES / filler.length)))
    assert.deepStrictEqual(runningDaemon(file), {})
  })

  it("says the running daemon's pid and scripts directory, and warns when it watches another than asked", () => {
    assert.strictEqual(alreadyRunning({}), "cronmon is already running")
    assert.strictEqual(alreadyRunning({ pid: 42 }, "/a"), "cronmon is already running (pid 42)")
    assert.strictEqual(alreadyRunning({ pid: 42, scripts: "/a" }, "/a"), "cronmon is already running (pid 42, scripts /a)")
    assert.strictEqual(
      alreadyRunning({ pid: 42, scripts: "/a" }, "/b"),
      "cronmon is already running (pid 42, scripts /a)\n" +
        "cronmon: warning: it watches /a, not /b: stop it first to watch another directory with this journal, " +
        "or give /b a journal of its own (-j)"
    )
  })
})
