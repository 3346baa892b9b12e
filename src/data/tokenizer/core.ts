/**
 * The synchronous tokenizer: HF `tokenizer.json` in, ids out. No Effect here because the same code runs inside
 * worker threads for batch encoding; `Tokenizer.ts` wraps it as a service.
 *
 * The encode pipeline is HF's: added tokens are cut out first (those with `normalized: false` on the raw text,
 * the others after normalization), the remaining text is normalized, pre-tokenized into pieces, and each piece is
 * encoded by the model (byte-level BPE from its UTF-8 bytes, or BERT's WordPiece); the post-processor then adds its
 * special tokens. Truncation and padding in the file are ignored on purpose: a data pipeline must never cut
 * documents (GPT-2's file ships with max_length 50); a classifier asks for truncation with `maxLength`.
 */
import { IdBuffer, BpeModel } from "./bpe.ts"
import { tokenBytes } from "./byte-level.ts"
import { type AddedTokenSpec, parseTokenizerJson, type PostProcessorSpec, type TokenizerSpec } from "./config.ts"
import { TokenizerConfigError } from "./errors.ts"
import { compileNormalizer, compilePreTokenizer, type Normalize, type PreTokenize } from "./pretokenize.ts"
import { decodeWordPieceToken, WordPieceModel } from "./wordpiece.ts"

/** ES2024 string methods (Node ≥ 20 has them; the project's TypeScript lib is ES2023). */
interface WellFormed {
  isWellFormed(): boolean
  toWellFormed(): string
}

export interface EncodeOptions {
  /** Run the post-processor (BOS/EOS templates). HF's default is true. */
  readonly addSpecialTokens?: boolean
  /**
   * At most this many ids, special tokens included, as HF's truncation (right side, no stride) gives them: the
   * text's first `maxLength - specials` tokens inside the template, e.g. `[CLS]` + 510 tokens + `[SEP]` for 512.
   */
  readonly maxLength?: number
}

export interface DecodeOptions {
  /** Leave out tokens marked `special`. HF's default is false here. */
  readonly skipSpecialTokens?: boolean
}

/** Added tokens matched leftmost-longest, as HF's Aho-Corasick automaton does: alternatives sorted longest first. */
class AddedTokenMatcher {
  private readonly re: RegExp
  private readonly byContent: Map<string, AddedTokenSpec>
  private readonly anyStrip: boolean
  constructor(tokens: ReadonlyArray<AddedTokenSpec>, contentOf: (t: AddedTokenSpec) => string) {
    this.byContent = new Map()
    for (const t of tokens) {
      const content = contentOf(t)
      if (content.length > 0 && !this.byContent.has(content)) this.byContent.set(content, t)
    }
    const alternatives = [...this.byContent.keys()].sort((a, b) => b.length - a.length).map((c) => c.replace(/[.*+?^${}()|[\]\\/-]/g, "\\$&"))
    this.re = new RegExp(alternatives.join("|"), "gu")
    this.anyStrip = tokens.some((t) => t.lstrip || t.rstrip || t.singleWord)
  }

  /** Calls `text` for the stretches between added tokens and `token` for each token, in order. */
  split(s: string, text: (piece: string) => void, token: (id: number) => void): void {
    const re = this.re
    re.lastIndex = 0
    let from = 0
    let m: RegExpExecArray | null
    while ((m = re.exec(s)) !== null) {
      let start = m.index
      let stop = start + m[0].length
      const t = this.byContent.get(m[0])!
      if (this.anyStrip) {
        if (t.singleWord) {
          const wordBefore = start > 0 && isWordChar(s, start - 1, true)
          const wordAfter = stop < s.length && isWordChar(s, stop, false)
          if (wordBefore || wordAfter) continue
        }
        if (t.lstrip) {
          while (start > from && isSpace(s.charCodeAt(start - 1))) start--
        }
        if (t.rstrip) {
          while (stop < s.length && isSpace(s.charCodeAt(stop))) stop++
        }
      }
      if (from < start) text(s.slice(from, start))
      token(t.id)
      from = stop
    }
    if (from < s.length) text(from === 0 ? s : s.slice(from))
  }
}

