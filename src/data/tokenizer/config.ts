/**
 * The parts of Hugging Face's `tokenizer.json` that byte-level BPE tokenizers (GPT-2, SmolLM2, Llama 3 style) and
 * BERT's WordPiece tokenizers (bert-base-uncased, arctic-embed) use, read into plain typed records. Anything else is
 * refused with an `Unsupported` reason naming the component, so a tokenizer that we would silently encode
 * differently from HF never loads.
 */
import { TokenizerConfigError } from "./errors.ts"

export interface AddedTokenSpec {
  readonly id: number
  readonly content: string
  readonly singleWord: boolean
  readonly lstrip: boolean
  readonly rstrip: boolean
  readonly normalized: boolean
  readonly special: boolean
}

export type NormalizerSpec =
  | { readonly type: "Sequence"; readonly normalizers: ReadonlyArray<NormalizerSpec> }
  | { readonly type: "NFC" | "NFD" | "NFKC" | "NFKD" | "Lowercase" }
  | { readonly type: "Prepend"; readonly prepend: string }
  | { readonly type: "Replace"; readonly pattern: PatternSpec; readonly content: string }
  | { readonly type: "Strip"; readonly left: boolean; readonly right: boolean }
  | {
    readonly type: "BertNormalizer"
    readonly cleanText: boolean
    readonly handleChineseChars: boolean
    readonly stripAccents: boolean | null
    readonly lowercase: boolean
  }

export type PatternSpec = { readonly kind: "String"; readonly value: string } | { readonly kind: "Regex"; readonly value: string }

export type SplitBehavior = "Removed" | "Isolated" | "MergedWithPrevious" | "MergedWithNext" | "Contiguous"

export type PreTokenizerSpec =
  | { readonly type: "Sequence"; readonly pretokenizers: ReadonlyArray<PreTokenizerSpec> }
  | { readonly type: "Split"; readonly pattern: PatternSpec; readonly behavior: SplitBehavior; readonly invert: boolean }
  | { readonly type: "Digits"; readonly individualDigits: boolean }
  | { readonly type: "ByteLevel"; readonly addPrefixSpace: boolean; readonly useRegex: boolean }
  | { readonly type: "WhitespaceSplit" }
  | { readonly type: "BertPreTokenizer" }

export type PostProcessorSpec =
  | { readonly type: "ByteLevel" }
  | { readonly type: "Sequence"; readonly processors: ReadonlyArray<PostProcessorSpec> }
  /** Ids before and after the sequence, from TemplateProcessing, RobertaProcessing or BertProcessing. */
  | { readonly type: "Template"; readonly before: ReadonlyArray<number>; readonly after: ReadonlyArray<number> }

export type DecoderSpec =
  | { readonly type: "ByteLevel" }
  | { readonly type: "WordPiece"; readonly prefix: string; readonly cleanup: boolean }
  | { readonly type: "None" }

export interface BpeSpec {
  readonly type: "BPE"
  readonly vocab: ReadonlyMap<string, number>
  readonly merges: ReadonlyArray<readonly [string, string]>
  readonly unkToken: string | null
  readonly fuseUnk: boolean
  readonly ignoreMerges: boolean
}

export interface WordPieceSpec {
  readonly type: "WordPiece"
  readonly vocab: ReadonlyMap<string, number>
  readonly unkToken: string
  readonly continuingSubwordPrefix: string
  readonly maxInputCharsPerWord: number
}

export type ModelSpec = BpeSpec | WordPieceSpec

export interface TokenizerSpec {
  readonly addedTokens: ReadonlyArray<AddedTokenSpec>
  readonly normalizer: NormalizerSpec | null
  readonly preTokenizer: PreTokenizerSpec | null
  readonly postProcessor: PostProcessorSpec | null
  readonly decoder: DecoderSpec
  readonly model: ModelSpec
}

type Json = Record<string, unknown>

const parseFail = (message: string): never => {
  throw new TokenizerConfigError("Parse", message)
}
const unsupported = (message: string): never => {
  throw new TokenizerConfigError("Unsupported", message)
}

