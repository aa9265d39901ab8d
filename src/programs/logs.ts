/**
 * `cronmon logs NAME`: the last lines a service printed, across its rotated
 * logs, and with `--follow` what it prints next, through rotations.
 *
 * @since 0.1.0
 */
import { Console, Data, Duration, Effect } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { errorCode } from "../domain/Errors.ts"
import { Unreadable } from "../domain/ReadErrors.ts"
import { linesBackward } from "../domain/LinesBackward.ts"
import { openRegularFile, randomAccess } from "../internal/Files.ts"
import { follower } from "../internal/Follow.ts"

const ROTATED = /\.log\.(\d+)$/

/**
 * The service has no log file, current or rotated.
 *
 * @since 0.1.0
 */
export class NoLog extends Data.TaggedError("NoLog")<{ readonly name: string; readonly logsDir: string }> {
  override get message() {
    return `no log for ${this.name} in ${this.logsDir}`
  }
}

/**
 * A service's log files, newest first: `NAME.log`, `NAME.log.1`, `NAME.log.2`, …
 * None when the directory is missing; throws when it cannot be read.
 *
 * @since 0.1.0
 */
export const logFiles = (logsDir: string, name: string): Array<string> => {
  let entries: Array<string> = []
  try {
    entries = fs.readdirSync(logsDir)
  } catch (error) {
    // No directory yet is no log yet; any other failure is the user's to know.
    if (errorCode(error) === "ENOENT") return []
    throw new Unreadable({ what: "the logs directory", path: logsDir, cause: error })
  }
  const prefix = `${name}.log`
  const rotated = entries
    .filter((entry) => entry.startsWith(`${prefix}.`) && ROTATED.test(entry))
    .map((entry) => ({ entry, n: Number(ROTATED.exec(entry)?.[1]) }))
    .sort((a, b) => a.n - b.n)
    .map(({ entry }) => path.join(logsDir, entry))
  return [...(entries.includes(prefix) ? [path.join(logsDir, prefix)] : []), ...rotated]
}

/**
 * The last `count` lines of a service's output (oldest first), read
 * backwards from `NAME.log` into its rotated files as far as needed.
 * `NAME.log` is read up to `end` when given (where following starts).
 *
 * @since 0.1.0
 */
export const lastLines = (files: ReadonlyArray<string>, count: number, end?: { readonly fd: number; readonly end: number }): Array<string> => {
  const lines: Array<string> = []
  for (const [i, file] of files.entries()) {
    if (lines.length >= count) break
    const fd = i === 0 && end !== undefined ? end.fd : openRegularFile(file)
    try {
      const access = randomAccess(fd)
      for (const line of linesBackward(access, i === 0 && end !== undefined ? end.end : access.size)) {
        if (lines.length >= count) break
        lines.push(line)
      }
    } finally {
      if (!(i === 0 && end !== undefined)) fs.closeSync(fd)
    }
  }
  return lines.reverse()
}

/**
 * Prints the last `count` lines of `name`'s output; with `follow`, then
 * what it prints next until interrupted. Fails with `NoLog` when the service
 * has no log, `Unreadable` when a log or the directory cannot be read.
 *
 * @since 0.1.0
 */
export const logsCommand = (
  logsDir: string,
  name: string,
  options: { readonly count: number; readonly follow: boolean }
): Effect.Effect<void, NoLog | Unreadable> =>
  Effect.gen(function*() {
    const main = path.join(logsDir, `${name}.log`)
    // What a log file or the listing threw, named (the listing's own error names the directory).
    const unreadable = (cause: unknown) =>
      cause instanceof Unreadable ? cause : new Unreadable({ what: "the log", path: main, cause })
    const files = yield* Effect.try({ try: () => logFiles(logsDir, name), catch: unreadable })
    if (files.length === 0 && !options.follow) return yield* new NoLog({ name, logsDir })
    const follow = yield* Effect.try({
      try: () =>
        follower(main, {
          missingOk: true,
          quietOnReplace: true,
          rotations: () => logFiles(logsDir, name).filter((file) => file !== main)
        }),
      catch: unreadable
    })
    const opened = follow.openedAt()
    const first = yield* Effect.try({
      // Following starts after the last complete line: a line being written
      // is printed once whole.
      try: () =>
        lastLines(
          opened === undefined ? files.filter((file) => file !== main) : files,
          options.count,
          options.follow ? opened : undefined
        ),
      catch: unreadable
    })
    if (first.length > 0) yield* Console.log(first.join("\n"))
    if (!options.follow) return follow.close()
    yield* Effect.forever(
      Effect.andThen(
        Effect.flatMap(Effect.try({ try: () => follow.poll(), catch: unreadable }), ({ lines, notice }) =>
          Effect.andThen(
            notice === undefined ? Effect.void : Console.error(`cronmon: ${notice}`),
            lines.length === 0 ? Effect.void : Console.log(lines.join("\n"))
          )),
        Effect.sleep(Duration.millis(200))
      )
    ).pipe(Effect.ensuring(Effect.sync(() => follow.close())))
  })