const wordRe = /[\p{Alphabetic}\p{N}_]/u
const isWordChar = (s: string, at: number, before: boolean): boolean => {
  let cp = s.codePointAt(at)!
  if (before && cp >= 0xdc00 && cp <= 0xdfff && at > 0) cp = s.codePointAt(at - 1)!
  return wordRe.test(String.fromCodePoint(cp))
}
/** Rust's char::is_whitespace (Unicode White_Space); every such character is in the BMP, so one code unit decides. */
const isSpace = (c: number): boolean =>
  (c >= 0x09 && c <= 0x0d) || c === 0x20 || c === 0x85 || c === 0xa0 || c === 0x1680 || (c >= 0x2000 && c <= 0x200a) ||
  c === 0x2028 || c === 0x2029 || c === 0x202f || c === 0x205f || c === 0x3000

const flattenPost = (p: PostProcessorSpec | null, before: number[], after: number[]): void => {
  if (p === null) return
  switch (p.type) {
    case "ByteLevel":
      return
    case "Template":
      // Later processors wrap earlier output: their ids go outside.
      before.unshift(...p.before)
      after.push(...p.after)
      return
    case "Sequence":
      for (const q of p.processors) flattenPost(q, before, after)
  }
}

/**
 * Named for its first model; it runs both the byte-level BPE and the WordPiece model (`spec.model.type`) through
 * the same added-token, normalizer, pre-tokenizer and post-processor pipeline.
 */
export class BpeTokenizer {
  readonly spec: TokenizerSpec
  readonly model: BpeModel | WordPieceModel
  /** One more than the largest id, counting added tokens: what decides uint16 vs uint32 token files. */
  readonly vocabSize: number
  private readonly normalize: Normalize | null
  private readonly preTokenize: PreTokenize
  private readonly rawMatcher: AddedTokenMatcher | null
  private readonly normalizedMatcher: AddedTokenMatcher | null
  private readonly addedById = new Map<number, AddedTokenSpec>()
  private readonly addedByContent = new Map<string, number>()
  private readonly specialContents = new Set<string>()
  private readonly postBefore: Uint32Array
  private readonly postAfter: Uint32Array
  private readonly pieces: string[] = []
  private readonly out = new IdBuffer(4096)
  private readonly tokenByteCache: Array<Uint8Array | undefined> = []
  /** Where the ids of the text being encoded must stop (an `out.length`): set per call by `maxLength`. */
  private limit = Infinity

  constructor(spec: TokenizerSpec) {
    this.spec = spec
    // Components that do not fit the model are refused before the model is built: "not implemented" is the
    // more useful message for a file that would also fail to build.
    const byteLevel = spec.model.type === "BPE"
    const decoder = spec.decoder.type
    if (decoder !== "None" && (decoder === "ByteLevel") !== byteLevel) {
      throw new TokenizerConfigError("Unsupported", `decoder "${decoder}" with model "${spec.model.type}" is not implemented`)
    }
    this.preTokenize = compilePreTokenizer(spec.preTokenizer, byteLevel).run
    this.normalize = spec.normalizer === null ? null : compileNormalizer(spec.normalizer)
    this.model = spec.model.type === "BPE" ? new BpeModel(spec.model) : new WordPieceModel(spec.model)
    const added = this.assignAddedIds(spec)
    const normalizeContent = this.normalize
    for (const t of added) {
      // HF stores a `normalized` added token under its normalized text: `[CLS]` decodes as `[cls]` behind a
      // lowercasing normalizer (and is then no longer "special" when decoding skips specials), yet `[CLS]` keeps its id.
      const shown = t.normalized && normalizeContent !== null ? { ...t, content: normalizeContent(t.content) } : t
      if (!this.addedById.has(t.id)) this.addedById.set(t.id, shown)
      this.addedByContent.set(t.content, t.id)
      if (t.special) this.specialContents.add(t.content)
    }
    const raw = added.filter((t) => !t.normalized)
    const normalized = added.filter((t) => t.normalized)
    const normalize = this.normalize
    this.rawMatcher = raw.length > 0 ? new AddedTokenMatcher(raw, (t) => t.content) : null
    this.normalizedMatcher = normalized.length > 0 ? new AddedTokenMatcher(normalized, (t) => (normalize === null ? t.content : normalize(t.content))) : null
    const before: number[] = []
    const after: number[] = []
    flattenPost(spec.postProcessor, before, after)
    this.postBefore = Uint32Array.from(before)
    this.postAfter = Uint32Array.from(after)
    let max = -1
    for (const id of spec.model.vocab.values()) max = Math.max(max, id)
    for (const t of added) max = Math.max(max, t.id)
    this.vocabSize = max + 1
  }