const isObject = (u: unknown): u is Json => typeof u === "object" && u !== null && !Array.isArray(u)
const object = (u: unknown, where: string): Json => (isObject(u) ? u : parseFail(`${where}: expected an object`))
const bool = (o: Json, key: string, where: string, fallback: boolean): boolean => {
  const v = o[key]
  if (v === undefined || v === null) return fallback
  return typeof v === "boolean" ? v : parseFail(`${where}.${key}: expected a boolean`)
}
const string = (o: Json, key: string, where: string): string => {
  const v = o[key]
  return typeof v === "string" ? v : parseFail(`${where}.${key}: expected a string`)
}
const integer = (u: unknown, where: string): number =>
  typeof u === "number" && Number.isInteger(u) && u >= 0 ? u : parseFail(`${where}: expected a non-negative integer`)
const array = (u: unknown, where: string): ReadonlyArray<unknown> => (Array.isArray(u) ? u : parseFail(`${where}: expected an array`))
const typeOf = (o: Json, where: string): string => string(o, "type", where)

const pattern = (u: unknown, where: string): PatternSpec => {
  const o = object(u, where)
  if (typeof o["String"] === "string") return { kind: "String", value: o["String"] }
  if (typeof o["Regex"] === "string") return { kind: "Regex", value: o["Regex"] }
  return parseFail(`${where}: expected {"String": …} or {"Regex": …}`)
}

const normalizer = (u: unknown, where: string): NormalizerSpec => {
  const o = object(u, where)
  const type = typeOf(o, where)
  switch (type) {
    case "Sequence":
      return { type, normalizers: array(o["normalizers"], `${where}.normalizers`).map((n, i) => normalizer(n, `${where}.normalizers[${i}]`)) }
    case "NFC":
    case "NFD":
    case "NFKC":
    case "NFKD":
    case "Lowercase":
      return { type }
    case "Prepend":
      return { type, prepend: string(o, "prepend", where) }
    case "Replace":
      return { type, pattern: pattern(o["pattern"], `${where}.pattern`), content: string(o, "content", where) }
    case "Strip":
      return { type, left: bool(o, "strip_left", where, true), right: bool(o, "strip_right", where, true) }
    case "BertNormalizer": {
      // Defaults are HF's BertNormalizer::default(); strip_accents null means "follow lowercase".
      const strip = o["strip_accents"]
      if (strip !== undefined && strip !== null && typeof strip !== "boolean") return parseFail(`${where}.strip_accents: expected a boolean or null`)
      return {
        type,
        cleanText: bool(o, "clean_text", where, true),
        handleChineseChars: bool(o, "handle_chinese_chars", where, true),
        stripAccents: strip ?? null,
        lowercase: bool(o, "lowercase", where, true)
      }
    }
    default:
      return unsupported(
        `normalizer "${type}" (at ${where}) is not implemented; supported: Sequence, NFC, NFD, NFKC, NFKD, Lowercase, Prepend, Replace, Strip, BertNormalizer`
      )
  }
}

const behaviors: ReadonlyArray<SplitBehavior> = ["Removed", "Isolated", "MergedWithPrevious", "MergedWithNext", "Contiguous"]

const preTokenizer = (u: unknown, where: string): PreTokenizerSpec => {
  const o = object(u, where)
  const type = typeOf(o, where)
  switch (type) {
    case "Sequence":
      return {
        type,
        pretokenizers: array(o["pretokenizers"], `${where}.pretokenizers`).map((p, i) => preTokenizer(p, `${where}.pretokenizers[${i}]`))
      }
    case "Split": {
      const behavior = string(o, "behavior", where)
      if (!behaviors.includes(behavior as SplitBehavior)) return parseFail(`${where}.behavior: unknown split behavior "${behavior}"`)
      return { type, pattern: pattern(o["pattern"], `${where}.pattern`), behavior: behavior as SplitBehavior, invert: bool(o, "invert", where, false) }
    }
    case "Digits":
      return { type, individualDigits: bool(o, "individual_digits", where, false) }
    case "ByteLevel":
      return { type, addPrefixSpace: bool(o, "add_prefix_space", where, true), useRegex: bool(o, "use_regex", where, true) }
    case "WhitespaceSplit":
    case "BertPreTokenizer":
      return { type }
    default:
      return unsupported(
        `pre-tokenizer "${type}" (at ${where}) is not implemented; supported: Sequence, Split, Digits, ByteLevel, WhitespaceSplit, BertPreTokenizer`
      )
  }
}

