import { assert, describe, it } from "@effect/vitest"
import { Duration, Effect, Fiber, Stream } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { watchScripts } from "../src/layers/WatcherChokidar.ts"

/** Polls `check` every 10 ms until it holds or the deadline passes. */
const eventually = (check: () => boolean, timeout = 5_000) =>
  Effect.gen(function*() {
    const deadline = Date.now() + timeout
    while (!check()) {
      if (Date.now() > deadline) return yield* Effect.die(new Error("deadline passed"))
      yield* Effect.sleep("10 millis")
    }
  })

const script = (file: string, body = "#!/bin/sh\nexit 0\n", mode = 0o755) => {
  fs.writeFileSync(file, body)
  fs.chmodSync(file, mode)
}

/**
 * The live watcher on a fresh directory, its changes collected as `Tag
 * name`, its warnings as text, and how many changes came before each `Scanned`.
 */
const watching = (
  setup: (dir: string) => void = () => {},
  scriptsPath = (dir: string) => dir,
  strictModesUid?: number
) =>
  Effect.gen(function*() {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), "cronmon-watch-"))
    const dir = path.join(root, "scripts")
    fs.mkdirSync(dir)
    setup(dir)
    const changes: Array<string> = []
    const scans: Array<number> = []
    const warnings: Array<string> = []
    const warn = (message: string) => Effect.sync(() => void warnings.push(message))
    fs.chmodSync(dir, 0o755)
    const stream = watchScripts(scriptsPath(dir), Duration.millis(30), warn, "50 millis", strictModesUid)
    const fiber = yield* Effect.forkChild(
      Stream.runForEach(stream, (c) =>
        Effect.sync(() =>
          c._tag === "Scanned"
            ? scans.push(changes.length)
            : changes.push(`${c._tag} ${c.name}${c._tag === "Remove" && c.reason !== undefined ? ` (${c.reason})` : ""}`)
        ))
    )
    yield* Effect.addFinalizer(() =>
      Effect.andThen(Fiber.interrupt(fiber), Effect.sync(() => fs.rmSync(root, { recursive: true, force: true })))
    )
    return { root, dir, changes, scans, warnings }
  })

