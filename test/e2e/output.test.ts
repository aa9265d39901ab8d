/**
 * Services' output: stdout and stderr appended to LOGS/NAME.log, mode 0600.
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
})
