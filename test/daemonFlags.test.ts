import { assert, describe, it } from "@effect/vitest"
import { readDaemonArguments } from "../src/domain/DaemonFlags.ts"
import { missingDaemonFlags } from "../src/internal/PinnedNode.ts"

describe("readDaemonArguments (the daemon's entry reads its flags without the CLI)", () => {
  it("reads every kind of daemon flag, in each form the CLI reads alike", () => {
    assert.deepStrictEqual(
      readDaemonArguments([
        "-s", "scripts", "--journal=j.json", "--logs", "logs", "--stop-timeout", "2s", "--journal-max-size=1M",
        "--log-keep", "3", "--no-strict-modes", "--log-timestamps"
      ]),
      {
        scripts: "scripts",
        journal: "j.json",
        logs: "logs",
        stopTimeout: 2000,
        journalMaxBytes: 1024 * 1024,
        logKeep: 3,
        strictModes: false,
        logTimestamps: true
      }
    )
    assert.deepStrictEqual(readDaemonArguments([]), {})
  })

  it("leaves to the CLI what it does not read as the CLI would", () => {
    for (const argv of [["status"], ["--help"], ["-s", "a", "-s", "b"], ["--strict-modes", "--no-strict-modes"], ["--log-timestamps=yes"], ["-s", "--logs"], ["--log-keep", "1001"], ["-j"]]) {
      assert.isUndefined(readDaemonArguments(argv), argv.join(" "))
    }
  })
})

describe("missingDaemonFlags (the daemon runs itself again with its Node flags)", () => {
  it("adds each flag not given, in any form; never lite mode for a TypeScript script", () => {
    assert.deepStrictEqual(missingDaemonFlags([], "/x/dist/cronmon.js"), ["--max-semi-space-size=1", "--lite-mode", "--expose-gc"])
    assert.deepStrictEqual(missingDaemonFlags(["--max-semi-space-size=1", "--lite-mode", "--expose-gc"], "/x/dist/cronmon.js"), [])
    assert.deepStrictEqual(missingDaemonFlags(["--max_semi_space_size", "4", "--no-lite-mode", "--inspect"], "/x/dist/cronmon.js"), ["--expose-gc"])
    assert.deepStrictEqual(missingDaemonFlags([], "/x/src/bin.ts"), ["--max-semi-space-size=1", "--expose-gc"])
  })
})
