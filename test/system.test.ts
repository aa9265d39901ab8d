import { assert, describe, it } from "@effect/vitest"
import { Option } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { checkExecutable, parseProcStat } from "../src/layers/SystemLinux.ts"

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "cronmon-exec-"))
const file = (name: string, content: string | Buffer, mode = 0o755) => {
  const at = path.join(dir, name)
  fs.writeFileSync(at, content)
  fs.chmodSync(at, mode)
  return at
}
const refusal = (at: string) => Option.getOrUndefined(checkExecutable(at))?.code

describe("checkExecutable: what execvp would otherwise run through /bin/sh, or fail on", () => {
  it("accepts scripts with a runnable interpreter, and binaries for this machine", () => {
    assert.isUndefined(refusal(file("script", "#!/bin/sh\nexit 0\n")))
    assert.isUndefined(refusal(file("spaced", "#! /bin/sh -e\nexit 0\n")))
    assert.isUndefined(refusal(file("binary", fs.readFileSync("/bin/true"))))
  })

  it("refuses files that are missing or not executable", () => {
    assert.strictEqual(refusal(path.join(dir, "missing")), "ENOENT")
    if (process.getuid?.() !== 0) assert.strictEqual(refusal(file("plain", "#!/bin/sh\n", 0o644)), "EACCES")
  })

  it("refuses what the kernel cannot execute (ENOEXEC)", () => {
    assert.strictEqual(refusal(file("empty", "")), "ENOEXEC")
    assert.strictEqual(refusal(file("shell-words", "echo hi\n")), "ENOEXEC")
    assert.strictEqual(refusal(file("long-bang", `#!/${"/".repeat(300)}bin/sh\necho\n`)), "ENOEXEC")
    assert.strictEqual(refusal(file("empty-bang", "#!\n")), "ENOEXEC")
    assert.strictEqual(refusal(file("truncated-elf", "\x7fELFgarbage")), "ENOEXEC")
    const foreign = Buffer.from(fs.readFileSync("/bin/true"))
    foreign.writeUInt16LE(foreign.readUInt16LE(18) === 62 ? 183 : 62, 18)
    assert.strictEqual(refusal(file("foreign-elf", foreign)), "ENOEXEC")
  })

  it("accepts a 32-bit binary that a 64-bit kernel runs too (i386 on x86-64)", () => {
    if (process.arch !== "x64") return
    const elf32 = Buffer.alloc(52 + 32)
    Buffer.from([0x7f, 0x45, 0x4c, 0x46, 1, 1, 1]).copy(elf32) // class 32, little-endian
    elf32.writeUInt16LE(2, 16) // ET_EXEC
    elf32.writeUInt16LE(3, 18) // EM_386
    elf32.writeUInt32LE(52, 28) // program headers right after the header
    elf32.writeUInt16LE(32, 42)
    elf32.writeUInt16LE(1, 44)
    assert.isUndefined(refusal(file("i386", elf32)))
  })

  it("refuses a binary for this machine that the kernel's loader would not load (execvp would run it through /bin/sh)", () => {
    const binary = fs.readFileSync("/bin/true")
    // A header over garbage: no program headers.
    const header = Buffer.alloc(64)
    binary.copy(header, 0, 0, 20)
    assert.strictEqual(refusal(file("header-only", header)), "ENOEXEC")
    // Cut off before its program headers end.
    assert.strictEqual(refusal(file("cut-elf", binary.subarray(0, 100))), "ENOEXEC")
    // An object file, not an executable.
    const object = Buffer.from(binary)
    object.writeUInt16LE(1, 16)
    assert.strictEqual(refusal(file("object-elf", object)), "ENOEXEC")
  })

  it("refuses a bad interpreter: missing, a directory, not executable", () => {
    assert.strictEqual(refusal(file("no-interp", "#!/nonexistent/sh\n")), "ENOENT")
    assert.strictEqual(refusal(file("dir-interp", "#!/tmp\n")), "EACCES")
    assert.strictEqual(refusal(file("data-interp", "#!/etc/passwd\n")), "EACCES")
  })
})

describe("parseProcStat", () => {
  it("counts fields from the last parenthesis (command names may hold spaces and parentheses)", () => {
    const stat = "42 (a (b) c) S 1 42 42 0 -1 4194560 0 0 0 0 7 5 0 0 20 0 1 0 123456 0 0"
    assert.deepStrictEqual(parseProcStat(stat, 1_000_000), {
      state: "S",
      ppid: 1,
      pgid: 42,
      cpuTicks: 12,
      startTime: "123456",
      startedAt: 1_000_000 + 1_234_560
    })
  })
})
