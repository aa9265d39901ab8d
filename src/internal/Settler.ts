/**
 * Turns file events into changes of the set of services.
 *
 * File events are hints, not facts: one editor save is a burst of renames,
 * creates, writes and chmods, sometimes through temporary names. Per name,
 * the settler waits until the hints stop for the settle time, then looks at
 * the file itself and emits a change only when it really differs from what
 * was last seen. So one save is one restart, and a temporary file that comes
 * and goes within the settle time is never started.
 *
 * @since 0.1.0
 */
import { type Duration, Effect, FiberMap, type Scope } from "effect"
import { diff, type Fingerprint, type Inspection, isIgnoredName, type ScriptChange } from "../domain/ServiceFile.ts"

/**
 * A settler's inputs: how to look at a name, how long to wait, where changes go.
 *
 * @since 0.1.0
 */
export interface SettlerOptions {
  /** What a name is now: a service's fingerprint, a file not executable, or nothing (`undefined`). */
  readonly inspect: (name: string) => Effect.Effect<Inspection>
  readonly settleTime: Duration.Input
  readonly emit: (change: ScriptChange) => Effect.Effect<void>
}

/**
 * A running settler.
 *
 * @since 0.1.0
 */
export interface Settler {
  /** Something may have happened to `name`: look again once it settles. */
  readonly hint: (name: string) => Effect.Effect<void>
  /** Look at `name` now, without waiting (the initial scan). */
  readonly check: (name: string) => Effect.Effect<void>
  /**
   * Look now at every name in `present` and every name known from before
   * (a rescan: a known name that is gone is removed).
   */
  readonly checkAll: (present: ReadonlyArray<string>) => Effect.Effect<void>
}

/**
 * Makes a settler whose pending waits live in the current scope.
 *
 * @since 0.1.0
 */
export const makeSettler = (options: SettlerOptions): Effect.Effect<Settler, never, Scope.Scope> =>
  Effect.gen(function*() {
    const known = new Map<string, Fingerprint>()
    const pending = yield* FiberMap.make<string>()
    // Uninterruptible: a newer hint must not cut a check between recording
    // what it saw and emitting the change.
    const check = (name: string) =>
      Effect.uninterruptible(Effect.flatMap(options.inspect(name), (now) => {
        const change = diff(name, known.get(name), now)
        if (typeof now === "object") known.set(name, now)
        else known.delete(name)
        return change === undefined ? Effect.void : options.emit(change)
      }))
    return {
      check,
      checkAll: (present) =>
        Effect.suspend(() => {
          const names = new Set([...known.keys(), ...present.filter((name) => !isIgnoredName(name))])
          return Effect.forEach([...names].sort(), check, { discard: true })
        }),
      // A new hint on a waiting name restarts its wait (FiberMap.run
      // interrupts the previous fiber for the key).
      hint: (name) =>
        isIgnoredName(name)
          ? Effect.void
          : Effect.asVoid(FiberMap.run(pending, name, Effect.andThen(Effect.sleep(options.settleTime), check(name))))
    }
  })
