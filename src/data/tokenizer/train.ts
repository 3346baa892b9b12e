/**
 * Byte-level BPE training, the algorithm of HF's `BpeTrainer`: count pre-tokenized words, then repeatedly merge
 * the most frequent adjacent pair (ties: the smaller pair of ids, so runs are deterministic), updating pair counts
 * only in the words that contain the merged pair. The result is a `tokenizer.json` with SmolLM2's pre-tokenization
 * (individual digits, then GPT-2's regex) that HF `tokenizers` loads and encodes exactly as `BpeTokenizer` does.
 */
import { byteLevelAlphabet, byteToChar } from "./byte-level.ts"
import type { PreTokenizerSpec } from "./config.ts"
import { TokenizerConfigError } from "./errors.ts"
import { compilePreTokenizer } from "./pretokenize.ts"

export interface TrainOptions {
  /** Final vocabulary size, special tokens and the 256 byte characters included. */
  readonly vocabSize: number
  /** Get ids 0, 1, … in this order; SmolLM2's first is "<|endoftext|>". */
  readonly specialTokens?: ReadonlyArray<string>
  /** Pairs seen fewer times are never merged (HF's `min_frequency`). */
  readonly minFrequency?: number
}

/** SmolLM2's pre-tokenizer: digits one by one, then GPT-2's regex without a prefix space. */
export const smolPreTokenizer: PreTokenizerSpec = {
  type: "Sequence",
  pretokenizers: [
    { type: "Digits", individualDigits: true },
    { type: "ByteLevel", addPrefixSpace: false, useRegex: true }
  ]
}

/** Counts pre-tokenized words; feed it documents one by one, then `train`. */
export class WordCounter {
  readonly counts = new Map<string, number>()
  private readonly run = compilePreTokenizer(smolPreTokenizer).run
  private readonly pieces: string[] = []
  add(text: string): void {
    const pieces = this.pieces
    pieces.length = 0
    this.run(text, pieces)
    for (const p of pieces) this.counts.set(p, (this.counts.get(p) ?? 0) + 1)
  }
}

interface Word {
  ids: number[]
  readonly count: number
}

const PAIR = 1 << 21 // ids stay below 2^21 (2M tokens), so a * PAIR + b is an exact integer key
const key = (a: number, b: number): number => a * PAIR + b

/** A max-heap of (count, pair key) with ties broken towards the smaller key. Entries may be stale; see `train`. */
class PairHeap {
  private counts: number[] = []
  private keys: number[] = []
  get size(): number {
    return this.keys.length
  }
  private above(i: number, j: number): boolean {
    const ci = this.counts[i]!
    const cj = this.counts[j]!
    return ci > cj || (ci === cj && this.keys[i]! < this.keys[j]!)
  }
  private swap(i: number, j: number): void {
    const c = this.counts[i]!
    this.counts[i] = this.counts[j]!
    this.counts[j] = c
    const k = this.keys[i]!
    this.keys[i] = this.keys[j]!
    this.keys[j] = k
  }
  push(count: number, pair: number): void {
    this.counts.push(count)
    this.keys.push(pair)
    let i = this.keys.length - 1
    while (i > 0) {
      const p = (i - 1) >> 1
      if (!this.above(i, p)) break
      this.swap(i, p)
      i = p
    }
  }
  pop(): { count: number; pair: number } {
    const top = { count: this.counts[0]!, pair: this.keys[0]! }
    const lastCount = this.counts.pop()!
    const lastKey = this.keys.pop()!
    if (this.keys.length > 0) {
      this.counts[0] = lastCount
      this.keys[0] = lastKey
      let i = 0
      for (;;) {
        const l = 2 * i + 1
        const r = l + 1
        let best = i
        if (l < this.keys.length && this.above(l, best)) best = l
        if (r < this.keys.length && this.above(r, best)) best = r
        if (best === i) break
        this.swap(i, best)
        i = best
      }
    }
    return top
  }
}

/** The `tokenizer.json` object of a trained tokenizer (write it with `JSON.stringify`). */
export type TokenizerJson = Record<string, unknown>

