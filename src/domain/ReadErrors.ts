/**
 * The tagged errors of the commands that read the journal and the logs
 * (`status`, `journal`, `logs`). Apart from `Errors.ts`, whose plain
 * helpers the lean control path and the cron tick load without Effect.
 *
 * @since 0.1.0
 */
import { Data } from "effect"
import { readFailure } from "./Errors.ts"

/**
 * A file or directory that a command could not read; its message is
 * `readFailure`'s one line.
 *
 * @since 0.1.0
 */
export class Unreadable extends Data.TaggedError("Unreadable")<{
  /** What it is, as the message names it: `the journal`, `the log`. */
  readonly what: string
  readonly path: string
  readonly cause: unknown
}> {
  override get message() {
    return readFailure(this.what, this.path, this.cause)
  }
}

/**
 * A file given as a journal that is not one (`notAJournal` says why): the
 * commands that read the journal refuse it (exit 4, its state unknown), and
 * write nothing to it.
 *
 * @since 0.1.0
 */
export class NotAJournal extends Data.TaggedError("NotAJournal")<{
  readonly path: string
  readonly reason: string
}> {
  override get message() {
    return `the journal ${this.path} is ${this.reason}`
  }
}
