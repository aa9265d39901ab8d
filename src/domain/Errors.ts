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
 * The message of an error, without Node's `ECODE: ` prefix.
 *
 * @since 0.1.0
 */
export const errorMessage = (error: unknown): string =>
  error instanceof Error ? error.message.replace(/^E[A-Z]+: /, "") : String(error)
