/**
 * How the commands that print for people print: colour and aligned columns
 * on a terminal (never colour with `NO_COLOR` set), plain and stable text
 * otherwise; compact durations.
 *
 * @since 0.1.0
 */

/**
 * The colours used.
 *
 * @since 0.1.0
 */
export type Colour = "green" | "yellow" | "red" | "dim" | "bold"

const CODES: Readonly<Record<Colour, string>> = { green: "32", yellow: "33", red: "31", dim: "2", bold: "1" }

/**
 * Whether to colour and to align.
 *
 * @since 0.1.0
 */
export interface Style {
  readonly aligned: boolean
  readonly colour: (colour: Colour, text: string) => string
}

/**
 * Plain: no colour, tab-separated columns (for scripts, files, tests).
 *
 * @since 0.1.0
 */
export const plain: Style = { aligned: false, colour: (_, text) => text }

/**
 * The style for a stream: aligned on a terminal, coloured there too unless
 * `NO_COLOR` is set (to anything non-empty, as no-color.org says).
 *
 * @example
 * ```ts
 * const style = styleFor(process.stdout.isTTY === true, process.env)
 * ```
 * @since 0.1.0
 */
export const styleFor = (isTTY: boolean, env: Readonly<Record<string, string | undefined>>): Style => {
  if (!isTTY) return plain
  const noColour = (env["NO_COLOR"] ?? "") !== ""
  return {
    aligned: true,
    colour: noColour ? plain.colour : (colour, text) => `\u001b[${CODES[colour]}m${text}\u001b[0m`
  }
}

const ANSI = /\u001b\[[0-9;]*m/g

const width = (text: string): number => text.replace(ANSI, "").length

/**
 * A table as lines: a header then the rows; columns padded to their widest
 * cell when aligned, separated by one tab otherwise.
 *
 * @since 0.1.0
 */
export const table = (
  header: ReadonlyArray<string>,
  rows: ReadonlyArray<ReadonlyArray<string>>,
  style: Style
): Array<string> => {
  const all = [header.map((cell) => style.colour("bold", cell)), ...rows]
  if (!style.aligned) return all.map((row) => row.join("\t"))
  const widths = header.map((_, i) => Math.max(...all.map((row) => width(row[i] ?? ""))))
  return all.map((row) =>
    row.map((cell, i) => i === row.length - 1 ? cell : cell + " ".repeat((widths[i] ?? 0) - width(cell))).join("  ")
  )
}

/**
 * A duration in its two largest units: `45s`, `3m12s`, `2h5m`, `3d4h`.
 *
 * @since 0.1.0
 */
export const formatDuration = (millis: number): string => {
  const seconds = Math.max(0, Math.floor(millis / 1000))
  const units: ReadonlyArray<readonly [string, number]> = [["d", 86_400], ["h", 3_600], ["m", 60], ["s", 1]]
  const parts: Array<string> = []
  let rest = seconds
  for (const [unit, size] of units) {
    const count = Math.floor(rest / size)
    rest -= count * size
    if (count > 0 || (parts.length > 0 && parts.length < 2)) parts.push(`${count}${unit}`)
    if (parts.length === 2) break
  }
  return parts.length === 0 ? "0s" : parts.join("").replace(/(\d+[dhm])0[hms]$/, "$1")
}

/**
 * How long ago: `3m12s ago`, or `just now`.
 *
 * @since 0.1.0
 */
export const formatAgo = (millis: number): string => millis < 1000 ? "just now" : `${formatDuration(millis)} ago`
