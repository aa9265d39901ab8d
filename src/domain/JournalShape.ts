/**
 * What a journal file holds, judged from its bytes alone: whether it is a
 * journal at all (one that is not is never written to), and what a crash
 * left torn at its end.
 *
 * @since 0.1.0
 */
import { endOfLastNewline, linesBackward, type RandomAccess } from "./LinesBackward.ts"

// How every line begins, as cronmon and the Go original write it.
const LINE_START = `{"time":"`

/** The `type` of a line that is a JSON object with a string `type`. @since 0.1.0 */
export const lineType = (line: string): string | undefined => {
  try {
    const parsed: unknown = JSON.parse(line)
    return typeof parsed === "object" && parsed !== null && "type" in parsed && typeof parsed.type === "string"
      ? parsed.type
      : undefined
  } catch {
    return undefined
  }
}

/**
 * Why a file is not a journal, or `undefined` when it is one: empty, or its
 * first line an event, or that line torn by a crash during the first write
 * (the start of an event, or the NUL bytes a crash can leave).
 *
 * @since 0.1.0
 */
export const notAJournal = (file: RandomAccess): string | undefined => {
  const head = file.read(0, Math.min(file.size, 64 * 1024))
  const newline = head.indexOf(0x0a)
  const first = new TextDecoder().decode(newline < 0 ? head : head.subarray(0, newline))
  const torn = first.replace(/\0+$/, "")
  if (file.size === 0 || lineType(first) !== undefined) return undefined
  if (newline < 0 && (LINE_START.startsWith(torn) || torn.startsWith(LINE_START))) return undefined
  return "not a cronmon journal (its first line is not a JSON event): left untouched"
}

/**
 * Where to cut a journal whose last line a crash left torn (no newline) or
 * corrupt (not an event), and why; `undefined` when its end is whole. A last
 * event whose newline was not written is whole: it only needs the newline.
 *
 * @since 0.1.0
 */
export const tailCut = (file: RandomAccess): { readonly at: number; readonly reason: string } | undefined => {
  const lastNewline = endOfLastNewline(file)
  if (lastNewline < file.size) {
    const tail = new TextDecoder().decode(file.read(lastNewline, file.size - lastNewline))
    if (lineType(tail) !== undefined) return undefined
    return { at: lastNewline, reason: `the last line was torn: ${file.size - lastNewline} bytes cut off` }
  }
  const [lastLine] = linesBackward(file)
  if (lastLine === undefined || lineType(lastLine) !== undefined) return undefined
  const at = endOfLastNewline(file, file.size - 1)
  return { at, reason: `the last line was corrupt: ${file.size - at} bytes cut off` }
}