  /** Where the file's added-token ids disagree with the ids HF actually gives them (see `assignAddedIds`). */
  readonly warnings: string[] = []

  /**
   * HF does not take added-token ids from the file: loading re-adds each token, which gets the model's id when its
   * content is in the vocabulary, else the next id after the vocabulary (or after the largest added id). Files
   * written by HF agree with that; a hand-edited one may not, and then HF's ids win, with a warning.
   */
  private assignAddedIds(spec: TokenizerSpec): Array<AddedTokenSpec> {
    const vocabEntries = spec.model.vocab.size
    const byContent = new Map<string, number>()
    let maxAdded = -1
    const out: AddedTokenSpec[] = []
    for (const t of spec.addedTokens) {
      if (t.content.length === 0) continue
      let id = byContent.get(t.content) ?? spec.model.vocab.get(t.content)
      if (id === undefined) id = maxAdded < 0 ? vocabEntries : maxAdded >= vocabEntries || vocabEntries === 0 ? maxAdded + 1 : vocabEntries
      if (id !== t.id) this.warnings.push(`added token ${JSON.stringify(t.content)} is listed with id ${t.id} but gets id ${id}, as in HF tokenizers`)
      byContent.set(t.content, id)
      maxAdded = Math.max(maxAdded, id)
      out.push({ ...t, id })
    }
    return out
  }

  /** Throws `TokenizerConfigError` for a broken or unsupported file. */
  static fromJson(text: string): BpeTokenizer {
    return new BpeTokenizer(parseTokenizerJson(text))
  }

  encode(text: string, options?: EncodeOptions): Uint32Array {
    const out = this.out
    out.length = 0
    this.encodeInto(text, out, options?.addSpecialTokens ?? true, options?.maxLength)
    return out.toArray()
  }

  /** Appends the ids of `text` to `out`: the allocation-free form for writers that batch many documents. */
  encodeInto(text: string, out: IdBuffer, addSpecialTokens = true, maxLength = Infinity): void {
    // Native code receives lone surrogates as U+FFFD; doing the same here keeps ids equal to HF's for such input.
    if (!(text as unknown as WellFormed).isWellFormed()) text = (text as unknown as WellFormed).toWellFormed()
    const specials = addSpecialTokens ? this.postBefore.length + this.postAfter.length : 0
    if (maxLength < specials) throw new RangeError(`maxLength ${maxLength} leaves no room for the ${specials} special tokens`)
    if (addSpecialTokens && this.postBefore.length > 0) out.pushAll(this.postBefore)
    // Tokens come out left to right, so once the limit is reached the rest of the text cannot change them.
    const limit = out.length + maxLength - specials
    this.limit = limit
    const plain = (s: string): void => this.encodeNormalizedPart(s, out)
    const token = (id: number): void => out.push(id)
    if (this.rawMatcher !== null) this.rawMatcher.split(text, (s) => this.encodeRawPart(s, out, plain, token), token)
    else this.encodeRawPart(text, out, plain, token)
    if (out.length > limit) out.length = limit
    if (addSpecialTokens && this.postAfter.length > 0) out.pushAll(this.postAfter)
  }

  /**
   * `ids` (the output of `encode` with the same `addSpecialTokens`) truncated as `maxLength` would have: for
   * callers that encoded without a limit, such as the worker pool.
   */
  truncate(ids: Uint32Array, maxLength: number, addSpecialTokens = true): Uint32Array {
    if (ids.length <= maxLength) return ids
    const after = addSpecialTokens ? this.postAfter.length : 0
    const specials = addSpecialTokens ? this.postBefore.length + after : 0
    if (maxLength < specials) throw new RangeError(`maxLength ${maxLength} leaves no room for the ${specials} special tokens`)
    const out = new Uint32Array(maxLength)
    out.set(ids.subarray(0, maxLength - after))
    out.set(ids.subarray(ids.length - after), maxLength - after)
    return out
  }

  private encodeRawPart(s: string, out: IdBuffer, plain: (s: string) => void, token: (id: number) => void): void {
    if (out.length >= this.limit) return
    const normalized = this.normalize === null ? s : this.normalize(s)
    if (this.normalizedMatcher !== null) this.normalizedMatcher.split(normalized, plain, token)
    else plain(normalized)
  }

