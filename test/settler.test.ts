import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { TestClock } from "effect/testing"
import { diff, type Fingerprint, isIgnoredName, type ScriptChange, strictModesRefusal } from "../src/domain/ServiceFile.ts"
import { makeSettler } from "../src/internal/Settler.ts"

/** A scripts directory in memory, and the changes a settler makes of it. */
const setup = Effect.gen(function*() {
  const files = new Map<string, Fingerprint>()
  const changes: Array<string> = []
  let ino = 1
  const settler = yield* makeSettler({
    inspect: (name) => Effect.sync(() => files.get(name)),
    settleTime: "30 millis",
    emit: (change: ScriptChange) => Effect.sync(() => void changes.push(`${change._tag} ${change.name}`))
  })
  const write = (name: string, size = 10) => {
    files.set(name, { dev: 1, ino: ino++, size, mtimeMs: 0 })
    return settler.hint(name)
  }
  const remove = (name: string) => {
    files.delete(name)
    return settler.hint(name)
  }
  const touch = (name: string, mtimeMs: number) => {
    const before = files.get(name)
    if (before !== undefined) files.set(name, { ...before, mtimeMs })
    return settler.hint(name)
  }
  return { files, changes, settler, write, remove, touch }
})

describe("settler", () => {
  it.effect("the initial check adds what is there, at once", () =>
    Effect.gen(function*() {
      const { changes, files, settler } = yield* setup
      files.set("web", { dev: 1, ino: 9, size: 1, mtimeMs: 0 })
      yield* settler.check("web")
      yield* settler.check("missing")
      assert.deepStrictEqual(changes, ["Add web"])
    }))

  it.effect("acts once the hints for a name have been quiet for the settle time", () =>
    Effect.gen(function*() {
      const { changes, write } = yield* setup
      yield* write("web")
      yield* TestClock.adjust("29 millis")
      assert.deepStrictEqual(changes, [])
      yield* TestClock.adjust("1 millis")
      assert.deepStrictEqual(changes, ["Add web"])
    }))

  it.effect("a Vim save (rename away, new file, chmod) is one update", () =>
    Effect.gen(function*() {
      const { changes, remove, settler, touch, write } = yield* setup
      yield* write("svc")
      yield* TestClock.adjust("1 second")
      yield* remove("svc") // MOVED_FROM svc -> svc~
      yield* settler.hint("svc~")
      yield* TestClock.adjust("2 millis")
      yield* write("svc", 11) // CREATE svc, MODIFY
      yield* TestClock.adjust("2 millis")
      yield* touch("svc", 5) // ATTRIB
      yield* settler.hint("svc~") // DELETE svc~
      yield* TestClock.adjust("1 second")
      assert.deepStrictEqual(changes, ["Add svc", "Update svc"])
    }))

  it.effect("a temporary file that comes and goes within the settle time is never started", () =>
    Effect.gen(function*() {
      const { changes, remove, write } = yield* setup
      yield* write("sedAb12cd")
      yield* TestClock.adjust("5 millis")
      yield* remove("sedAb12cd")
      yield* TestClock.adjust("1 second")
      assert.deepStrictEqual(changes, [])
    }))

  it.effect("touch is an update; an event that changed nothing is nothing", () =>
    Effect.gen(function*() {
      const { changes, settler, touch, write } = yield* setup
      yield* write("svc")
      yield* TestClock.adjust("1 second")
      yield* settler.hint("svc") // e.g. a chmod g+w: same fingerprint
      yield* TestClock.adjust("1 second")
      yield* touch("svc", 1000)
      yield* TestClock.adjust("1 second")
      assert.deepStrictEqual(changes, ["Add svc", "Update svc"])
    }))

  it.effect("losing the execute bit (or the file) removes; regaining it adds", () =>
    Effect.gen(function*() {
      const { changes, files, remove, settler, write } = yield* setup
      yield* write("svc")
      yield* TestClock.adjust("1 second")
      const fingerprint = files.get("svc")!
      files.delete("svc") // chmod -x: inspect no longer sees a service
      yield* settler.hint("svc")
      yield* TestClock.adjust("1 second")
      files.set("svc", fingerprint) // chmod +x
      yield* settler.hint("svc")
      yield* TestClock.adjust("1 second")
      yield* remove("svc")
      yield* TestClock.adjust("1 second")
      assert.deepStrictEqual(changes, ["Add svc", "Remove svc", "Add svc", "Remove svc"])
    }))

  it.effect("ignores editor artefacts and dotfiles", () =>
    Effect.gen(function*() {
      const { changes, write } = yield* setup
      for (const name of [".hidden", "svc~", ".svc.swp", "svc.swx", "#svc#", ".#svc", "4913"]) yield* write(name)
      yield* TestClock.adjust("1 second")
      assert.deepStrictEqual(changes, [])
    }))

  it("names: what is a service name", () => {
    for (const name of ["web", "web.sh", "a b", "4914", "sed", "x.swpx", "#a"]) assert.isFalse(isIgnoredName(name), name)
    for (const name of ["", ".x", "a~", "a.swp", "a.swx", "#a#", "4913", "a/b"]) assert.isTrue(isIgnoredName(name), name)
  })

  it.effect("a refused file is refused once, again only when it changes, and added once fixed", () =>
    Effect.gen(function*() {
      const { changes, files, settler } = yield* setup
      files.set("svc", { dev: 1, ino: 7, size: 1, mtimeMs: 0, refusal: "group-writable" })
      yield* settler.check("svc")
      yield* settler.hint("svc") // an event that changed nothing
      yield* TestClock.adjust("1 second")
      files.set("svc", { dev: 1, ino: 7, size: 2, mtimeMs: 1, refusal: "group-writable" }) // edited, still refused
      yield* settler.hint("svc")
      yield* TestClock.adjust("1 second")
      files.set("svc", { dev: 1, ino: 7, size: 2, mtimeMs: 1 }) // chmod go-w
      yield* settler.hint("svc")
      yield* TestClock.adjust("1 second")
      files.set("svc", { dev: 1, ino: 7, size: 2, mtimeMs: 1, refusal: "owned by another" }) // chown
      yield* settler.hint("svc")
      yield* TestClock.adjust("1 second")
      files.delete("svc")
      yield* settler.hint("svc")
      yield* TestClock.adjust("1 second")
      assert.deepStrictEqual(changes, ["Refuse svc", "Refuse svc", "Add svc", "Refuse svc"])
    }))
})

