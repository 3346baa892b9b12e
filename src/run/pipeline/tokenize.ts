/**
 * The tokenizer (trained on the curated sources, or a given `tokenizer.json` copied into the run) and each
 * source's token shards (datatrove's `.ds` layout, documents shuffled with the run's seed), which the stages mix.
 */
import { Effect, FileSystem, Schema, Stream } from "effect"
import * as path from "node:path"
import { writeFileAtomic } from "../../data/io/atomic.ts"
import { readDocuments } from "../../data/io/readers.ts"
import { listTokenShards } from "../../data/shards/reader.ts"
import { tokenizeToShards } from "../../data/shards/writer.ts"
import { loadTokenizer } from "../../data/tokenizer/Tokenizer.ts"
import { trainBpe, WordCounter } from "../../data/tokenizer/train.ts"
import type { RunConfig } from "../config.ts"
import { TokenizerReport } from "../report/schema.ts"
import type { CuratedSource } from "./curate.ts"
import { FullRunError, type RunPaths } from "./layout.ts"

export const Tokenized = Schema.Struct({
  report: TokenizerReport,
  /** Source name → its .ds files. */
  shards: Schema.Record(Schema.String, Schema.Array(Schema.String))
})
export type Tokenized = typeof Tokenized.Type

/** How many of each source's documents the tokenizer learns from (config `tokenizer.train.documents` and `mixture`). */
const trainingCounts = (sizes: ReadonlyMap<string, number>, documents: number | undefined, mixture: Readonly<Record<string, number>> | undefined) => {
  const names = [...sizes.keys()]
  if (documents === undefined && mixture === undefined) return sizes
  const weights = names.map((n) => (mixture === undefined ? sizes.get(n)! : mixture[n] ?? 0))
  const total = weights.reduce((a, b) => a + b, 0)
  const budget = documents ?? [...sizes.values()].reduce((a, b) => a + b, 0)
  return new Map(names.map((n, i) => [n, Math.min(sizes.get(n)!, total > 0 ? Math.round((budget * weights[i]!) / total) : 0)]))
}

const textsOf = (s: CuratedSource) => readDocuments(s.inputs, { textKey: s.textKey }).pipe(Stream.map((d) => d.text))

/** Trains or copies the tokenizer, then writes every source's shards. */
export const tokenizeSources = (config: RunConfig, sources: ReadonlyArray<CuratedSource>, paths: RunPaths, log: (line: string) => void) =>
  Effect.scoped(Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const file = paths.tokenizer
    if ("file" in config.tokenizer) {
      yield* writeFileAtomic(file, yield* fs.readFileString(config.tokenizer.file))
    } else {
      const t = config.tokenizer.train
      const sizes = new Map<string, number>()
      for (const s of sources) sizes.set(s.name, yield* textsOf(s).pipe(Stream.runCount))
      const counts = trainingCounts(sizes, t.documents, t.mixture)
      const counter = new WordCounter()
      for (const s of sources) yield* textsOf(s).pipe(Stream.take(counts.get(s.name) ?? 0), Stream.runForEach((text) => Effect.sync(() => counter.add(text))))
      const json = trainBpe(counter, { vocabSize: t.vocabSize, specialTokens: t.specialTokens, minFrequency: t.minFrequency })
      yield* writeFileAtomic(file, JSON.stringify(json, null, 2))
      log(`tokenizer: ${counter.counts.size} distinct words from ${[...counts.values()].reduce((a, b) => a + b, 0)} documents → ${file}`)
    }
    const tokenizer = yield* loadTokenizer(file)
    const shards: Record<string, Array<string>> = {}
    const perSource: Array<{ source: string; documents: number; tokens: number }> = []
    for (const s of sources) {
      const dir = paths.shards(s.name)
      // A phase killed midway left part of a source's shards: they are made again whole.
      yield* fs.remove(dir, { recursive: true, force: true })
      const summary = yield* tokenizeToShards(textsOf(s), tokenizer, { outputDir: dir, shuffleSeed: config.seed })
      if (summary.tokens === 0) return yield* new FullRunError({ message: `source ${s.name}: no tokens after curation (every document was dropped)` })
      shards[s.name] = [...(yield* listTokenShards(dir))]
      perSource.push({ source: s.name, documents: summary.documents, tokens: summary.tokens })
      log(`shards: ${s.name} ${summary.documents} documents, ${summary.tokens} tokens → ${dir}`)
    }
    const report: typeof TokenizerReport.Type = {
      kind: "file" in config.tokenizer ? "file" : "trained",
      path: path.resolve(file),
      vocabSize: tokenizer.vocabSize,
      sources: perSource
    }
    return { report, shards } satisfies Tokenized
  }))
