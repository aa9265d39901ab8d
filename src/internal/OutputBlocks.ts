/**
 * Reused memory for services' output on its way from the pipe to the log.
 *
 * Why: fresh memory is expensive here. A buffer allocated for each read of
 * a pipe (and freed once written) is memory the kernel must fault in again
 * page by page; on a VM that made the relay three times slower than the
 * same reads into reused memory. So every pipe is read into one shared
 * buffer, the bytes are copied at once into a block from this pool (a copy
 * in memory already mapped costs far less than the faults), and the log
 * gives each chunk back when it is written. A block returns to the pool
 * when every chunk cut from it has been given back; an idle service holds
 * none.
 *
 * @since 0.1.0
 */

const BLOCK_BYTES = 1024 * 1024
// Blocks kept for reuse (all services together) during a burst of output,
// enough for what one turn of the event loop reads (libuv reads a ready
// pipe up to 32 times); more are left to the GC.
const KEEP_BLOCKS = 48
// Once output has been quiet this long, the pool keeps only this many.
const QUIET_MILLIS = 2000
const KEEP_WHEN_QUIET = 2

/**
 * A pooled block and the chunks cut from it.
 *
 * @since 0.1.0
 */
export interface Block {
  readonly bytes: Buffer
  // Bytes of `bytes` in use; chunks are cut one after the other.
  used: number
  // Chunks cut from it and not yet given back.
  out: number
  // The writer still copying into it.
  owner: OutputWriter | undefined
}

const free: Array<Buffer> = []
const blocks = new WeakMap<ArrayBufferLike, Block>()

/**
 * The buffer every pipe is read into: a read's bytes must be copied out
 * (with {@link OutputWriter.copy}) before the next read.
 *
 * @since 0.1.0
 */
export const readBuffer: Buffer = Buffer.allocUnsafeSlow(BLOCK_BYTES)

let trimTimer: NodeJS.Timeout | undefined
const trim = () => {
  trimTimer = undefined
  free.length = Math.min(free.length, KEEP_WHEN_QUIET)
}

const recycle = (block: Block) => {
  blocks.delete(block.bytes.buffer)
  if (free.length < KEEP_BLOCKS) free.push(block.bytes)
  if (free.length > KEEP_WHEN_QUIET) {
    if (trimTimer === undefined) {
      trimTimer = setTimeout(trim, QUIET_MILLIS)
      trimTimer.unref()
    } else trimTimer.refresh()
  }
}

// The writer lets go of its block; it goes back once its chunks are.
const retire = (block: Block) => {
  const owner = block.owner
  block.owner = undefined
  if (owner !== undefined && owner.block === block) owner.block = undefined
  if (block.out === 0) recycle(block)
}

/**
 * Copies one stream's reads into pooled blocks, one after the other.
 *
 * @example
 * ```ts
 * const writer = new OutputWriter()
 * const chunk = writer.copy(readBuffer.subarray(0, bytes))
 * // … once `chunk` is written:
 * release(chunk)
 * ```
 * @since 0.1.0
 */
export class OutputWriter {
  /** The block being filled, if any. */
  block: Block | undefined

  /** A copy of `bytes` in pooled memory; give it back with {@link release}. */
  copy(bytes: Uint8Array): Buffer {
    if (bytes.length > BLOCK_BYTES) return Buffer.from(bytes)
    let block = this.block
    if (block === undefined || block.used + bytes.length > BLOCK_BYTES) {
      if (block !== undefined) retire(block)
      const memory = free.pop() ?? Buffer.allocUnsafeSlow(BLOCK_BYTES)
      block = { bytes: memory, used: 0, out: 0, owner: this }
      blocks.set(memory.buffer, block)
      this.block = block
    }
    const chunk = block.bytes.subarray(block.used, block.used + bytes.length)
    chunk.set(bytes)
    block.used += bytes.length
    block.out++
    return chunk
  }

  /** The stream ended: its block goes back once its chunks are. */
  close(): void {
    if (this.block !== undefined) retire(this.block)
  }
}

/**
 * Gives back a chunk from {@link OutputWriter.copy} once it is written (or
 * dropped); when it was the last one out of its block, the block goes back
 * to the pool (an idle service then holds none). A chunk made elsewhere is
 * ignored.
 *
 * @since 0.1.0
 */
export const release = (chunk: Uint8Array): void => {
  const block = blocks.get(chunk.buffer)
  if (block === undefined || block.out === 0) return
  if (--block.out > 0) return
  if (block.owner !== undefined) retire(block)
  else recycle(block)
}
