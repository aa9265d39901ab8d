/**
 * Services' output: stdout and stderr appended to LOGS/NAME.log, mode 0600,
 * in the order written, rotated by size without losing or splitting lines,
 * a service faster than its log paced rather than its output dropped.
 */
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { afterEach, beforeEach, describe, expect, it } from "vitest"
import { delay, eventsOf, modeOf, Sandbox, waitFor, waitForSpawns } from "./harness.ts"

describe("service output", () => {
  let sandbox: Sandbox
  beforeEach(() => {
    sandbox = new Sandbox()
  })
  afterEach(async () => {
    await sandbox.cleanUp()
  })

  it("goes to LOGS/NAME.log, both streams", { timeout: 20_000 }, async () => {
    sandbox.writeScript("talker", "echo 'hello on stdout'\necho 'hello on stderr' >&2\nexec sleep 1000")
    sandbox.startDaemon()
    await waitForSpawns(sandbox, "talker")

    const log = path.join(sandbox.logs, "talker.log")
    const text = await waitFor(() => {
      const content = fs.existsSync(log) ? fs.readFileSync(log, "utf8") : ""
      return content.includes("hello on stdout") && content.includes("hello on stderr") ? content : undefined
    }, { message: `both lines in ${log}` })
    expect(text.split("\n").filter((line) => line !== "").sort()).toEqual(["hello on stderr", "hello on stdout"])
    expect(modeOf(log).toString(8)).toBe("600")
  })

  it("with --log-timestamps, ends the line a run left open before the next run writes", { timeout: 20_000 }, async () => {
    const marker = path.join(sandbox.root, "ran-once")
    sandbox.writeScript(
      "partial",
      `if [ -e '${marker}' ]; then echo second; exec sleep 1000; fi\n: > '${marker}'\nprintf 'no newline at exit'`
    )
    sandbox.startDaemon(sandbox.daemonArgs(["--log-timestamps"]))
    const log = path.join(sandbox.logs, "partial.log")
    const text = await waitFor(() => {
      const content = fs.existsSync(log) ? fs.readFileSync(log, "utf8") : ""
      return content.includes("second\n") ? content : undefined
    }, { message: `the second run's line in ${log}` })
    expect(text).toMatch(/^\S+Z no newline at exit\n\S+Z second\n$/)
  })

  it("keeps the order in which stdout and stderr were written", { timeout: 20_000 }, async () => {
    // One pipe for both: an error message stays next to the output around it.
    sandbox.writeScript("mixed", "i=0\nwhile [ $i -lt 200 ]; do i=$((i+1)); echo out$i; echo err$i >&2; done\nexec sleep 1000")
    sandbox.startDaemon()
    await waitForSpawns(sandbox, "mixed")
    const log = path.join(sandbox.logs, "mixed.log")
    const expected = Array.from({ length: 200 }, (_, i) => `out${i + 1}\nerr${i + 1}\n`).join("")
    await waitFor(() => fs.existsSync(log) && fs.readFileSync(log, "utf8").length >= expected.length, {
      message: `400 lines in ${log}`
    })
    expect(fs.readFileSync(log, "utf8")).toBe(expected)
  })

  it("rotates while a service writes, losing and splitting no line", { timeout: 30_000 }, async () => {
    const lines = 40_000
    sandbox.writeScript(
      "writer",
      `seq 1 ${lines} | sed 's/$/ the quick brown fox jumps over the lazy dog/'\necho done\nexec sleep 1000`
    )
    sandbox.startDaemon(sandbox.daemonArgs(["--log-max-size", "64k", "--log-keep", "100"]))
    await waitForSpawns(sandbox, "writer")
    const log = path.join(sandbox.logs, "writer.log")
    await waitFor(() => fs.existsSync(log) && fs.readFileSync(log, "utf8").endsWith("done\n"), {
      timeout: 15_000,
      message: `the last line in ${log}`
    })
    const rotated = fs.readdirSync(sandbox.logs)
      .filter((name) => /^writer\.log\.\d+$/.test(name))
      .sort((a, b) => Number(b.split(".").pop()) - Number(a.split(".").pop()))
    expect(rotated.length).toBeGreaterThan(10)
    const files = [...rotated.map((name) => path.join(sandbox.logs, name)), log]
    for (const file of files) {
      const text = fs.readFileSync(file, "utf8")
      expect(text.endsWith("\n")).toBe(true)
      expect(fs.statSync(file).size).toBeLessThanOrEqual(64 * 1024)
    }
    const all = files.map((file) => fs.readFileSync(file, "utf8")).join("")
    const expected = Array.from({ length: lines }, (_, i) => `${i + 1} the quick brown fox jumps over the lazy dog\n`)
      .join("") + "done\n"
    expect(all === expected).toBe(true)
  })

  it("makes a service that writes faster than its log is written wait, losing nothing", { timeout: 30_000 }, async () => {
    // The log is a FIFO read by the test: a disk exactly as slow as the test.
    fs.mkdirSync(sandbox.logs, { mode: 0o750 })
    const log = path.join(sandbox.logs, "burst.log")
    execFileSync("mkfifo", ["-m", "600", log])
    const reader = fs.openSync(log, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK)
    const received: Array<Buffer> = []
    let receivedBytes = 0
    const readAvailable = () => {
      const buffer = Buffer.allocUnsafe(1 << 20)
      for (;;) {
        let bytes = 0
        try {
          bytes = fs.readSync(reader, buffer)
        } catch {
          return // EAGAIN: nothing more for now
        }
        if (bytes <= 0) return
        received.push(Buffer.from(buffer.subarray(0, bytes)))
        receivedBytes += bytes
      }
    }
    try {
      const total = 64 * 1024 * 1024
      const finished = path.join(sandbox.root, "finished")
      sandbox.writeScript("burst", `yes 'the quick brown fox' | head -c ${total}\n: > '${finished}'\nexec sleep 1000`)
      sandbox.startDaemon(sandbox.daemonArgs(["--log-max-size", "1g"]))
      await waitForSpawns(sandbox, "burst")
      // Nothing taken for a while (less than the 5 s after which output is
      // dropped): the service waits in write(2).
      await delay(1_500)
      expect(fs.existsSync(finished)).toBe(false)
      const deadline = Date.now() + 20_000
      while (receivedBytes < total && Date.now() < deadline) {
        readAvailable()
        await new Promise((resolve) => setImmediate(resolve))
      }
      const expected = Buffer.from("the quick brown fox\n".repeat(Math.ceil(total / 20))).subarray(0, total)
      expect(receivedBytes).toBe(total)
      expect(Buffer.concat(received).equals(expected)).toBe(true)
      await waitFor(() => fs.existsSync(finished), { message: "the service to finish once its output was taken" })
      expect(eventsOf(sandbox.readJournal(), "warning")).toEqual([])
    } finally {
      fs.closeSync(reader)
    }
  })
})