const specialIds = (pair: unknown, where: string): number => {
  const a = array(pair, where)
  return integer(a[1], `${where}[1]`)
}

const postProcessor = (u: unknown, where: string): PostProcessorSpec => {
  const o = object(u, where)
  const type = typeOf(o, where)
  switch (type) {
    case "ByteLevel":
      return { type } // offsets only; ids are untouched
    case "Sequence":
      return {
        type,
        processors: array(o["processors"], `${where}.processors`).map((p, i) => postProcessor(p, `${where}.processors[${i}]`))
      }
    case "RobertaProcessing":
    case "BertProcessing":
      return { type: "Template", before: [specialIds(o["cls"], `${where}.cls`)], after: [specialIds(o["sep"], `${where}.sep`)] }
    case "TemplateProcessing": {
      const specials = object(o["special_tokens"] ?? {}, `${where}.special_tokens`)
      const before: number[] = []
      const after: number[] = []
      let seenSequence = false
      for (const [i, piece] of array(o["single"], `${where}.single`).entries()) {
        const p = object(piece, `${where}.single[${i}]`)
        if (isObject(p["Sequence"])) {
          if (seenSequence) return parseFail(`${where}.single: a single-sequence template names the sequence twice`)
          seenSequence = true
        } else if (isObject(p["SpecialToken"])) {
          const name = string(p["SpecialToken"], "id", `${where}.single[${i}].SpecialToken`)
          const special = specials[name]
          if (!isObject(special)) return parseFail(`${where}: special token "${name}" is used in the template but not defined`)
          const ids = array(special["ids"], `${where}.special_tokens.${name}.ids`).map((id, k) => integer(id, `${where}.special_tokens.${name}.ids[${k}]`))
          ;(seenSequence ? after : before).push(...ids)
        } else {
          return parseFail(`${where}.single[${i}]: expected {"Sequence": …} or {"SpecialToken": …}`)
        }
      }
      return { type: "Template", before, after }
    }
    default:
      return unsupported(`post-processor "${type}" (at ${where}) is not implemented; supported: ByteLevel, TemplateProcessing, RobertaProcessing, BertProcessing, Sequence`)
  }
}

const decoder = (u: unknown): DecoderSpec => {
  if (u === null || u === undefined) return { type: "None" }
  const o = object(u, "decoder")
  const type = typeOf(o, "decoder")
  if (type === "ByteLevel") return { type }
  if (type === "WordPiece") return { type, prefix: typeof o["prefix"] === "string" ? o["prefix"] : "##", cleanup: bool(o, "cleanup", "decoder", true) }
  return unsupported(`decoder "${type}" is not implemented; supported: ByteLevel (byte-level BPE), WordPiece`)
}

const vocabulary = (u: unknown): Map<string, number> => {
  const vocabObject = object(u, "model.vocab")
  const vocab = new Map<string, number>()
  for (const token in vocabObject) vocab.set(token, integer(vocabObject[token], `model.vocab[${JSON.stringify(token)}]`))
  return vocab
}

