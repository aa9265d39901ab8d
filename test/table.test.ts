/**
 * The aligned table of `status` on a terminal: columns line up in terminal
 * columns, whatever the services are named.
 */
import { stripVTControlCharacters } from "node:util"
import { describe, expect, it } from "vitest"
import { displayWidth, plain, styleFor, table } from "../src/internal/Terminal.ts"

const aligned = styleFor(true, { NO_COLOR: "1" })

describe("displayWidth", () => {
  it.each([
    ["web", 3],
    ["", 0],
    ["café", 4], // é as one code point
    ["cafe\u0301", 4], // e and a combining acute accent
    ["café☕", 6], // a hot beverage: emoji presentation
    ["名前", 4], // CJK ideographs: wide
    ["なまえ", 6], // hiragana
    ["한국", 4], // Hangul syllables
    ["\u1112\u1161\u11ab", 2], // the same syllable 한 as conjoining jamo: one cluster
    ["ＡＢ", 4], // fullwidth forms
    ["ｱｲ", 2], // halfwidth katakana: narrow
    ["\u{20000}", 2], // CJK Extension B, outside the BMP
    ["❤", 1], // text presentation by default
    ["❤\uFE0F", 2], // asked to be an emoji (VS16)
    ["1\uFE0F\u20E3", 2], // keycap
    ["👨\u200D👩\u200D👧", 2], // a ZWJ sequence is one picture
    ["👍🏽", 2], // with a skin tone
    ["🇫🇷", 2], // a flag: two regional indicators
    ["a\u200Bb", 2], // zero width space
    ["\u001b[1mNAME\u001b[0m", 4] // colour codes take no room
  ])("%j takes %i columns", (text, columns) => {
    expect(displayWidth(text)).toBe(columns)
  })
})

describe("table", () => {
  const header = ["NAME", "STATE", "PID"]
  const rows = [
    ["café☕", "running", "4458"],
    ["名前", "running", "4460"],
    ["web", "waiting", "-"]
  ]

  it("pads each column to its widest cell in terminal columns", () => {
    expect(table(header, rows, aligned)).toEqual([
      "NAME    STATE    PID",
      "café☕  running  4458",
      "名前    running  4460",
      "web     waiting  -"
    ])
  })

  it("lines up coloured cells by what they show", () => {
    const coloured = styleFor(true, {})
    const lines = table(header, rows, coloured)
    expect(lines[0]).toBe("\u001b[1mNAME\u001b[0m    \u001b[1mSTATE\u001b[0m    \u001b[1mPID\u001b[0m")
    expect(lines.map(stripVTControlCharacters)).toEqual(table(header, rows, aligned))
  })

  it("separates columns by one tab when plain, whatever their width", () => {
    expect(table(header, rows, plain)).toEqual([
      "NAME\tSTATE\tPID",
      "café☕\trunning\t4458",
      "名前\trunning\t4460",
      "web\twaiting\t-"
    ])
  })
})