describe("WatcherChokidar (live, real files)", () => {
  it.live("starts with the services present, ignoring what is not one, then says its first scan is done", () =>
    Effect.gen(function*() {
      const { changes, scans } = yield* watching((dir) => {
        script(path.join(dir, "b"))
        script(path.join(dir, "a"))
        script(path.join(dir, "plain"), "x", 0o644)
        script(path.join(dir, ".hidden"))
        script(path.join(dir, "a~"))
        fs.mkdirSync(path.join(dir, "sub"))
        fs.symlinkSync(path.join(dir, "a"), path.join(dir, "link"))
      })
      yield* eventually(() => changes.length >= 3)
      yield* Effect.sleep("100 millis")
      assert.deepStrictEqual(changes, ["Add a", "Add b", "Add link"])
      assert.deepStrictEqual(scans, [3])
    }))

  it.live("sees chmod -x (a removal whose file is still there) and chmod +x, which chokidar's own events miss", () =>
    Effect.gen(function*() {
      const { changes, dir } = yield* watching((dir) => script(path.join(dir, "svc")))
      yield* eventually(() => changes.length === 1)
      fs.chmodSync(path.join(dir, "svc"), 0o644)
      yield* eventually(() => changes.length === 2)
      fs.chmodSync(path.join(dir, "svc"), 0o700)
      yield* eventually(() => changes.length === 3)
      assert.deepStrictEqual(changes, ["Add svc", "Remove svc (not executable)", "Add svc"])
    }))

  it.live("strict modes: a group-writable or foreign script is refused once; chmod go-w or chown adds it", () =>
    Effect.gen(function*() {
      const uid = process.getuid!()
      const { changes, dir } = yield* watching((dir) => {
        script(path.join(dir, "open"), undefined, 0o775)
        script(path.join(dir, "fine"))
      }, undefined, uid)
      yield* eventually(() => changes.length === 2)
      assert.deepStrictEqual(changes, ["Add fine", "Refuse open"])
      fs.chmodSync(path.join(dir, "open"), 0o755)
      yield* eventually(() => changes.length === 3)
      assert.strictEqual(changes[2], "Add open")
      fs.chmodSync(path.join(dir, "open"), 0o757)
      yield* eventually(() => changes.length === 4)
      assert.strictEqual(changes[3], "Refuse open")
      fs.chmodSync(path.join(dir, "open"), 0o755)
      yield* eventually(() => changes.length === 5)
      // Another owner (root may give a file away): refused; given back: added.
      const other = uid === 0 ? 65534 : undefined
      if (other !== undefined) {
        fs.chownSync(path.join(dir, "fine"), other, other)
        yield* eventually(() => changes.length === 6)
        fs.chownSync(path.join(dir, "fine"), uid, uid)
        yield* eventually(() => changes.length === 7)
      }
      yield* Effect.sleep("100 millis")
      assert.deepStrictEqual(changes.slice(4), [
        "Add open",
        ...(other === undefined ? [] : ["Refuse fine", "Add fine"])
      ])
    }))

  it.live("strict modes: chmod of the scripts directory itself refuses, then adds, every script", () =>
    Effect.gen(function*() {
      const { changes, dir } = yield* watching((dir) => {
        script(path.join(dir, "a"))
        script(path.join(dir, "b"))
      }, undefined, process.getuid!())
      yield* eventually(() => changes.length === 2)
      fs.chmodSync(dir, 0o777)
      yield* eventually(() => changes.length === 4)
      fs.chmodSync(dir, 0o755)
      yield* eventually(() => changes.length === 6)
      yield* Effect.sleep("100 millis")
      assert.deepStrictEqual(changes, ["Add a", "Add b", "Refuse a", "Refuse b", "Add a", "Add b"])
    }))

  it.live("strict modes: chmod of the directory behind a symlinked scripts path is seen too", () =>
    Effect.gen(function*() {
      const { changes, dir } = yield* watching((dir) => {
        script(path.join(dir, "a"))
        fs.symlinkSync(dir, path.join(dir, "..", "current"))
      }, (dir) => path.join(dir, "..", "current"), process.getuid!())
      yield* eventually(() => changes.length === 1)
      fs.chmodSync(dir, 0o777)
      yield* eventually(() => changes.length === 2)
      fs.chmodSync(dir, 0o755)
      yield* eventually(() => changes.length === 3)
      assert.deepStrictEqual(changes, ["Add a", "Refuse a", "Add a"])
    }))

  it.live("mv in, edit in place, touch, a temp file moved over, mv away, rm", () =>
    Effect.gen(function*() {
      const { changes, dir, root } = yield* watching()
      const svc = path.join(dir, "svc")
      yield* Effect.sleep("50 millis")
      script(path.join(root, "staged"))
      fs.renameSync(path.join(root, "staged"), svc)
      yield* eventually(() => changes.length === 1)
      fs.appendFileSync(svc, "# edited\n")
      yield* eventually(() => changes.length === 2)
      const later = new Date(Date.now() + 10_000)
      fs.utimesSync(svc, later, later)
      yield* eventually(() => changes.length === 3)
      script(path.join(dir, ".svc.tmp"), "#!/bin/sh\nexit 1\n")
      fs.renameSync(path.join(dir, ".svc.tmp"), svc)
      yield* eventually(() => changes.length === 4)
      fs.renameSync(svc, path.join(root, "away"))
      yield* eventually(() => changes.length === 5)
      script(svc)
      yield* eventually(() => changes.length === 6)
      fs.rmSync(svc)
      yield* eventually(() => changes.length === 7)
      yield* Effect.sleep("100 millis")
      assert.deepStrictEqual(changes, [
        "Add svc",
        "Update svc",
        "Update svc",
        "Update svc",
        "Remove svc",
        "Add svc",
        "Remove svc"
      ])
    }))

  it.live("a Vim-style save (rename to backup, write anew, chmod, delete backup) is one update", () =>
    Effect.gen(function*() {
      const { changes, dir } = yield* watching((dir) => script(path.join(dir, "svc")))
      yield* eventually(() => changes.length === 1)
      const svc = path.join(dir, "svc")
      fs.renameSync(svc, `${svc}~`)
      fs.writeFileSync(svc, "#!/bin/sh\nexit 2\n")
      fs.chmodSync(svc, 0o755)
      fs.rmSync(`${svc}~`)
      yield* eventually(() => changes.length === 2)
      yield* Effect.sleep("200 millis")
      assert.deepStrictEqual(changes, ["Add svc", "Update svc"])
    }))

  it.live("the directory removed and re-created: its services go, new ones come, watching resumes", () =>
    Effect.gen(function*() {
      const { changes, dir, warnings } = yield* watching((dir) => script(path.join(dir, "a")))
      yield* eventually(() => changes.length === 1)
      fs.rmSync(dir, { recursive: true })
      yield* eventually(() => changes.length === 2)
      fs.mkdirSync(dir)
      script(path.join(dir, "b"))
      yield* eventually(() => changes.length === 3)
      script(path.join(dir, "c")) // watched again, not just rescanned
      yield* eventually(() => changes.length === 4)
      assert.deepStrictEqual(changes, ["Add a", "Remove a", "Add b", "Add c"])
      // "removed", "replaced" or "missing", as the timing falls
      assert.isTrue(warnings.some((w) => w.includes("scripts directory")), warnings.join("; "))
    }))

  it.live("a symlinked scripts path re-pointed (a release switch): only real differences", () =>
    Effect.gen(function*() {
      const { changes, root } = yield* watching((dir) => {
        fs.mkdirSync(path.join(dir, "..", "r1"))
        fs.mkdirSync(path.join(dir, "..", "r2"))
        script(path.join(dir, "..", "r1", "same"))
        fs.copyFileSync(path.join(dir, "..", "r1", "same"), path.join(dir, "..", "r2", "same"))
        fs.linkSync(path.join(dir, "..", "r1", "same"), path.join(dir, "..", "r1", "kept"))
        fs.linkSync(path.join(dir, "..", "r1", "same"), path.join(dir, "..", "r2", "kept")) // the same file in both
        script(path.join(dir, "..", "r1", "old"))
        script(path.join(dir, "..", "r2", "new"))
        fs.symlinkSync(path.join(dir, "..", "r1"), path.join(dir, "..", "current"))
      }, (dir) => path.join(dir, "..", "current"))
      yield* eventually(() => changes.length === 3)
      fs.symlinkSync(path.join(root, "r2"), path.join(root, "next"))
      fs.renameSync(path.join(root, "next"), path.join(root, "current")) // ln -sfn, atomically
      yield* eventually(() => changes.length === 6)
      yield* Effect.sleep("200 millis")
      assert.deepStrictEqual(changes.slice(3).sort(), ["Add new", "Remove old", "Update same"])
    }))

  it.live("a symlink loop in the directory is said once, and watching goes on", () =>
    Effect.gen(function*() {
      const { changes, dir, warnings } = yield* watching((dir) => {
        script(path.join(dir, "a"))
        fs.symlinkSync("self", path.join(dir, "self"))
      })
      yield* eventually(() => changes.length === 1)
      script(path.join(dir, "b"))
      yield* eventually(() => changes.length === 2)
      yield* Effect.sleep("300 millis")
      assert.deepStrictEqual(changes, ["Add a", "Add b"])
      assert.isAtMost(warnings.length, 1, warnings.join("; "))
    }))
})
