import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber } from "effect"
import { TestConsole } from "effect/testing"
import { shutdownSignals } from "../src/programs/daemon.ts"

const SIGNALS = ["SIGINT", "SIGTERM", "SIGHUP"] as const
const listeners = () => SIGNALS.map((signal) => process.listenerCount(signal))

describe("shutdown signals", () => {
  it.effect("the first signal is kept until it is awaited; the handlers go with the scope", () =>
    Effect.gen(function*() {
      const before = listeners()
      assert.deepStrictEqual(before, [0, 0, 0], "no other handler here gets the emitted signals")
      const signal = yield* Effect.scoped(Effect.gen(function*() {
        const { received } = yield* shutdownSignals
        assert.deepStrictEqual(listeners(), before.map((n) => n + 1))
        // Delivered to the handler only: emit calls listeners, it sends nothing.
        process.emit("SIGHUP", "SIGHUP")
        process.emit("SIGHUP", "SIGHUP")
        return yield* received
      }))
      assert.strictEqual(signal, "SIGHUP")
      assert.deepStrictEqual(listeners(), before)
    }))

  it.effect("a second SIGINT or SIGTERM is said, then hurries; a second SIGHUP does not", () =>
    Effect.scoped(Effect.gen(function*() {
      const { hurried, received } = yield* shutdownSignals
      const hurry = yield* Effect.forkChild(hurried)
      process.emit("SIGTERM", "SIGTERM")
      assert.strictEqual(yield* received, "SIGTERM")
      process.emit("SIGHUP", "SIGHUP")
      yield* Effect.yieldNow
      assert.isUndefined(hurry.pollUnsafe(), "a hangup is not a request to hurry")
      process.emit("SIGINT", "SIGINT")
      yield* Fiber.join(hurry)
      assert.deepStrictEqual(yield* TestConsole.errorLines, ["cronmon: SIGINT again: sending SIGKILL to every service now"])
    })))
})
