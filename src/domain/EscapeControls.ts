/**
 * One line per record, whatever a name holds.
 *
 * @since 0.1.0
 */

/**
 * Control characters (a newline in a file name) written as JSON escapes, so
 * that one event or one row stays one line.
 *
 * @example
 * ```ts
 * escapeControls("new\nline") // "new\\nline"
 * ```
 * @since 0.1.0
 */
export const escapeControls = (text: string): string =>
  text.replace(/[\u0000-\u001f\u007f]/g, (c) => JSON.stringify(c).slice(1, -1))
