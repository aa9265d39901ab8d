/**
 * RotatingLog and the live ServiceLogs: rotation at line ends, files kept,
 * timestamps, pacing (a writer waits for the disk), dropping only when the
 * disk fails or stalls, and a log shared by the writers of one name and
 * released with the last of them.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber, Layer, Stream } from "effect"
import { TestClock } from "effect/testing"
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as JournalMemory from "../src/layers/JournalMemory.ts"
import { rotatedNames, type RotatingLogOptions } from "../src/internal/RotatingLog.ts"
import * as RotatingLog from "../src/internal/RotatingLog.ts"
import * as ServiceLogsFile from "../src/layers/ServiceLogsFile.ts"
import { ServiceLogs } from "../src/services/ServiceLogs.ts"
import { makeSettings, Settings, type SettingsShape } from "../src/services/Settings.ts"

const PIPE_BYTES = 64 * 1024

// A temporary directory, removed with the test's scope; `file` is its logs/svc.log.
const sandbox = Effect.acquireRelease(
  Effect.sync(() => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "cronmon-log-"))
    const file = path.join(dir, "logs", "svc.log")
    const warnings: Array<string> = []
    const read = (name: string) => fs.existsSync(name) ? fs.readFileSync(name, "utf8") : undefined
    // A log that takes bytes only as fast as the test reads them: a FIFO
    // (the log's own read-write descriptor keeps it open).
    const slowDisk = () => {
      fs.mkdirSync(path.dirname(file), { recursive: true })
      execFileSync("mkfifo", ["-m", "600", file])
      const reader = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK)
      const buffer = Buffer.alloc(1 << 20)
      const received: Array<Buffer> = []
      const readAvailable = () => {
        let bytes = 0
        for (;;) {
          try {
            const n = fs.readSync(reader, buffer)
            if (n <= 0) return bytes
            received.push(Buffer.from(buffer.subarray(0, n)))
            bytes += n
          } catch {
            return bytes // EAGAIN: nothing more for now
          }
        }
      }
      return { readAvailable, received: () => Buffer.concat(received).toString(), close: () => fs.closeSync(reader) }
    }
    const make = (options: Partial<RotatingLogOptions> = {}) =>
      RotatingLog.make({
        file,
        maxBytes: 20,
        keep: 2,
        timestamps: false,
        warn: (message) => Effect.sync(() => void warnings.push(message)),
        ...options
      })
    return { dir, file, warnings, read, slowDisk, make }
  }),
  ({ dir }) => Effect.sync(() => fs.rmSync(dir, { recursive: true, force: true }))
)

// Real time, for what the disk does in its own threads.
const pause = (millis: number) => Effect.promise(() => new Promise((resolve) => setTimeout(resolve, millis)))

// Until `condition` holds, for at most 5 s of real time.
const until = (what: string, condition: () => boolean) =>
  Effect.promise(async () => {
    const deadline = Date.now() + 5_000
    while (!condition()) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
      await new Promise((resolve) => setTimeout(resolve, 5))
    }
  })

describe("RotatingLog", () => {
  it.effect("rotates at the last line end that fits, never splitting a line", () =>
    Effect.gen(function*() {
      const { file, make, read } = yield* sandbox
      yield* Effect.scoped(Effect.gen(function*() {
        const log = yield* make()
        // Chunks cut mid-line, as a pipe delivers them.
        for (const chunk of ["aaaaaa\nbbb", "bbb\ncccccc\ndd", "dddd\n"]) yield* log.write([Buffer.from(chunk)])
      }))
      // A third 7-byte line would make 21 bytes.
      assert.strictEqual(read(`${file}.1`), "aaaaaa\nbbbbbb\n")
      assert.strictEqual(read(file), "cccccc\ndddddd\n")
      assert.strictEqual(fs.statSync(file).mode & 0o777, 0o600)
    }))

  it.effect("keeps `keep` rotated files, newest first, and loses no line that fits", () =>
    Effect.gen(function*() {
      const { file, make, read } = yield* sandbox
      yield* Effect.scoped(Effect.gen(function*() {
        const log = yield* make({ maxBytes: 10 })
        for (let i = 0; i < 5; i++) yield* log.write([Buffer.from(`line-${i}-xx\n`)]) // 10 bytes: one line per file
      }))
      assert.deepStrictEqual(
        [read(file), read(`${file}.1`), read(`${file}.2`), read(`${file}.3`)],
        ["line-4-xx\n", "line-3-xx\n", "line-2-xx\n", undefined]
      )
    }))

  it.effect("with keep 0 starts the log again", () =>
    Effect.gen(function*() {
      const { file, make, read } = yield* sandbox
      yield* Effect.scoped(Effect.flatMap(make({ maxBytes: 10, keep: 0 }), (log) => log.write([Buffer.from("line-0-xx\nline-1-xx\n")])))
      assert.deepStrictEqual([read(file), read(`${file}.1`)], ["line-1-xx\n", undefined])
    }))

  it.effect("fills a partial line already in the file up to maxBytes, then goes on in the next file", () =>
    Effect.gen(function*() {
      const { file, make, read } = yield* sandbox
      fs.mkdirSync(path.dirname(file))
      fs.writeFileSync(file, "0123456789012345678") // 19 bytes, no newline
      yield* Effect.scoped(Effect.flatMap(make(), (log) => log.write([Buffer.from("9-end\nnext\n")])))
      // maxBytes is a cap: the line is split where the file is full.
      assert.strictEqual(read(`${file}.1`), "01234567890123456789")
      assert.strictEqual(read(file), "-end\nnext\n")
    }))

  it.effect("never grows a file past maxBytes with a line longer than it, time-stamped or not", () =>
    Effect.gen(function*() {
      const { file, make, read } = yield* sandbox
      for (const timestamps of [false, true]) {
        fs.rmSync(path.dirname(file), { recursive: true, force: true })
        const line = `${"x".repeat(3000)}\n`
        yield* Effect.scoped(Effect.flatMap(
          make({ maxBytes: 1024, keep: 10, timestamps }),
          (log) => log.write([Buffer.from(`short\n${line}after\n`)])
        ))
        const files = [file, ...rotatedNames(file, 10)].filter((name) => fs.existsSync(name))
        for (const name of files) assert.isAtMost(fs.statSync(name).size, 1024)
        const text = files.reverse().map(read).join("")
        // One timestamp per line the service wrote: a split line's continuation carries none.
        const stamps = text.match(/^\d{4}-\d\d-\d\dT[\d:.]+Z /gm) ?? []
        assert.strictEqual(stamps.length, timestamps ? 3 : 0)
        assert.strictEqual(text.replace(/^\d{4}-\d\d-\d\dT[\d:.]+Z /gm, ""), `short\n${line}after\n`)
      }
    }))

  it.effect("ends a line left open when a writer's output ends, with timestamps", () =>
    Effect.gen(function*() {
      const { file, make, read } = yield* sandbox
      yield* Effect.scoped(Effect.gen(function*() {
        const log = yield* make({ maxBytes: 1000, timestamps: true })
        yield* log.write([Buffer.from("no newline at exit")])
        yield* log.endLine
        yield* log.write([Buffer.from("next run\n")])
        yield* log.endLine
      }))
      assert.match(read(file) ?? "", /^\S+Z no newline at exit\n\S+Z next run\n$/)
    }))

  it.effect("prefixes each line with the time it was read, across chunks", () =>
    Effect.gen(function*() {
      const { file, make, read } = yield* sandbox
      yield* TestClock.setTime(Date.UTC(2026, 10, 23, 20, 0, 0))
      yield* Effect.scoped(Effect.gen(function*() {
        const log = yield* make({ maxBytes: 1000, timestamps: true })
        yield* log.write([Buffer.from("one\ntw")])
        yield* log.write([Buffer.from("o\nthr"), Buffer.from("ee\n")])
      }))
      const stamp = "2026-11-23T20:00:00.000Z "
      assert.strictEqual(read(file), `${stamp}one\n${stamp}two\n${stamp}three\n`)
    }))

  it.effect("drops output it cannot write with a warning, and goes on", () =>
    Effect.gen(function*() {
      const { file, make, warnings } = yield* sandbox
      fs.mkdirSync(file, { recursive: true }) // a directory where the log should be: every open fails
      yield* Effect.scoped(Effect.gen(function*() {
        const log = yield* make()
        yield* log.write([Buffer.from("lost\n")])
        yield* log.write([Buffer.from("lost too\n")])
      }))
      // One warning when the outage starts; the next within a minute is counted, not said.
      assert.strictEqual(warnings.length, 1)
      assert.match(warnings[0] ?? "", /output dropped \(5 bytes so far\): illegal operation on a directory/)
    }))

  it.effect("never grows a file past maxBytes when chunks cut lines anywhere", () =>
    Effect.gen(function*() {
      const { file, make, read } = yield* sandbox
      const text = Array.from({ length: 500 }, (_, i) => `line ${i} ${"x".repeat(i % 37)}\n`).join("")
      yield* Effect.scoped(Effect.gen(function*() {
        const log = yield* make({ maxBytes: 100, keep: 1000 })
        // Chunks of 1 to 61 bytes, each written before the next comes.
        for (let at = 0, n = 1; at < text.length; at += n, n = (n * 7) % 61 + 1) {
          yield* log.write([Buffer.from(text.slice(at, at + n))])
        }
      }))
      const files = [...rotatedNames(file, 1000).filter((name) => fs.existsSync(name)).reverse(), file]
      assert.isAbove(files.length, 50)
      for (const name of files) {
        assert.isAtMost(fs.statSync(name).size, 100)
        assert.isTrue(read(name)?.endsWith("\n"))
      }
      assert.strictEqual(files.map(read).join(""), text)
    }))

  it.effect("holds the start of a line for its end, and writes it 100 ms after the last output (a prompt)", () =>
    Effect.gen(function*() {
      const { file, make, read } = yield* sandbox
      const log = yield* make()
      yield* log.write([Buffer.from("ok\npass")])
      assert.strictEqual(read(file), "ok\n")
      yield* TestClock.adjust("60 millis")
      yield* log.write([Buffer.from("word: ")])
      // 159 ms after the line began, 99 ms after its last part: still held.
      yield* TestClock.adjust("99 millis")
      yield* pause(50)
      assert.strictEqual(read(file), "ok\n")
      yield* TestClock.adjust("1 millis")
      yield* until("the prompt in the file", () => read(file) === "ok\npassword: ")
    }))

  it.effect("returns only once its batch is written: a writer waits for a slow disk", () =>
    Effect.gen(function*() {
      const { make, slowDisk } = yield* sandbox
      const disk = slowDisk()
      const text = Array.from({ length: 4000 }, (_, i) => `line ${i} ${"y".repeat(i % 80)}\n`).join("")
      const bytes = Buffer.byteLength(text)
      assert.isAbove(bytes, 2 * PIPE_BYTES)
      const log = yield* make({ maxBytes: 1 << 30 })
      const writing = yield* Effect.forkChild(log.write([Buffer.from(text)]), { startImmediately: true })
      let read = 0
      while (read < bytes) {
        // Done only once all but what the FIFO holds has been taken.
        if (writing.pollUnsafe() !== undefined) assert.isAtLeast(read, bytes - PIPE_BYTES)
        read += disk.readAvailable()
        yield* pause(1)
      }
      yield* Fiber.join(writing)
      assert.strictEqual(disk.received(), text)
      disk.close()
    }))

  it.effect("drops output while a write has not finished for 5 s (a stalled disk), with one warning", () =>
    Effect.gen(function*() {
      const { make, slowDisk, warnings } = yield* sandbox
      const disk = slowDisk()
      const log = yield* make({ maxBytes: 1 << 30 })
      // More than the FIFO holds, nothing read: the write cannot finish.
      const stalled = `${"s".repeat(2 * PIPE_BYTES)}\n`
      const writing = yield* Effect.forkChild(log.write([Buffer.from(stalled)]), { startImmediately: true })
      yield* TestClock.adjust("4999 millis")
      assert.isUndefined(writing.pollUnsafe())
      yield* TestClock.adjust("1 millis")
      yield* Fiber.join(writing)
      // Past the patience: dropped at once, one warning.
      yield* log.write([Buffer.from("dropped\n")])
      yield* log.write([Buffer.from("dropped too\n")])
      assert.strictEqual(warnings.length, 1)
      assert.match(warnings[0] ?? "", /output dropped \(8 bytes so far\): the disk has not finished a write for 5 s/)
      // Once the disk takes the stalled write, output is written again.
      const deadline = Date.now() + 5_000
      while (!disk.received().endsWith("written\n")) {
        assert.isBelow(Date.now(), deadline)
        disk.readAvailable()
        yield* log.write([Buffer.from("written\n")])
        disk.readAvailable()
        yield* pause(1)
      }
      assert.strictEqual(disk.received(), `${stalled}written\n`)
      disk.close()
    }))
})

describe("ServiceLogsFile", () => {
  const logsFor = (dir: string, settings: Partial<SettingsShape> = {}) =>
    ServiceLogsFile.layer.pipe(
      Layer.provideMerge(JournalMemory.layer()),
      Layer.provide(Layer.succeed(
        Settings,
        makeSettings({ scriptsDir: dir, journalPath: dir, logsDir: path.join(dir, "logs"), ...settings })
      ))
    )
  const descriptorsOf = (file: string) =>
    fs.readdirSync("/proc/self/fd").filter((fd) => {
      try {
        return fs.readlinkSync(`/proc/self/fd/${fd}`) === file
      } catch {
        return false // gone since the listing
      }
    }).length

  it.effect("pulls a service's output only as fast as the disk takes it, losing none", () =>
    Effect.gen(function*() {
      const { dir, slowDisk } = yield* sandbox
      const disk = slowDisk()
      const chunk = `${"z".repeat(PIPE_BYTES - 1)}\n`
      const chunks = 40
      let pulled = 0
      const output = Stream.fromEffectRepeat(Effect.sync(() => {
        pulled++
        return Buffer.from(chunk)
      })).pipe(Stream.take(chunks))
      yield* Effect.gen(function*() {
        const logs = yield* ServiceLogs
        const writing = yield* Effect.forkChild(logs.write("svc", output), { startImmediately: true })
        let read = 0
        while (read < chunks * chunk.length) {
          // Pulled: written (read, or in the FIFO), or being written.
          assert.isAtMost(pulled * chunk.length, read + 3 * chunk.length)
          read += disk.readAvailable()
          yield* pause(1)
        }
        yield* Fiber.join(writing)
        assert.strictEqual(disk.received(), chunk.repeat(chunks))
        const entries = yield* (yield* JournalMemory.JournalMemory).entries
        assert.deepStrictEqual(entries.filter((entry) => entry.type === "warning"), [])
      }).pipe(Effect.provide(logsFor(dir)))
      disk.close()
    }))

  it.effect("journals a log's warning before the write that met the failure returns", () =>
    Effect.gen(function*() {
      const { dir, file } = yield* sandbox
      fs.mkdirSync(file, { recursive: true }) // a directory where the log should be: every open fails
      yield* Effect.gen(function*() {
        yield* (yield* ServiceLogs).write("svc", Stream.make(Buffer.from("lost\n")))
        const entries = yield* (yield* JournalMemory.JournalMemory).entries
        const warnings = entries.filter((entry) => entry.type === "warning").map((entry) => entry.data.error)
        assert.strictEqual(warnings.length, 1)
        assert.match(warnings[0] ?? "", /svc\.log: output dropped \(5 bytes so far\)/)
      }).pipe(Effect.provide(logsFor(dir)))
    }))

  it.effect("shares one log between the writers of a name, and closes it when the last ends", () =>
    Effect.gen(function*() {
      const { dir, file, read } = yield* sandbox
      yield* Effect.gen(function*() {
        const logs = yield* ServiceLogs
        const first = yield* Effect.forkChild(
          logs.write("svc", Stream.concat(Stream.make(Buffer.from("first 1\n")), Stream.never)),
          { startImmediately: true }
        )
        yield* until("the first line", () => read(file) === "first 1\n")
        // A second writer: the next run, while the first run's orphan still prints.
        yield* logs.write("svc", Stream.make(Buffer.from("second 1\n"), Buffer.from("second 2\n")))
        assert.strictEqual(read(file), "first 1\nsecond 1\nsecond 2\n")
        assert.strictEqual(descriptorsOf(file), 1)
        yield* Fiber.interrupt(first)
        assert.strictEqual(descriptorsOf(file), 0)
      }).pipe(Effect.provide(logsFor(dir)))
    }))

  it.effect("writes two writers of one name one batch at a time: every line once, no file past the cap", () =>
    Effect.gen(function*() {
      const { dir, file, read } = yield* sandbox
      const lines = (who: string) => Array.from({ length: 200 }, (_, i) => `${who} ${i} ${"x".repeat(i % 23)}\n`)
      // One line per batch, the two writers taking turns.
      const output = (who: string) =>
        Stream.fromIterable(lines(who)).pipe(Stream.rechunk(1), Stream.mapEffect((line) => Effect.as(Effect.yieldNow, Buffer.from(line))))
      yield* Effect.gen(function*() {
        const logs = yield* ServiceLogs
        yield* Effect.all([logs.write("svc", output("a")), logs.write("svc", output("b"))], { concurrency: 2 })
      }).pipe(Effect.provide(logsFor(dir, { logMaxBytes: 200, logKeep: 1000 })))
      const files = [...rotatedNames(file, 1000).filter((name) => fs.existsSync(name)).reverse(), file]
      for (const name of files) {
        assert.isAtMost(fs.statSync(name).size, 200)
        assert.isTrue(read(name)?.endsWith("\n"))
      }
      const written = files.map(read).join("").split("\n").filter((line) => line !== "")
      assert.deepStrictEqual([...written].sort(), [...lines("a"), ...lines("b")].map((line) => line.slice(0, -1)).sort())
    }))
})
