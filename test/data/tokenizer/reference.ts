/**
 * Shared fixtures for the tokenizer suites: a tokenizer trained here on generated text (always available), the
 * real SmolLM2 and GPT-2 files when `../shared/data` is present, and the HF Rust binding as the reference.
 */
import { existsSync, readFileSync } from "node:fs"
import { dirname, resolve } from "node:path"
import { fileURLToPath } from "node:url"
import { Tokenizer as HfTokenizer } from "tokenizers"
import { BpeTokenizer } from "../../../src/data/tokenizer/core.ts"
import { trainBpe, WordCounter } from "../../../src/data/tokenizer/train.ts"
import { proseText, rng, stressText } from "./stress.ts"

const root = resolve(dirname(fileURLToPath(import.meta.url)), "../../..")
export const sharedData = process.env["SMOL_SHARED_DATA"] ?? resolve(root, "../shared/data")

export const smolSpecials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<repo_name>", "<file_sep>"]

let trained: string | undefined
/** A 2,000-token SmolLM2-style tokenizer trained on generated prose and stress text (built once per process). */
export const trainedTokenizerJson = (): string => {
  if (trained !== undefined) return trained
  const random = rng(7)
  const counter = new WordCounter()
  for (let i = 0; i < 150; i++) counter.add(proseText(random, 2000))
  for (let i = 0; i < 40; i++) counter.add(stressText(random, 1500))
  trained = JSON.stringify(trainBpe(counter, { vocabSize: 2000, specialTokens: smolSpecials }))
  return trained
}

export interface ReferencePair {
  readonly name: string
  readonly json: string
  readonly ours: BpeTokenizer
  readonly hf: HfTokenizer
}

export const pairFromJson = (name: string, json: string): ReferencePair => {
  const hf = HfTokenizer.fromString(json)
  // GPT-2's file carries max_length 50; a data tokenizer never truncates, so compare without it.
  hf.disableTruncation()
  hf.disablePadding()
  return { name, json, ours: BpeTokenizer.fromJson(json), hf }
}

/**
 * The released tokenizers when the shared data folder is there, otherwise the trained one: every run checks a
 * real byte-level BPE against HF, and says which.
 */
export const realOrTrained = (): { readonly pairs: ReadonlyArray<ReferencePair>; readonly note: string } => {
  const files = ["smollm2", "gpt2"].map((n) => ({ n, path: resolve(sharedData, "tokenizer", n, "tokenizer.json") })).filter((f) => existsSync(f.path))
  if (files.length === 0) {
    return {
      pairs: [pairFromJson("trained (shared data absent)", trainedTokenizerJson())],
      note: `${sharedData} not found: checked a tokenizer trained in the test instead of SmolLM2's and GPT-2's`
    }
  }
  return {
    pairs: files.map((f) => pairFromJson(f.n, readFileSync(f.path, "utf8"))),
    note: `checked the released tokenizers: ${files.map((f) => f.n).join(", ")}`
  }
}

/** Real text from the shared data folder when present (first `maxChars` of each file), else nothing. */
export const realTexts = (maxChars: number): Array<string> => {
  const out: string[] = []
  const add = (path: string, get: (line: string) => string | undefined) => {
    if (!existsSync(path)) return
    let used = 0
    for (const line of readFileSync(path, "utf8").split("\n")) {
      if (used > maxChars) break
      const text = line.length === 0 ? undefined : get(line)
      if (text !== undefined && text.length > 0) {
        out.push(text)
        used += text.length
      }
    }
  }
  const jsonField = (field: string) => (line: string) => {
    try {
      const v = (JSON.parse(line) as Record<string, unknown>)[field]
      return typeof v === "string" ? v : undefined
    } catch {
      return undefined
    }
  }
  add(resolve(sharedData, "pretrain/web/c4_demo.jsonl"), jsonField("text"))
  add(resolve(sharedData, "pretrain/web/wiki_demo.txt"), (l) => l)
  add(resolve(sharedData, "pretrain/code/mbpp.jsonl"), jsonField("code"))
  add(resolve(sharedData, "eval/math/test.jsonl"), jsonField("solution"))
  return out
}

/** Compares ids text by text; returns a readable account of the first disagreement, or undefined. */
export const firstMismatch = async (pair: ReferencePair, texts: ReadonlyArray<string>, addSpecialTokens = true): Promise<string | undefined> => {
  const encodings = await pair.hf.encodeBatch([...texts], { addSpecialTokens })
  for (let i = 0; i < texts.length; i++) {
    const want = encodings[i]!.getIds()
    const got = Array.from(pair.ours.encode(texts[i]!, { addSpecialTokens }))
    if (got.length === want.length && got.every((id, k) => id === want[k])) continue
    let k = 0
    while (k < got.length && got[k] === want[k]) k++
    const show = (ids: ArrayLike<number>) => Array.from(ids).slice(Math.max(0, k - 3), k + 4).map((id) => `${id}:${JSON.stringify(pair.ours.idToToken(id))}`).join(" ")
    return `${pair.name}: text #${i} differs at token ${k} (ours ${got.length} ids, HF ${want.length})\n` +
      `  text near there: ${JSON.stringify(texts[i]!.slice(0, 200))}\n  ours: ${show(got)}\n  HF:   ${show(want)}`
  }
  return undefined
}
