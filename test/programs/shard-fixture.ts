/**
 * What the tests of `programs/tokenizer.ts shard` share: three JSONL files of different lengths, a small BPE
 * trained on them (in this process: no program run), the ids a document should have, and a token file read back
 * with plain byte arithmetic (independent of src/data/shards/reader.ts).
 */
import { Effect } from "effect"
import { readdirSync, readFileSync, statSync, writeFileSync } from "node:fs"
import * as path from "node:path"
import { makeTokenizer } from "../../src/data/tokenizer/Tokenizer.ts"
import { trainBpe, WordCounter } from "../../src/data/tokenizer/train.ts"

export const tokenizerProgram = path.resolve(import.meta.dirname, "..", "..", "programs", "tokenizer.ts")

const words = ("the of and to in is that for it with as was on be by this are from at river mountain history science " +
  "student teacher garden kitchen market village winter summer music library question answer energy water light 42 7").split(" ")

/** Prose of 4 to 40 words, different for each seed. */
const prose = (seed: number) => {
  let s = seed * 7919 + 13
  const next = () => (s = (s * 1103515245 + 12345) % 2147483648) / 2147483648
  return Array.from({ length: 4 + Math.floor(next() * 36) }, () => words[Math.floor(next() * words.length)]!).join(" ") + "."
}

export interface ShardInputs {
  /** in/0.jsonl, in/1.jsonl, in/2.jsonl: 7, 4 and 9 documents. */
  readonly files: ReadonlyArray<string>
  /** The texts of each file, in order. */
  readonly texts: ReadonlyArray<ReadonlyArray<string>>
  readonly tokenizer: string
  /** A text's ids as a shard holds them: the tokenizer's, then `<|endoftext|>`. */
  readonly idsOf: (text: string) => Array<number>
  readonly decode: (ids: ReadonlyArray<number>) => string
}

export const writeShardInputs = async (dir: string): Promise<ShardInputs> => {
  const texts = [7, 4, 9].map((n, f) => Array.from({ length: n }, (_, i) => prose(100 * f + i)))
  const files = texts.map((docs, f) => {
    const file = path.join(dir, `in-${f}.jsonl`)
    writeFileSync(file, docs.map((text, i) => JSON.stringify({ id: `${f}-${i}`, text })).join("\n") + "\n")
    return file
  })
  const counter = new WordCounter()
  for (const t of texts.flat()) counter.add(t)
  const json = JSON.stringify(trainBpe(counter, { vocabSize: 320, specialTokens: ["<|endoftext|>"], minFrequency: 1 }))
  const tokenizer = path.join(dir, "tokenizer.json")
  writeFileSync(tokenizer, json)
  const t = await Effect.runPromise(Effect.scoped(makeTokenizer(json, { name: tokenizer })))
  const eos = t.tokenToId("<|endoftext|>")!
  return {
    files,
    texts,
    tokenizer,
    idsOf: (text) => [...Effect.runSync(t.encode(text)), eos],
    decode: (ids) => Effect.runSync(t.decode(ids))
  }
}

/** The documents of a `.ds` file (2-byte ids): its token stream cut at the ends in `.ds.index`. */
export const readTokenFile = (ds: string): Array<Array<number>> => {
  const bytes = readFileSync(ds)
  const ids = Array.from({ length: bytes.length / 2 }, (_, i) => bytes.readUInt16LE(2 * i))
  const index = readFileSync(`${ds}.index`)
  const ends = Array.from({ length: index.length / 8 }, (_, i) => Number(index.readBigUInt64LE(8 * i)))
  return ends.map((end, i) => ids.slice(i === 0 ? 0 : ends[i - 1], end))
}

/** The `.ds` files of a folder (not below it) whose names start with `prefix`, sorted by name. */
export const tokenFiles = (dir: string, prefix = ""): Array<string> =>
  readdirSync(dir).filter((n) => n.startsWith(prefix) && n.endsWith(".ds")).sort().map((n) => path.join(dir, n))

/** Every file under `dir` but its logs, by relative path, with its bytes. */
export const outputFiles = (dir: string): Map<string, Buffer> => {
  const out = new Map<string, Buffer>()
  for (const e of readdirSync(dir, { recursive: true, withFileTypes: true })) {
    const rel = path.relative(dir, path.join(e.parentPath, e.name))
    if (!e.isFile() || rel.split(path.sep)[0] === "logs") continue
    out.set(rel, readFileSync(path.join(dir, rel)))
  }
  return new Map([...out].sort(([a], [b]) => a.localeCompare(b)))
}

export const modifiedAt = (file: string) => statSync(file).mtimeMs
