/**
 * Apply throughput of the n-gram quality classifier (issue 11's target: ≥ 20k documents/s per core on ~2 KB
 * documents), single core, on generated English-like documents of exactly 2,048 characters or on JSONL files.
 *
 *   npx tsx bench/ngram.ts [files.jsonl…] [--seconds 3] [--buckets 1048576] [--dim 16]
 *
 * The model has random weights of the default shape (2^20 buckets × 16, unigrams + bigrams); speed does not depend
 * on what was learned. Ours: `NgramClassifier.predict` (one pass hashing the lowercased text, then one float per
 * feature from the projected table, built once before timing). Reference, measured in the same run: the plain
 * implementation of the same model in `src/classify/ngram/reference.ts` (regex split, n-gram strings counted in a
 * Map, each string hashed, mean of the 16-wide embedding rows, output layer). The two must agree on every score
 * (|Δ| < 1e-4), checked before timing.
 */
import { parseArgs } from "node:util"
import { NgramClassifier, type NgramConfig, type NgramMode, outputsOf } from "../src/classify/ngram/NgramClassifier.ts"
import { referenceScore } from "../src/classify/ngram/reference.ts"
import { generatedEnglish, jsonlTexts } from "./corpus.ts"
import { bestSecondsPerCall } from "./timing.ts"

const { positionals, values } = parseArgs({
  allowPositionals: true,
  options: {
    seconds: { type: "string", default: "3" },
    buckets: { type: "string", default: String(1 << 20) },
    dim: { type: "string", default: "16" }
  }
})

const twoKilobyteDocuments = (count: number): Array<string> => {
  const pieces = generatedEnglish(count * 3)
  const docs: Array<string> = []
  let at = 0
  for (let i = 0; i < count; i++) {
    let text = ""
    while (text.length < 2048) text += (text === "" ? "" : "\n") + pieces[at++ % pieces.length]
    docs.push(text.slice(0, 2048))
  }
  return docs
}

const texts = positionals.length === 0 ? twoKilobyteDocuments(2000) : jsonlTexts(positionals)
const meanBytes = texts.reduce((s, t) => s + Buffer.byteLength(t), 0) / texts.length
const budget = Number(values.seconds)

const randomModel = (mode: NgramMode): NgramClassifier => {
  const config: NgramConfig = { mode, buckets: Number(values.buckets), dim: Number(values.dim), wordNgrams: 2 }
  let seed = 12345
  const rnd = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31 - 0.5)
  const fill = (n: number, scale: number) => Float32Array.from({ length: n }, () => rnd() * scale)
  const outs = outputsOf(mode)
  return new NgramClassifier(config, {
    embedding: fill(config.buckets * config.dim, 2 / config.dim),
    outputWeight: fill(outs * config.dim, 4),
    outputBias: fill(outs, 1).map((x) => x + 2.5)
  })
}

const measure = async (mode: NgramMode) => {
  const model = randomModel(mode)
  const fast = model.predict(texts)
  let worst = 0
  texts.forEach((t, i) => (worst = Math.max(worst, Math.abs(fast[i]! - referenceScore(model, t)))))
  if (!(worst < 1e-4)) throw new Error(`${mode}: ours and the reference disagree by ${worst}`)
  const ours = texts.length / (await bestSecondsPerCall(async () => void model.predict(texts), budget))
  const reference = texts.length / (await bestSecondsPerCall(async () => void texts.forEach((t) => referenceScore(model, t)), budget))
  console.log(`${mode}: ours ${ours.toFixed(0)} docs/s (${(ours * meanBytes / 1e6).toFixed(1)} MB/s), reference ${reference.toFixed(0)} docs/s; max |Δscore| ${worst.toExponential(1)}`)
  return { ours, reference }
}

console.log(`${texts.length} documents, mean ${meanBytes.toFixed(0)} bytes; ${values.buckets} buckets × ${values.dim}, unigrams + bigrams`)
const regression = await measure("regression")
const softmax = await measure("softmax")
console.log(JSON.stringify({
  metric: "ngram_classifier_apply_throughput",
  unit: `docs/s per core (${positionals.length === 0 ? "generated 2 KB documents" : `the given documents, mean ${meanBytes.toFixed(0)} bytes`}, regression head)`,
  ours: +regression.ours.toFixed(0),
  reference: +regression.reference.toFixed(0),
  reference_name: "plain TypeScript implementation of the same model (regex split, n-gram strings in a Map, mean embedding, output layer), measured in this run; scores equal to ours within 1e-4",
  ratio: +(regression.ours / regression.reference).toFixed(2),
  target_docs_per_s: 20000,
  softmax_ours: +softmax.ours.toFixed(0),
  softmax_reference: +softmax.reference.toFixed(0),
  mean_document_bytes: +meanBytes.toFixed(0)
}))
