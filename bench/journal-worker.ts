/**
 * Measures the journal layer itself, in a process of its own (run by the
 * harness with the pinned Node, straight from the sources):
 *
 * - `appends FILE COUNT`: COUNT durable appends through the `Journal`, and
 *   as a baseline COUNT `write(2)`s of the same line on a descriptor opened
 *   `O_SYNC | O_APPEND`, as the Go original writes.
 * - `open FILE`: the time to open the journal: lock, repair the tail, and
 *   read the previous state back from its end (after an untimed first open
 *   of a fresh journal, so that loading code is not counted).
 *
 * Prints one JSON object on stdout.
 *
 * @since 0.1.0
 */
import { Effect, Layer } from "effect"
import * as fs from "node:fs"
import { Events, encodeLine } from "../src/domain/JournalEvent.ts"
import * as JournalFile from "../src/layers/JournalFile.ts"
import * as SystemLinux from "../src/layers/SystemLinux.ts"
import { Journal } from "../src/services/Journal.ts"

const [mode = "", file = "", countText = "0"] = process.argv.slice(2)
const journalLayerAt = (target: string) => JournalFile.layer({ path: target }).pipe(Layer.provide(SystemLinux.layer))
const journalLayer = journalLayerAt(file)

const appends = (count: number) =>
  Effect.gen(function*() {
    const journal = yield* Journal
    const start = performance.now()
    for (let i = 0; i < count; i++) yield* journal.append(Events.spawned("svc", 100_000 + i))
    // Appends are queued: they count once they are on disk.
    yield* journal.flush
    return performance.now() - start
  }).pipe(Effect.provide(journalLayer))

const rawAppends = (target: string, count: number): number => {
  const { O_APPEND, O_CREAT, O_SYNC, O_WRONLY } = fs.constants
  const fd = fs.openSync(target, O_WRONLY | O_CREAT | O_APPEND | O_SYNC, 0o600)
  const start = performance.now()
  for (let i = 0; i < count; i++) {
    const line = encodeLine({ time: Date.now(), ...Events.spawned("svc", 100_000 + i) })
    fs.writeSync(fd, `${line}\n`)
  }
  const elapsed = performance.now() - start
  fs.closeSync(fd)
  return elapsed
}

const openJournal = (target: string) =>
  Effect.provide(
    Effect.gen(function*() {
      return yield* Journal
    }),
    journalLayerAt(target)
  )

// A first open of a fresh journal beside it, untimed: the C library loaded
// and the code warm, so that what is timed is what depends on the file.
const open = Effect.gen(function*() {
  yield* openJournal(`${file}.warm`)
  const start = performance.now()
  const journal = yield* openJournal(file)
  return { millis: performance.now() - start, leftovers: journal.previousState.leftovers.length }
})

const main = async () => {
  if (mode === "appends") {
    // Interleaved rounds: the disk's pace drifts while others use it.
    const count = Number(countText)
    let millis = 0
    let rawMillis = 0
    for (let round = 0; round < 5; round++) {
      rawMillis += rawAppends(`${file}.raw`, count / 5)
      millis += await Effect.runPromise(appends(count / 5))
    }
    process.stdout.write(JSON.stringify({ perSecond: (count / millis) * 1000, rawPerSecond: (count / rawMillis) * 1000 }))
  } else if (mode === "open") {
    process.stdout.write(JSON.stringify(await Effect.runPromise(open)))
  } else {
    throw new Error(`usage: journal-worker.ts appends|open FILE [COUNT]`)
  }
}

await main()
