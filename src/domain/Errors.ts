/**
 * What a thrown Node error says, for one-line messages.
 *
 * @since 0.1.0
 */

/**
 * The errno code of a Node error (`ENOENT`, `ELOOP`, …), if it has one.
 *
 * @since 0.1.0
 */
export const errorCode = (error: unknown): string | undefined =>
  error instanceof Error && "code" in error && typeof error.code === "string" ? error.code : undefined

/**
 * The message of an error, without Node's `ECODE: ` prefix and its `, open
 * '/path'` suffix (the messages that use it name the path themselves).
 *
 * @since 0.1.0
 */
export const errorMessage = (error: unknown): string =>
  error instanceof Error ? error.message.replace(/^E[A-Z]+: /, "").replace(/, [a-z_]+ '[^']*'(?: -> '[^']*')?$/, "") : String(error)

/**
 * A one-line message for a file or directory that could not be read:
 * `the journal /tmp is a directory`, `cannot read the journal /x: permission denied`.
 *
 * @example
 * ```ts
 * readFailure("the journal", "/tmp", error) // "the journal /tmp is a directory" for EISDIR
 * ```
 * @since 0.1.0
 */
export const readFailure = (what: string, file: string, error: unknown): string => {
  switch (errorCode(error)) {
    case "EISDIR":
      return `${what} ${file} is a directory`
    case "EFTYPE":
      return `${what} ${file} is not a regular file`
    case "ENOTDIR":
      return `${what} ${file} is not a directory (or a part of its path is not)`
    case "ENOENT":
      return `no ${what.replace(/^the /, "")} at ${file}`
    default:
      return `cannot read ${what} ${file}: ${errorMessage(error)}`
  }
}
