import { assert, describe, it } from "@effect/vitest"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { ensureDirectory } from "../src/internal/Directories.ts"

describe("ensureDirectory", () => {
  it("creates missing levels with the mode, and accepts what exists", () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), "cronmon-dirs-"))
    const dir = path.join(root, "a", "b", "c")
    ensureDirectory(dir, 0o750)
    ensureDirectory(dir, 0o750)
    for (const level of ["a", "a/b", "a/b/c"]) {
      assert.strictEqual(fs.statSync(path.join(root, level)).mode & 0o777, 0o750, level)
    }
    fs.rmSync(root, { recursive: true })
  })

  it("fails, rather than spinning, where mkdir keeps answering ENOENT (Node's recursive mkdir loops under /proc)", () => {
    assert.throws(() => ensureDirectory("/proc/cronmon-does-not-exist/journal", 0o750), /ENOENT/)
  })

  it("fails where a level is a file", () => {
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "cronmon-dirs-")), "file")
    fs.writeFileSync(file, "")
    assert.throws(() => ensureDirectory(path.join(file, "sub"), 0o750), /ENOTDIR/)
  })
})
