import { assert, describe, it } from "@effect/vitest"
import { Context, Effect, Layer, Result } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { cutToBound } from "../src/domain/JournalBound.ts"
import { decodeLine, encodeLine, Events, type JournalEvent } from "../src/domain/JournalEvent.ts"
import * as JournalFile from "../src/layers/JournalFile.ts"
import * as SystemLinux from "../src/layers/SystemLinux.ts"
import { Journal } from "../src/services/Journal.ts"

const line = (event: JournalEvent, time = 0) => encodeLine({ time, ...event }) + "\n"

/** A clean session of `spawns` spawn-and-exit pairs of `file`. */
const session = (file: string, spawns: number, quit = true) =>
  line(Events.acquiredLock("file:/j")) +
  Array.from({ length: spawns }, (_, i) =>
    line(Events.spawned(file, 100 + i)) + line(Events.exited(file, 100 + i, { code: 0, signal: null }))
  ).join("") +
  (quit ? line(Events.monitorQuit()) : "")

const bytes = (text: string) => Buffer.from(text)

const entries = (file: string) =>
  fs.readFileSync(file, "utf8").split("\n").filter((l) => l !== "").map((l) => {
    const r = decodeLine(l)
    if (Result.isFailure(r)) throw new Error(`bad line: ${l}`)
    return r.success
  })

const layer = (file: string, maxBytes: number) =>
  JournalFile.layer({ path: file, maxBytes }).pipe(Layer.provide(SystemLinux.layer))

const tempFile = () => path.join(fs.mkdtempSync(path.join(os.tmpdir(), "cronmon-bound-")), "journal.json")

describe("cutToBound", () => {
  it("drops the oldest whole sessions until the journal fits", () => {
    const [a, b, c] = [session("a", 5), session("b", 5), session("c", 5)]
    const text = a + b + c
    assert.isUndefined(cutToBound(bytes(text), text.length))
    assert.deepStrictEqual(cutToBound(bytes(text), text.length - 1), { bytes: a.length, sessions: 1 })
    assert.deepStrictEqual(cutToBound(bytes(text), c.length), { bytes: a.length + b.length, sessions: 2 })
  })

  it("keeps every session after the last clean quit, and the current one, even over the bound", () => {
    const clean = session("a", 5)
    const crashed = session("b", 5, false)
    const current = session("c", 5, false)
    const text = clean + crashed + current
    // The crashed session is what previous state reads: only `clean` may go.
    assert.deepStrictEqual(cutToBound(bytes(text), 10), { bytes: clean.length, sessions: 1 })
    assert.isUndefined(cutToBound(bytes(crashed + current), 10))
    // The current session (from keepFrom) is never dropped, nor the quit before it needed.
    const done = clean + session("b", 5)
    assert.deepStrictEqual(cutToBound(bytes(done + current), 10, done.length), { bytes: clean.length, sessions: 1 })
    assert.isUndefined(cutToBound(bytes(current), 10, 0))
  })

  it("counts lines before the first acquired lock as a session, and skips bad lines", () => {
    const head = "garbage\n" + line(Events.warning("x", "y"))
    const text = head + session("a", 2) + "{not json\n" + session("b", 2)
    assert.deepStrictEqual(cutToBound(bytes(text), session("b", 2).length), {
      bytes: text.length - session("b", 2).length,
      sessions: 2
    })
  })
})

