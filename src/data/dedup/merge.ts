import { closeSync, fstatSync, openSync, readSync } from "node:fs"

/**
 * Sorted fixed-size binary records read in blocks, and a k-way merge over several of them: the bucket and find
 * stages merge one sorted file per task without loading them whole (datatrove: read_sigs + heapq).
 */
export class RecordReader {
  readonly words: number
  readonly count: number
  private readonly fd: number
  private readonly block: Uint32Array
  private blockStart = 0
  private blockLen = 0
  /** Index of the current record; `count` when exhausted. */
  index = 0

  constructor(readonly file: string, readonly recordBytes: number, blockRecords = 4096) {
    this.words = recordBytes / 4
    this.fd = openSync(file, "r")
    const size = fstatSync(this.fd).size
    if (size % recordBytes !== 0) {
      closeSync(this.fd)
      throw new Error(`${file}: size ${size} is not a multiple of the ${recordBytes}-byte record`)
    }
    this.count = size / recordBytes
    this.block = new Uint32Array(blockRecords * this.words)
  }

  /** Word `w` of record `i` (random access; reloads the block around `i` when needed). */
  word(i: number, w: number): number {
    if (i < this.blockStart || i >= this.blockStart + this.blockLen) this.load(i)
    return this.block[(i - this.blockStart) * this.words + w]!
  }

  /** Words of the current record start at `offset()` in `data()`. */
  data(): Uint32Array {
    if (this.index < this.blockStart || this.index >= this.blockStart + this.blockLen) this.load(this.index)
    return this.block
  }
  offset(): number {
    return (this.index - this.blockStart) * this.words
  }

  private load(i: number): void {
    const n = Math.min(this.block.length / this.words, this.count - i)
    const bytes = new Uint8Array(this.block.buffer, 0, n * this.recordBytes)
    let got = 0
    while (got < bytes.length) {
      const r = readSync(this.fd, bytes, got, bytes.length - got, i * this.recordBytes + got)
      if (r === 0) throw new Error(`${this.file}: unexpected end of file`)
      got += r
    }
    this.blockStart = i
    this.blockLen = n
  }

  close(): void {
    closeSync(this.fd)
  }
}

/** Binary min-heap of reader indices, ordered by `less(a, b)` on their current records. */
export class ReaderHeap {
  private readonly heap: Array<number> = []
  constructor(private readonly less: (a: number, b: number) => boolean) {}
  get size() {
    return this.heap.length
  }
  push(x: number): void {
    const h = this.heap
    h.push(x)
    let i = h.length - 1
    while (i > 0) {
      const p = (i - 1) >> 1
      if (!this.less(h[i]!, h[p]!)) break
      ;[h[i], h[p]] = [h[p]!, h[i]!]
      i = p
    }
  }
  pop(): number {
    const h = this.heap
    const top = h[0]!
    const last = h.pop()!
    if (h.length > 0) {
      h[0] = last
      let i = 0
      for (;;) {
        const l = 2 * i + 1
        const r = l + 1
        let m = i
        if (l < h.length && this.less(h[l]!, h[m]!)) m = l
        if (r < h.length && this.less(h[r]!, h[m]!)) m = r
        if (m === i) break
        ;[h[i], h[m]] = [h[m]!, h[i]!]
        i = m
      }
    }
    return top
  }
}