  private encodeNormalizedPart(s: string, out: IdBuffer): void {
    const pieces = this.pieces
    pieces.length = 0
    this.preTokenize(s, pieces)
    const model = this.model
    const limit = this.limit
    for (let i = 0; i < pieces.length && out.length < limit; i++) model.encodeWord(pieces[i]!, out)
  }

  tokenToId(token: string): number | undefined {
    return this.addedByContent.get(token) ?? this.model.vocab.get(token)
  }

  idToToken(id: number): string | undefined {
    return this.addedById.get(id)?.content ?? this.model.tokens[id]
  }

  isSpecial(id: number): boolean {
    const token = this.idToToken(id)
    return token !== undefined && this.specialContents.has(token)
  }

  /** The bytes the ids stand for (unknown ids are skipped, as HF does). UTF-8 may be cut anywhere. */
  decodeBytes(ids: ArrayLike<number>, options?: DecodeOptions): Uint8Array {
    if (this.spec.decoder.type !== "ByteLevel") return new TextEncoder().encode(this.decode(ids, options))
    const skip = options?.skipSpecialTokens ?? false
    const parts: Uint8Array[] = []
    let total = 0
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i]!
      let bytes = this.tokenByteCache[id]
      if (bytes === undefined) {
        const token = this.idToToken(id)
        if (token === undefined) continue
        bytes = tokenBytes(token)
        this.tokenByteCache[id] = bytes
      }
      if (skip && this.specialContents.size > 0 && this.isSpecial(id)) continue
      parts.push(bytes)
      total += bytes.length
    }
    const out = new Uint8Array(total)
    let at = 0
    for (const p of parts) {
      out.set(p, at)
      at += p.length
    }
    return out
  }

  /**
   * Text of the ids. Like HF's ByteLevel decoder, bytes that do not form valid UTF-8 (a character cut between two
   * calls, or ids that never formed one) become U+FFFD; use `streamingDecoder` to carry cut characters over.
   * Without a decoder in the file, HF joins the tokens with spaces; so do we.
   */
  decode(ids: ArrayLike<number>, options?: DecodeOptions): string {
    if (this.spec.decoder.type !== "ByteLevel") return this.decodeTokens(this.tokensOf(ids, options), 0)
    return new TextDecoder("utf-8", { fatal: false, ignoreBOM: true }).decode(this.decodeBytes(ids, options))
  }

  /** The tokens of the ids, as HF's `decode` collects them: unknown ids dropped, special ones when asked. */
  private tokensOf(ids: ArrayLike<number>, options?: DecodeOptions): Array<string> {
    const skip = options?.skipSpecialTokens ?? false
    const tokens: string[] = []
    for (let i = 0; i < ids.length; i++) {
      const token = this.idToToken(ids[i]!)
      if (token !== undefined && !(skip && this.specialContents.has(token))) tokens.push(token)
    }
    return tokens
  }

  /** Text of tokens for the decoders that work on whole tokens; `first` is the index of `tokens[0]` in the decode. */
  private decodeTokens(tokens: ReadonlyArray<string>, first: number): string {
    const decoder = this.spec.decoder
    if (decoder.type === "WordPiece") {
      let text = ""
      for (let i = 0; i < tokens.length; i++) text += decodeWordPieceToken(tokens[i]!, first + i, decoder.prefix, decoder.cleanup)
      return text
    }
    return (first > 0 && tokens.length > 0 ? " " : "") + tokens.join(" ")
  }

  /**
   * Incremental decoding for generation: each `push` returns the text completed so far, holding back the bytes of
   * a character that the next ids will finish; `end` flushes what is left (an unfinished character as U+FFFD).
   */
  streamingDecoder(options?: DecodeOptions): { push: (ids: ArrayLike<number>) => string; end: () => string } {
    if (this.spec.decoder.type !== "ByteLevel") {
      let decoded = 0
      return {
        push: (ids) => {
          const tokens = this.tokensOf(ids, options)
          const text = this.decodeTokens(tokens, decoded)
          decoded += tokens.length
          return text
        },
        end: () => ""
      }
    }
    const decoder = new TextDecoder("utf-8", { fatal: false, ignoreBOM: true })
    return {
      push: (ids) => decoder.decode(this.decodeBytes(ids, options), { stream: true }),
      end: () => decoder.decode()
    }
  }
}
