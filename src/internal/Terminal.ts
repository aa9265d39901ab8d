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

// Printable ASCII: one column per character. Only other text is segmented
// (building an Intl.Segmenter loads ICU's break rules: some 20 ms).
const ASCII = /^[\u0020-\u007e]*$/
let segmenter: Intl.Segmenter | undefined

/** Marks, format and control characters: no column of their own (U+0301, U+200B, U+200D). */
const ZERO_WIDTH = /^[\p{Mn}\p{Me}\p{Cf}\p{Cc}]/u
/** Emoji drawn as pictures: by default (☕, 👨‍👩‍👧, 🇫🇷) or asked for with VS16 (❤️, 1️⃣). */
const EMOJI = /\p{Emoji_Presentation}|\p{Emoji}\uFE0F/u

// East Asian Width W and F, by block (emoji aside, matched above): Hangul
// Jamo, CJK radicals to CJK symbols, kana to CJK Extension A, CJK
// ideographs and Yi, Hangul Jamo Extended-A and syllables, compatibility
// ideographs, vertical and compatibility forms, fullwidth forms, Tangut and
// Khitan, kana supplements and Nushu, enclosed ideographs, planes 2 and 3.
const WIDE: ReadonlyArray<readonly [number, number]> = [
  [0x1100, 0x115F], [0x2329, 0x232A], [0x2E80, 0x303E], [0x3041, 0x3247], [0x3250, 0x4DBF], [0x4E00, 0xA4CF],
  [0xA960, 0xA97F], [0xAC00, 0xD7A3], [0xF900, 0xFAFF], [0xFE10, 0xFE19], [0xFE30, 0xFE6F], [0xFF00, 0xFF60],
  [0xFFE0, 0xFFE6], [0x16FE0, 0x18DFF], [0x1AFF0, 0x1B2FF], [0x1F200, 0x1F2FF], [0x20000, 0x3FFFD]
]

/** The columns a grapheme cluster takes on a terminal: its first code point decides, or its emoji presentation. */
const clusterWidth = (cluster: string): number => {
  if (ZERO_WIDTH.test(cluster)) return 0
  if (EMOJI.test(cluster)) return 2
  const first = cluster.codePointAt(0) ?? 0
  return WIDE.some(([from, to]) => first >= from && first <= to) ? 2 : 1
}

/**
 * The columns `text` takes on a terminal, colour codes left out: East Asian
 * wide and fullwidth characters and emoji take two, combining marks none
 * (`displayWidth("名前") === 4`, `displayWidth("cafe\u0301") === 4`).
 *
 * @since 0.1.0
 */
export const displayWidth = (text: string): number => {
  const visible = text.replace(ANSI, "")
  if (ASCII.test(visible)) return visible.length
  segmenter ??= new Intl.Segmenter()
  let columns = 0
  for (const { segment } of segmenter.segment(visible)) columns += clusterWidth(segment)
  return columns
}

/**
 * A table as lines: a header then the rows; columns padded to their widest
 * cell (in terminal columns: {@link displayWidth}) when aligned, separated by
 * one tab otherwise.
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
  const widths = header.map((_, i) => Math.max(...all.map((row) => displayWidth(row[i] ?? ""))))
  const pad = (cell: string, i: number) => cell + " ".repeat((widths[i] ?? 0) - displayWidth(cell))
  return all.map((row) => row.map((cell, i) => i === row.length - 1 ? cell : pad(cell, i)).join("  "))
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
