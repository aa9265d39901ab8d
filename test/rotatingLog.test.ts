/**
 * RotatingLog: rotation at line ends, files kept, timestamps, dropping
 * instead of waiting.
 */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterEach, beforeEach, describe, expect, it } from "vitest"
import { RotatingLog, type RotatingLogOptions, rotatedNames } from "../src/layers/RotatingLog.ts"

describe("RotatingLog", () => {
  let dir: string
  let file: string
  let warnings: Array<string>
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "cronmon-log-"))
    file = path.join(dir, "logs", "svc.log")
    warnings = []
  })
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }))

  const make = (options: Partial<RotatingLogOptions> = {}) =>
    new RotatingLog({
      file,
      maxBytes: 20,
      keep: 2,
      timestamps: false,
      now: () => Date.UTC(2026, 10, 23, 20, 0, 0),
      warn: (message) => void warnings.push(message),
      ...options
    })
  const read = (name: string) => fs.existsSync(name) ? fs.readFileSync(name, "utf8") : undefined

  it("says when it is behind, and wakes its writer once the queue has room again", async () => {
    const log = make({ maxBytes: 1 << 30, maxPendingBytes: 1 << 20 })
    expect(log.behind).toBe(false)
    for (let i = 0; i < 6; i++) log.push(Buffer.from(`${"x".repeat(99_999)}\n`))
    // 600 KB queued: past half the bound, nothing dropped.
    expect(log.behind).toBe(true)
    let woken = false
    const room = log.room(60_000).then(() => {
      woken = true
    })
    expect(woken).toBe(false)
    await room
    expect(log.behind).toBe(false)
    await log.close()
    expect(fs.statSync(file).size).toBe(600_000)
    expect(warnings).toEqual([])
  })

  it("rotates at the last line end that fits, never splitting a line", async () => {
    const log = make()
    // Chunks cut mid-line, as a pipe delivers them.
    for (const chunk of ["aaaaaa\nbbb", "bbb\ncccccc\ndd", "dddd\n"]) log.push(Buffer.from(chunk))
    await log.close()
    // A third 7-byte line would make 21 bytes.
    expect(read(`${file}.1`)).toBe("aaaaaa\nbbbbbb\n")
    expect(read(file)).toBe("cccccc\ndddddd\n")
    expect(fs.statSync(file).mode & 0o777).toBe(0o600)
  })

  it("keeps `keep` rotated files, newest first, and loses no line that fits", async () => {
    const log = make({ maxBytes: 10 })
    for (let i = 0; i < 5; i++) {
      log.push(Buffer.from(`line-${i}-xx\n`)) // 10 bytes: one line per file
      await log.flushed()
    }
    await log.close()
    expect([read(file), read(`${file}.1`), read(`${file}.2`), read(`${file}.3`)])
      .toEqual(["line-4-xx\n", "line-3-xx\n", "line-2-xx\n", undefined])
  })

  it("with keep 0 starts the log again", async () => {
    const log = make({ maxBytes: 10, keep: 0 })
    log.push(Buffer.from("line-0-xx\nline-1-xx\n"))
    await log.close()
    expect([read(file), read(`${file}.1`)]).toEqual(["line-1-xx\n", undefined])
  })

  it("fills a partial line already in the file up to maxBytes, then goes on in the next file", async () => {
    fs.mkdirSync(path.dirname(file))
    fs.writeFileSync(file, "0123456789012345678") // 19 bytes, no newline
    const log = make()
    log.push(Buffer.from("9-end\nnext\n"))
    await log.close()
    // maxBytes is a cap: the line is split where the file is full.
    expect(read(`${file}.1`)).toBe("01234567890123456789")
    expect(read(file)).toBe("-end\nnext\n")
  })

  it("never grows a file past maxBytes with a line longer than it, time-stamped or not", async () => {
    for (const timestamps of [false, true]) {
      fs.rmSync(path.dirname(file), { recursive: true, force: true })
      const log = make({ maxBytes: 1024, keep: 10, timestamps })
      const line = `${"x".repeat(3000)}\n`
      log.push(Buffer.from(`short\n${line}after\n`))
      await log.close()
      const names = ["svc.log", ...rotatedNames(file, 10).map((name) => path.basename(name))]
      const files = names.map((name) => path.join(path.dirname(file), name)).filter((name) => fs.existsSync(name))
      for (const name of files) expect(fs.statSync(name).size).toBeLessThanOrEqual(1024)
      const text = files.reverse().map(read).join("")
      // One timestamp per line the service wrote: a split line's continuation carries none.
      const stamps = text.match(/^\d{4}-\d\d-\d\dT[\d:.]+Z /gm) ?? []
      expect(stamps.length).toBe(timestamps ? 3 : 0)
      expect(text.replace(/^\d{4}-\d\d-\d\dT[\d:.]+Z /gm, "")).toBe(`short\n${line}after\n`)
    }
  })

  it("ends a line left open when a writer's output ends, with timestamps", async () => {
    const log = make({ maxBytes: 1000, timestamps: true })
    log.push(Buffer.from("no newline at exit"))
    log.endLine()
    log.push(Buffer.from("next run\n"))
    log.endLine()
    await log.close()
    expect(read(file)).toMatch(/^\S+Z no newline at exit\n\S+Z next run\n$/)
  })

  it("prefixes each line with the time it was read, across chunks", async () => {
    const log = make({ maxBytes: 1000, timestamps: true })
    log.push(Buffer.from("one\ntw"))
    log.push(Buffer.from("o\nthree\n"))
    await log.close()
    const stamp = "2026-11-23T20:00:00.000Z "
    expect(read(file)).toBe(`${stamp}one\n${stamp}two\n${stamp}three\n`)
  })

  it("drops output past the pending bound with one warning instead of waiting", async () => {
    const log = make({ maxBytes: 1 << 20, maxPendingBytes: 8 })
    log.push(Buffer.from("1234567\n"))
    log.push(Buffer.from("dropped\n"))
    log.push(Buffer.from("dropped\n"))
    await log.close()
    expect(read(file)).toBe("1234567\n")
    expect(warnings).toHaveLength(1)
    expect(warnings[0]).toContain("output dropped (8 bytes so far)")
  })

  it("drops output it cannot write with a warning, and goes on", async () => {
    fs.mkdirSync(path.dirname(file))
    fs.mkdirSync(file) // a directory where the log should be: every open fails
    const log = make()
    log.push(Buffer.from("lost\n"))
    await log.close()
    expect(warnings).toHaveLength(1)
    expect(warnings[0]).toMatch(/output dropped \(5 bytes so far\): illegal operation on a directory/)
  })

  it("never grows a file past maxBytes when chunks cut lines anywhere", async () => {
    const log = make({ maxBytes: 100, keep: 1000 })
    const text = Array.from({ length: 500 }, (_, i) => `line ${i} ${"x".repeat(i % 37)}\n`).join("")
    // Chunks of 1 to 61 bytes, each written before the next comes.
    for (let at = 0, n = 1; at < text.length; at += n, n = (n * 7) % 61 + 1) {
      log.push(Buffer.from(text.slice(at, at + n)))
      await log.flushed()
    }
    await log.close()
    const rotated = fs.readdirSync(path.dirname(file)).filter((name) => name !== "svc.log")
      .sort((a, b) => Number(b.split(".").pop()) - Number(a.split(".").pop()))
    const files = [...rotated, "svc.log"].map((name) => path.join(path.dirname(file), name))
    expect(files.length).toBeGreaterThan(50)
    for (const name of files) {
      expect(fs.statSync(name).size).toBeLessThanOrEqual(100)
      expect(read(name)?.endsWith("\n")).toBe(true)
    }
    expect(files.map(read).join("")).toBe(text)
  })

  it("writes the start of a line that waits for its end (a prompt) soon anyway", async () => {
    const log = make()
    log.push(Buffer.from("password: "))
    await log.flushed()
    const deadline = Date.now() + 5_000
    while (read(file) !== "password: " && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20))
    expect(read(file)).toBe("password: ")
    await log.close()
  })
})
