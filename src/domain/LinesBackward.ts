/**
 * Reading a line-delimited file from its end, one chunk at a time, so that
 * the cost of reading a journal's tail does not grow with the journal.
 *
 * @since 0.1.0
 */

/**
 * The little a backwards reader needs of a file: its size and positioned reads.
 *
 * @since 0.1.0
 */
export interface RandomAccess {
  readonly size: number
  /** Reads `length` bytes at `position` (fewer only at the end of the file). */
  readonly read: (position: number, length: number) => Uint8Array
}

const NEWLINE = 0x0a

/**
 * The complete lines that end before `end`, newest first, without their
 * newline. Empty lines are skipped. Reads lazily: stop iterating and the rest
 * of the file is never read.
 *
 * @since 0.1.0
 */
export function* linesBackward(file: RandomAccess, end: number = file.size, chunkSize = 64 * 1024): Generator<string> {
  const decoder = new TextDecoder()
  let position = end
  // Bytes of the line being assembled, which started before `position`.
  let pending: Array<Uint8Array> = []
  while (position > 0) {
    const start = Math.max(0, position - chunkSize)
    const chunk = file.read(start, position - start)
    let lineEnd = chunk.length
    for (let i = chunk.length - 1; i >= 0; i--) {
      if (chunk[i] !== NEWLINE) continue
      const line = join(chunk.subarray(i + 1, lineEnd), pending)
      pending = []
      lineEnd = i
      if (line.length > 0) yield decoder.decode(line)
    }
    pending = [chunk.subarray(0, lineEnd), ...pending]
    position = start
  }
  const first = join(new Uint8Array(0), pending)
  if (first.length > 0) yield decoder.decode(first)
}

const join = (head: Uint8Array, tail: ReadonlyArray<Uint8Array>): Uint8Array => {
  if (tail.length === 0) return head
  const out = new Uint8Array(head.length + tail.reduce((n, part) => n + part.length, 0))
  out.set(head, 0)
  let offset = head.length
  for (const part of tail) {
    out.set(part, offset)
    offset += part.length
  }
  return out
}

/**
 * The offset just past the last newline before `end` (by default the end of
 * the file), reading backwards; 0 when there is none.
 *
 * @since 0.1.0
 */
export const endOfLastNewline = (file: RandomAccess, end: number = file.size, chunkSize = 64 * 1024): number => {
  let position = end
  while (position > 0) {
    const start = Math.max(0, position - chunkSize)
    const chunk = file.read(start, position - start)
    const i = chunk.lastIndexOf(NEWLINE)
    if (i >= 0) return start + i + 1
    position = start
  }
  return 0
}