describe("strict modes", () => {
  it("refuses a file writable by group or others, or owned by another user than the daemon's or root", () => {
    assert.isUndefined(strictModesRefusal("/s/web", { mode: 0o100755, uid: 1000 }, 1000))
    assert.isUndefined(strictModesRefusal("/s/web", { mode: 0o100700, uid: 0 }, 1000), "root-owned is fine")
    assert.strictEqual(
      strictModesRefusal("/s/web", { mode: 0o100775, uid: 1000 }, 1000),
      "/s/web is writable by group or others (mode 0775): not run; fix it with `chmod go-w /s/web` " +
        "(or run cronmon with --no-strict-modes)"
    )
    assert.match(strictModesRefusal("/s/web", { mode: 0o100757, uid: 1000 }, 1000) ?? "", /chmod go-w \/s\/web/)
    assert.strictEqual(
      strictModesRefusal("/s/web", { mode: 0o100755, uid: 1001 }, 1000),
      "/s/web is owned by uid 1001, neither cronmon's user (uid 1000) nor root: not run; " +
        "fix it with `chown 1000 /s/web` (or run cronmon with --no-strict-modes)"
    )
    assert.strictEqual(
      strictModesRefusal("/s", { mode: 0o40777, uid: 0 }, 0, "web"),
      "the scripts directory /s is writable by group or others (mode 0777): web is not run; " +
        "fix it with `chmod go-w /s` (or run cronmon with --no-strict-modes)"
    )
  })

  it("diff: refused files are no services", () => {
    const ok: Fingerprint = { dev: 1, ino: 1, size: 1, mtimeMs: 0 }
    const refused: Fingerprint = { ...ok, refusal: "why" }
    assert.deepStrictEqual(diff("a", undefined, refused), { _tag: "Refuse", name: "a", reason: "why" })
    assert.deepStrictEqual(diff("a", ok, refused), { _tag: "Refuse", name: "a", reason: "why" })
    assert.isUndefined(diff("a", refused, refused))
    assert.deepStrictEqual(diff("a", refused, ok), { _tag: "Add", name: "a" })
    assert.isUndefined(diff("a", refused, undefined))
    assert.deepStrictEqual(diff("a", ok, undefined), { _tag: "Remove", name: "a" })
  })
})