/** HF's WordPiece defaults: `[UNK]`, `##`, and words over 100 characters unknown. */
const wordPiece = (o: Json): WordPieceSpec => {
  const unk = o["unk_token"] ?? "[UNK]"
  const prefix = o["continuing_subword_prefix"] ?? "##"
  if (typeof unk !== "string") return parseFail("model.unk_token: expected a string")
  if (typeof prefix !== "string") return parseFail("model.continuing_subword_prefix: expected a string")
  const maxChars = o["max_input_chars_per_word"] ?? 100
  return {
    type: "WordPiece",
    vocab: vocabulary(o["vocab"]),
    unkToken: unk,
    continuingSubwordPrefix: prefix,
    maxInputCharsPerWord: integer(maxChars, "model.max_input_chars_per_word")
  }
}

const model = (u: unknown): ModelSpec => {
  const o = object(u, "model")
  const type = o["type"] ?? "BPE"
  if (type === "WordPiece") return wordPiece(o)
  if (type !== "BPE") return unsupported(`model "${String(type)}" is not implemented; supported: BPE (byte-level), WordPiece`)
  if (bool(o, "byte_fallback", "model", false)) return unsupported("model.byte_fallback: byte fallback (SentencePiece-style BPE) is not implemented")
  if (o["dropout"] !== null && o["dropout"] !== undefined && o["dropout"] !== 0) {
    return unsupported("model.dropout: BPE dropout makes encoding random; a data tokenizer must be deterministic")
  }
  for (const key of ["continuing_subword_prefix", "end_of_word_suffix"]) {
    const v = o[key]
    if (v !== null && v !== undefined && v !== "") return unsupported(`model.${key} = ${JSON.stringify(v)} is not implemented (byte-level BPE does not use it)`)
  }
  const vocab = vocabulary(o["vocab"])
  // Two on-disk forms: "a b" strings (tokenizers < 0.20) and ["a", "b"] pairs (newer, which allows spaces in tokens).
  const merges = array(o["merges"] ?? [], "model.merges").map((m, i): readonly [string, string] => {
    if (typeof m === "string") {
      const space = m.indexOf(" ", 1)
      if (space < 0) return parseFail(`model.merges[${i}]: "${m}" is not "left right"`)
      return [m.slice(0, space), m.slice(space + 1)]
    }
    const pair = array(m, `model.merges[${i}]`)
    if (pair.length !== 2 || typeof pair[0] !== "string" || typeof pair[1] !== "string") return parseFail(`model.merges[${i}]: expected two strings`)
    return [pair[0], pair[1]]
  })
  const unk = o["unk_token"]
  return {
    type: "BPE",
    vocab,
    merges,
    unkToken: typeof unk === "string" ? unk : null,
    fuseUnk: bool(o, "fuse_unk", "model", false),
    ignoreMerges: bool(o, "ignore_merges", "model", false)
  }
}

/** Reads a `tokenizer.json` text. Throws `TokenizerConfigError` (Parse or Unsupported). */
export const parseTokenizerJson = (text: string): TokenizerSpec => {
  let root: unknown
  try {
    root = JSON.parse(text)
  } catch (e) {
    return parseFail(`not JSON: ${(e as Error).message}`)
  }
  const o = object(root, "tokenizer.json")
  if (!isObject(o["model"])) return parseFail("tokenizer.json has no \"model\" object")
  const addedTokens = array(o["added_tokens"] ?? [], "added_tokens").map((u, i): AddedTokenSpec => {
    const where = `added_tokens[${i}]`
    const t = object(u, where)
    return {
      id: integer(t["id"], `${where}.id`),
      content: string(t, "content", where),
      singleWord: bool(t, "single_word", where, false),
      lstrip: bool(t, "lstrip", where, false),
      rstrip: bool(t, "rstrip", where, false),
      normalized: bool(t, "normalized", where, true),
      special: bool(t, "special", where, false)
    }
  })
  return {
    addedTokens,
    normalizer: o["normalizer"] == null ? null : normalizer(o["normalizer"], "normalizer"),
    preTokenizer: o["pre_tokenizer"] == null ? null : preTokenizer(o["pre_tokenizer"], "pre_tokenizer"),
    postProcessor: o["post_processor"] == null ? null : postProcessor(o["post_processor"], "post_processor"),
    decoder: decoder(o["decoder"]),
    model: model(o["model"])
  }
}