describe("JournalFile size bound", () => {
  it.effect("at open, drops the oldest sessions, says so after acquired lock, and keeps the file's mode", () =>
    Effect.gen(function*() {
      const file = tempFile()
      const old = session("old", 20)
      const kept = session("kept", 2)
      fs.writeFileSync(file, old + kept, { mode: 0o640 })
      fs.chmodSync(file, 0o640)
      const inode = fs.statSync(file).ino
      yield* Effect.scoped(Layer.build(layer(file, kept.length + 400)))
      const journal = entries(file)
      assert.strictEqual(fs.readFileSync(file, "utf8").slice(0, kept.length), kept)
      assert.deepStrictEqual(journal.slice(-3).map((e) => e.type), ["monitor quit", "acquired lock", "log truncated"])
      assert.match(JSON.stringify(journal.at(-1)?.data), /passed \d+ bytes: its 1 oldest session \(\d+ bytes\) dropped/)
      assert.notStrictEqual(fs.statSync(file).ino, inode)
      assert.strictEqual(fs.statSync(file).mode & 0o777, 0o640)
      assert.isFalse(fs.existsSync(JournalFile.compactingPath(file)))
    }))

  it.live("when appends cross the bound, drops old sessions and keeps the lock on the new file", () =>
    Effect.gen(function*() {
      const file = tempFile()
      const old = [session("a", 3), session("b", 3), session("c", 3)]
      fs.writeFileSync(file, old.join(""))
      const bound = old.join("").length + 300
      yield* Effect.scoped(Effect.gen(function*() {
        const journal = Context.get(yield* Layer.build(layer(file, bound)), Journal)
        for (let i = 0; i < 12; i++) yield* journal.append(Events.spawned("d", 1000 + i))
        // Our own rename is not a move: still ours, still locked.
        yield* Effect.sleep("100 millis")
        const again = yield* Effect.exit(Effect.scoped(Layer.build(layer(file, bound))))
        assert.include(String(again), "JournalLocked")
        yield* journal.append(Events.spawned("d", 2000))
      }))
      const journal = entries(file)
      assert.isAtMost(fs.statSync(file).size, bound + 1_000)
      assert.strictEqual(journal[0]?.type, "acquired lock")
      const files = new Set(journal.flatMap((e) => "file" in e.data ? [e.data.file] : []))
      assert.isFalse(files.has("a"), "the oldest session went")
      assert.isTrue(files.has("d"))
      assert.isTrue(journal.some((e) => e.type === "log truncated"))
      assert.deepStrictEqual(journal.filter((e) => e.type === "warning"), [], "no move was seen")
      // Every spawn of this session is there, in order.
      const spawned = journal.flatMap((e) => e.type === "process spawned" && e.data.file === "d" ? [e.data.pid] : [])
      assert.deepStrictEqual(spawned, [...Array.from({ length: 12 }, (_, i) => 1000 + i), 2000])
    }))

  it.live("never passes the bound, and drops down to three quarters of it so that it is not rewritten at every event", () =>
    Effect.gen(function*() {
      const file = tempFile()
      const old = Array.from({ length: 30 }, (_, i) => session(`s${i}`, 3)).join("")
      fs.writeFileSync(file, old)
      const bound = old.length + 200
      const sizes: Array<number> = []
      yield* Effect.scoped(Effect.gen(function*() {
        const journal = Context.get(yield* Layer.build(layer(file, bound)), Journal)
        for (let i = 0; i < 40; i++) {
          yield* journal.append(Events.spawned("d", 1000 + i))
          sizes.push(fs.statSync(file).size)
        }
      }))
      assert.isAtMost(Math.max(...sizes), bound)
      const truncations = entries(file).filter((e) => e.type === "log truncated")
      assert.strictEqual(truncations.length, 1, "one cut made room for all forty")
    }))

  it.live("a journal over the bound at open, with nothing it may drop, begins again with one acquired lock and the leftovers", () =>
    Effect.gen(function*() {
      const file = tempFile()
      // One killed session, over the bound on its own: previous state needs all of it.
      const noise = Array.from({ length: 40 }, (_, i) => line(Events.warning("x", `noise ${i}`))).join("")
      fs.writeFileSync(file, line(Events.acquiredLock("file:/j")) + line(Events.spawned("left", 77)) + noise)
      yield* Effect.scoped(Layer.build(layer(file, 2_000)))
      const journal = entries(file)
      assert.strictEqual(journal.filter((e) => e.type === "acquired lock").length, 1)
      assert.includeMembers(journal.flatMap((e) => e.type === "process spawned" ? [e.data.pid] : []), [77])
      assert.isAtMost(fs.statSync(file).size, 2_000)
    }))

  it.live("a session that alone outgrows the bound begins again with the services known and the processes running", () =>
    Effect.gen(function*() {
      const file = tempFile()
      // An earlier session killed with "left" running: a leftover until this
      // session says it exited.
      fs.writeFileSync(file, line(Events.acquiredLock("file:/j")) + line(Events.spawned("left", 77)))
      const bound = 2_000
      yield* Effect.scoped(Effect.gen(function*() {
        const journal = Context.get(yield* Layer.build(layer(file, bound)), Journal)
        yield* journal.append(Events.listModified("add", "loop"))
        yield* journal.append(Events.listModified("add", "steady"))
        yield* journal.append(Events.spawned("steady", 500))
        // A crash loop, far past the bound.
        for (let i = 0; i < 60; i++) {
          yield* journal.append(Events.spawned("loop", 1000 + i))
          yield* journal.append(Events.exited("loop", 1000 + i, { code: 1, signal: null }))
        }
        assert.isAtMost(fs.statSync(file).size, bound)
        // Our own rewrite is not a move: still ours, still locked.
        yield* Effect.sleep("100 millis")
        const again = yield* Effect.exit(Effect.scoped(Layer.build(layer(file, bound))))
        assert.include(String(again), "JournalLocked")
      }))
      const journal = entries(file)
      assert.strictEqual(journal[0]?.type, "acquired lock")
      assert.strictEqual(journal[1]?.type, "log truncated")
      const added = journal.flatMap((e) => e.type === "process list modified" ? [e.data.file] : [])
      assert.includeMembers(added, ["loop", "steady"])
      const spawned = journal.flatMap((e) => e.type === "process spawned" ? [e.data.pid] : [])
      assert.includeMembers(spawned, [77, 500], "the leftover and the running service are carried")
      assert.deepStrictEqual(journal.filter((e) => e.type === "warning"), [], "no move was seen")
      assert.isAtMost(fs.statSync(file).size, bound + 200)
    }))

  it.effect("a compaction interrupted before its rename leaves the old journal whole, and its copy is removed", () =>
    Effect.gen(function*() {
      const file = tempFile()
      const text = session("a", 3)
      fs.writeFileSync(file, text)
      fs.writeFileSync(JournalFile.compactingPath(file), "half a copy")
      yield* Effect.scoped(Layer.build(layer(file, 1_000_000)))
      assert.isTrue(fs.readFileSync(file, "utf8").startsWith(text))
      assert.isFalse(fs.existsSync(JournalFile.compactingPath(file)))
    }))
})