export const trainBpe = (counter: WordCounter, options: TrainOptions): TokenizerJson => {
  const specials = [...new Set(options.specialTokens ?? [])]
  const minFrequency = options.minFrequency ?? 2
  const alphabet = byteLevelAlphabet()
  if (options.vocabSize < specials.length + alphabet.length) {
    throw new TokenizerConfigError(
      "Train",
      `vocab size ${options.vocabSize} is smaller than the ${specials.length} special tokens plus the 256 byte characters`
    )
  }
  const tokens: string[] = [...specials]
  const idOf = new Map<string, number>()
  specials.forEach((s, i) => idOf.set(s, i))
  for (const c of alphabet) {
    if (!idOf.has(c)) {
      idOf.set(c, tokens.length)
      tokens.push(c)
    }
  }
  const byteId = Array.from({ length: 256 }, (_, b) => idOf.get(byteToChar[b]!)!)
  const encoder = new TextEncoder()

  const words: Word[] = []
  for (const [w, count] of counter.counts) words.push({ ids: Array.from(encoder.encode(w), (b) => byteId[b]!), count })

  const pairCount = new Map<number, number>()
  const where = new Map<number, Set<number>>()
  words.forEach((w, wi) => {
    for (let i = 0; i + 1 < w.ids.length; i++) {
      const k = key(w.ids[i]!, w.ids[i + 1]!)
      pairCount.set(k, (pairCount.get(k) ?? 0) + w.count)
      let s = where.get(k)
      if (s === undefined) where.set(k, (s = new Set()))
      s.add(wi)
    }
  })
  const heap = new PairHeap()
  for (const [k, c] of pairCount) heap.push(c, k)

  const merges: Array<[string, string]> = []
  while (tokens.length < options.vocabSize && heap.size > 0) {
    const top = heap.pop()
    const current = pairCount.get(top.pair) ?? 0
    // Lazy heap: counts only go down for an existing pair, so a stale entry is re-queued with its true count.
    if (current !== top.count) {
      if (current > 0) heap.push(current, top.pair)
      continue
    }
    if (current < minFrequency) break
    const a = Math.floor(top.pair / PAIR)
    const b = top.pair - a * PAIR
    const merged = tokens[a]! + tokens[b]!
    let id = idOf.get(merged)
    if (id === undefined) {
      id = tokens.length
      tokens.push(merged)
      idOf.set(merged, id)
    }
    merges.push([tokens[a]!, tokens[b]!])

    const touched = new Set<number>()
    for (const wi of where.get(top.pair) ?? []) {
      const w = words[wi]!
      const old = w.ids
      let found = false
      for (let i = 0; i + 1 < old.length; i++) if (old[i] === a && old[i + 1] === b) found = true
      if (!found) continue
      const next: number[] = []
      for (let i = 0; i < old.length; i++) {
        if (i + 1 < old.length && old[i] === a && old[i + 1] === b) {
          next.push(id)
          i++
        } else next.push(old[i]!)
      }
      for (let i = 0; i + 1 < old.length; i++) {
        const k = key(old[i]!, old[i + 1]!)
        pairCount.set(k, pairCount.get(k)! - w.count)
      }
      for (let i = 0; i + 1 < next.length; i++) {
        const k = key(next[i]!, next[i + 1]!)
        pairCount.set(k, (pairCount.get(k) ?? 0) + w.count)
        let s = where.get(k)
        if (s === undefined) where.set(k, (s = new Set()))
        s.add(wi)
        touched.add(k)
      }
      w.ids = next
    }
    where.delete(top.pair)
    pairCount.delete(top.pair)
    // Pairs whose count went up need a fresh heap entry; those that went down are fixed lazily on pop.
    for (const k of touched) heap.push(pairCount.get(k)!, k)
  }

  const vocab: Record<string, number> = {}
  tokens.forEach((t, i) => (vocab[t] = i))
  const byteLevel = { type: "ByteLevel", add_prefix_space: false, trim_offsets: true, use_regex: true }
  return {
    version: "1.0",
    truncation: null,
    padding: null,
    added_tokens: specials.map((content, id) => ({
      id,
      content,
      single_word: false,
      lstrip: false,
      rstrip: false,
      normalized: false,
      special: true
    })),
    normalizer: null,
    pre_tokenizer: { type: "Sequence", pretokenizers: [{ type: "Digits", individual_digits: true }, byteLevel] },
    post_processor: byteLevel,
    decoder: byteLevel,
    model: {
      type: "BPE",
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: false,
      byte_fallback: false,
      ignore_merges: false,
      vocab,
      merges
    }
  }
}
