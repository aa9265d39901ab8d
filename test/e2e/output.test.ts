/**
 * Services' output: stdout and stderr appended to LOGS/NAME.log, mode 0600,
 * in the order written, rotated by size without losing or splitting lines.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { afterEach, beforeEach, describe, expect, it } from "vitest"
import { modeOf, Sandbox, waitFor, waitForSpawns } from "./harness.ts"

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
})
