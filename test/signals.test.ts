import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { shutdownSignals } from "../src/programs/daemon.ts"

const SIGNALS = ["SIGINT", "SIGTERM", "SIGHUP"] as const
const listeners = () => SIGNALS.map((signal) => process.listenerCount(signal))

describe("shutdown signals", () => {
  it.effect("the first signal is kept until it is awaited, later ones change nothing; the handlers go with the scope", () =>
    Effect.gen(function*() {
      const before = listeners()
      assert.deepStrictEqual(before, [0, 0, 0], "no other handler here gets the emitted signals")
      const signal = yield* Effect.scoped(Effect.gen(function*() {
        const received = yield* shutdownSignals
        assert.deepStrictEqual(listeners(), before.map((n) => n + 1))
        // Delivered to the handler only: emit calls listeners, it sends nothing.
        process.emit("SIGHUP", "SIGHUP")
        process.emit("SIGINT", "SIGINT")
        return yield* received
      }))
      assert.strictEqual(signal, "SIGHUP")
      assert.deepStrictEqual(listeners(), before)
    }))
})
