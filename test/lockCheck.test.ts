import { assert, describe, it } from "@effect/vitest"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { ALREADY_RUNNING } from "../src/domain/AlreadyRunning.ts"
import { LOCK_EX, LOCK_NB, loadLibc } from "../src/internal/Libc.ts"
import { daemonJournal, flockListed, isLockedElsewhere, lockState } from "../src/internal/LockCheck.ts"
import { JournalLocked } from "../src/services/Journal.ts"

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

  it("leaves everything else to the CLI", () => {
    for (const argv of [["--stop-timeout", "xyz"], ["--stop-timeout=-1"], ["cron"], ["--help"], ["-h"], ["--version"], ["-j"], ["-jj.json"], ["-s", "s", "cron"], ["--bogus"], ["--log-keep", "-1"], ["--log-max-size", "0"], ["--journal-max-size", "lots"], ["--strict-modes=no"]]) {
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

  it("says what the daemon says when it finds the lock taken", () => {
    assert.strictEqual(new JournalLocked({ path: "/j" }).message, ALREADY_RUNNING)
  })
})
