/**
 * The one table of failure lines and exit codes: what the lean control path
 * and the CLI's `main` both say.
 */
import { assert, describe, it } from "@effect/vitest"
import { failureOf, isFailure } from "../src/domain/Failures.ts"

describe("failures", () => {
  it("a timeout is said as exactly as it was given", () => {
    const asked = { name: "web", notDone: "not restarted", unmet: "not restarted" }
    for (const [millis, said] of [[3_601_000, "3601s"], [13_000, "13s"], [90_000, "90s"], [300, "300ms"], [3_600_000, "1h"]] as const) {
      assert.deepStrictEqual(failureOf({ _tag: "TimedOut", millis }, asked), {
        line: `cronmon: web: not restarted within ${said} (the daemon may still do it)`,
        code: 1
      })
    }
  })

  it("knows its own tags only", () => {
    assert.isTrue(isFailure({ _tag: "NoSuchService" }))
    assert.isFalse(isFailure({ _tag: "toString" }))
    assert.isFalse(isFailure({ _tag: "UnrecognizedOption" }))
    assert.isFalse(isFailure("NoSuchService"))
  })
})
