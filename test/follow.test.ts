/**
 * Following a log through rotations (`logs --follow`): no rotated file is
 * skipped, even when a rotation happens while a poll is under way.
 */
import { assert, describe, it } from "@effect/vitest"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { follower } from "../src/internal/Follow.ts"
import { logFiles } from "../src/programs/logs.ts"

const sandbox = () => fs.mkdtempSync(path.join(os.tmpdir(), "cronmon-follow-"))

/** What RotatingLog does: NAME.log.N-1 → NAME.log.N, …, NAME.log → NAME.log.1, then a new NAME.log. */
const rotate = (dir: string, keep: number) => {
  const log = path.join(dir, "svc.log")
  for (let n = keep - 1; n >= 1; n--) {
    if (fs.existsSync(`${log}.${n}`)) fs.renameSync(`${log}.${n}`, `${log}.${n + 1}`)
  }
  fs.renameSync(log, `${log}.1`)
  fs.writeFileSync(log, "")
}

describe("follower", () => {
  it("reads a file rotated while the rotated files were being listed", () => {
    const dir = sandbox()
    const log = path.join(dir, "svc.log")
    try {
      fs.writeFileSync(log, "")
      // The rotation that falls between two steps of a poll: armed once.
      let rotateDuringListing = false
      const follow = follower(log, {
        quietOnReplace: true,
        rotations: () => {
          const names = logFiles(dir, "svc").filter((name) => name !== log)
          if (rotateDuringListing) {
            rotateDuringListing = false
            fs.appendFileSync(log, "b1\nb2\n")
            rotate(dir, 30)
            fs.appendFileSync(log, "c1\n")
          }
          return names
        }
      })
      const printed: Array<string> = []
      fs.appendFileSync(log, "a1\n")
      printed.push(...follow.poll().lines)
      fs.appendFileSync(log, "a2\n")
      rotate(dir, 30)
      fs.appendFileSync(log, "b0\n")
      rotateDuringListing = true
      for (let i = 0; i < 3; i++) printed.push(...follow.poll().lines)
      follow.close()
      assert.deepStrictEqual(printed, ["a1", "a2", "b0", "b1", "b2", "c1"])
    } finally {
      fs.rmSync(dir, { recursive: true, force: true })
    }
  })

  it("reads rotated files by what was listed, not by names a rotation has since shifted", () => {
    const dir = sandbox()
    const log = path.join(dir, "svc.log")
    try {
      // Not there yet when following starts (the daemon creates it on the first write).
      let rotateAfterListing = false
      const follow = follower(log, {
        missingOk: true,
        quietOnReplace: true,
        rotations: () => {
          const names = logFiles(dir, "svc").filter((name) => name !== log)
          if (rotateAfterListing) {
            rotateAfterListing = false
            rotate(dir, 30)
            fs.appendFileSync(log, "d\n")
          }
          return names
        }
      })
      fs.writeFileSync(log, "a\n")
      rotate(dir, 30)
      fs.appendFileSync(log, "b\n")
      rotate(dir, 30)
      fs.appendFileSync(log, "c\n")
      rotateAfterListing = true
      const printed: Array<string> = []
      for (let i = 0; i < 3; i++) printed.push(...follow.poll().lines)
      follow.close()
      assert.deepStrictEqual(printed, ["a", "b", "c", "d"])
    } finally {
      fs.rmSync(dir, { recursive: true, force: true })
    }
  })

  it("a burst of 300,000 lines in one poll does not overflow the stack", () => {
    const dir = sandbox()
    const log = path.join(dir, "svc.log")
    try {
      fs.writeFileSync(log, "")
      const follow = follower(log, { quietOnReplace: true, rotations: () => logFiles(dir, "svc").filter((name) => name !== log) })
      const burst = Array.from({ length: 300_000 }, (_, i) => `${i}\n`).join("")
      fs.appendFileSync(log, burst)
      rotate(dir, 30)
      fs.appendFileSync(log, burst)
      const { lines } = follow.poll()
      follow.close()
      assert.strictEqual(lines.length, 600_000)
    } finally {
      fs.rmSync(dir, { recursive: true, force: true })
    }
  })

  it("says so when a file it held was rotated away before it was read", () => {
    const dir = sandbox()
    const log = path.join(dir, "svc.log")
    try {
      fs.writeFileSync(log, "")
      const follow = follower(log, {
        quietOnReplace: true,
        rotations: () => logFiles(dir, "svc").filter((name) => name !== log)
      })
      fs.appendFileSync(log, "a\n")
      // keep 1: the file held is dropped by the second rotation.
      rotate(dir, 1)
      fs.appendFileSync(log, "b\n")
      fs.rmSync(`${log}.1`)
      rotate(dir, 1)
      fs.appendFileSync(log, "c\n")
      const { lines, notice } = follow.poll()
      follow.close()
      assert.deepStrictEqual(lines, ["a", "b", "c"])
      assert.match(notice ?? "", /rotated faster than it was read/)
    } finally {
      fs.rmSync(dir, { recursive: true, force: true })
    }
  })

  it("logFiles reports a logs directory it cannot read, and a missing one as no files", () => {
    assert.deepStrictEqual(logFiles("/nonexistent/cronmon-logs", "svc"), [])
    assert.throws(() => logFiles("/etc/passwd", "svc"), /^the logs directory \/etc\/passwd is not a directory/)
  })
})
