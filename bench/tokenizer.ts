/**
 * Encode throughput: our BPE against HF's Rust `tokenizers` binding on the same text, same tokenizer, same thread
 * count. English prose and source code; one thread and all threads.
 *
 *   npx tsx bench/tokenizer.ts [--tokenizer FILE] [--reps 3] [--threads N]
 *
 * Text and tokenizer come from ../shared/data when present (SmolLM2's tokenizer.json; Wikipedia + C4 prose; MBPP
 * and MultiPL-E code), otherwise they are generated and a tokenizer is trained on the spot. Every figure is the
 * best of `--reps` passes over the whole corpus after one warm-up pass, so both sides run with warm word caches;
 * our cold first pass is printed too. The Rust side runs `encodeBatch` (its fastest path) in a child process with
 * RAYON_NUM_THREADS set, since rayon's pool size is fixed at its first use. Ends with one JSON line whose headline
 * is single-thread English prose.
 */
import { execFileSync } from "node:child_process"
import { existsSync, readFileSync } from "node:fs"
import { availableParallelism } from "node:os"
import { dirname, resolve } from "node:path"
import { fileURLToPath } from "node:url"
import { parseArgs } from "node:util"
import { Tokenizer as HfTokenizer } from "tokenizers"
import { BpeTokenizer } from "../src/data/tokenizer/core.ts"
import { trainBpe, WordCounter } from "../src/data/tokenizer/train.ts"
import { EncoderPool } from "../src/data/tokenizer/workers.ts"

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..")
const shared = process.env["SMOL_SHARED_DATA"] ?? resolve(root, "../shared/data")

const { values: args } = parseArgs({
  options: {
    tokenizer: { type: "string" },
    reps: { type: "string", default: "3" },
    threads: { type: "string", default: String(availableParallelism()) },
    // Internal: run one reference measurement in this (child) process and print its MB/s.
    child: { type: "string" }
  }
})
const reps = Math.max(1, Number(args.reps))
const allThreads = Math.max(1, Number(args.threads))

// ---------------------------------------------------------------------------------------------------------------
// Corpora: real text when the shared folder is there, else generated (seeded, so every run sees the same bytes).

const jsonlField = (path: string, fields: ReadonlyArray<string>): string[] =>
  readFileSync(path, "utf8").split("\n").filter((l) => l.trim().length > 0).map((l) => {
    const o = JSON.parse(l) as Record<string, unknown>
    return fields.map((f) => (typeof o[f] === "string" ? o[f] : "")).join("\n")
  })

const seeded = (seed: number) => () => {
  seed = (seed * 1664525 + 1013904223) >>> 0
  return seed / 4294967296
}

const generatedProse = (): string[] => {
  const words = "the of and to in is was for that with as on by it he at from his an were are which this be or has had not but first one their its new after who they have her she two been other when there all during into school time may years more most only over city some world would where later up such used many can state about national out known".split(" ")
  const r = seeded(1)
  return Array.from({ length: 2000 }, () => {
    let doc = ""
    while (doc.length < 1000) doc += Array.from({ length: 12 }, () => words[Math.floor(r() * words.length)]).join(" ") + (r() < 0.2 ? ".\n\n" : ". ")
    return doc
  })
}

const generatedCode = (): string[] => {
  const r = seeded(2)
  const names = ["value", "index", "result", "items", "count", "total", "node", "left", "right", "buffer"]
  return Array.from({ length: 1500 }, (_, i) => {
    const n = () => names[Math.floor(r() * names.length)]
    let doc = `def function_${i}(${n()}, ${n()}=None):\n`
    for (let k = 0; k < 12; k++) doc += `    ${n()} = ${n()}[${Math.floor(r() * 100)}] + ${n()} * ${(r() * 10).toFixed(2)}  # step ${k}\n`
    return doc + `    return ${n()}\n`
  })
}

const corpora = (): { prose: string[]; code: string[]; source: string } => {
  const wiki = resolve(shared, "pretrain/web/wiki_demo.txt")
  const c4 = resolve(shared, "pretrain/web/c4_demo.jsonl")
  const mbpp = resolve(shared, "pretrain/code/mbpp.jsonl")
  if (existsSync(wiki) && existsSync(c4) && existsSync(mbpp)) {
    const prose = [...readFileSync(wiki, "utf8").split("\n").filter((l) => l.length > 0), ...jsonlField(c4, ["text"])]
    const code = [...jsonlField(mbpp, ["code"])]
    for (const lang of ["js", "cpp", "java"]) {
      const path = resolve(shared, `eval/multipl-e/humaneval-${lang}.jsonl`)
      if (existsSync(path)) code.push(...jsonlField(path, ["prompt", "tests"]))
    }
    return { prose, code, source: `${shared} (Wikipedia + C4 prose; MBPP + MultiPL-E code)` }
  }
  return { prose: generatedProse(), code: generatedCode(), source: "generated text (shared data absent)" }
}

const tokenizerJson = (): { json: string; name: string } => {
  const file = args.tokenizer ?? resolve(shared, "tokenizer/smollm2/tokenizer.json")
  if (existsSync(file)) return { json: readFileSync(file, "utf8"), name: file }
  const counter = new WordCounter()
  for (const doc of [...generatedProse(), ...generatedCode()]) counter.add(doc)
  return { json: JSON.stringify(trainBpe(counter, { vocabSize: 8192, specialTokens: ["<|endoftext|>"] })), name: "8,192-token BPE trained on generated text" }
}

const megabytes = (docs: ReadonlyArray<string>) => docs.reduce((n, d) => n + Buffer.byteLength(d), 0) / 1e6

/** Best MB/s of `reps` timed passes after one warm-up pass. */
const best = async (docs: ReadonlyArray<string>, pass: () => unknown): Promise<number> => {
  await pass()
  let fastest = Infinity
  for (let i = 0; i < reps; i++) {
    const t = performance.now()
    await pass()
    fastest = Math.min(fastest, (performance.now() - t) / 1000)
  }
  return megabytes(docs) / fastest
}

// ---------------------------------------------------------------------------------------------------------------

if (args.child !== undefined) {
  // Child: the Rust binding on one corpus, with this process's RAYON_NUM_THREADS.
  const { json } = tokenizerJson()
  const hf = HfTokenizer.fromString(json)
  hf.disableTruncation()
  const docs = corpora()[args.child as "prose" | "code"]
  const mbps = await best(docs, () => hf.encodeBatch(docs))
  console.log(JSON.stringify({ mbps }))
  process.exit(0)
}

const reference = (corpus: "prose" | "code", threads: number): number => {
  const out = execFileSync(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url), "--child", corpus, "--reps", String(reps), ...(args.tokenizer ? ["--tokenizer", args.tokenizer] : [])], {
    env: { ...process.env, RAYON_NUM_THREADS: String(threads), RAYON_RS_NUM_CPUS: String(threads) },
    encoding: "utf8"
  })
  return (JSON.parse(out.trim().split("\n").pop()!) as { mbps: number }).mbps
}

const { json, name } = tokenizerJson()
const { prose, code, source } = corpora()
console.error(`tokenizer: ${name}\ntext: ${source}; prose ${megabytes(prose).toFixed(2)} MB in ${prose.length} docs, code ${megabytes(code).toFixed(2)} MB in ${code.length} docs`)

// Same ids first: a fast wrong tokenizer is not a result.
{
  const hf = HfTokenizer.fromString(json)
  hf.disableTruncation()
  const ours = BpeTokenizer.fromJson(json)
  for (const docs of [prose, code]) {
    const sample = docs.slice(0, 200)
    const want = (await hf.encodeBatch(sample)).map((e) => e.getIds())
    sample.forEach((d, i) => {
      const got = ours.encode(d)
      if (got.length !== want[i]!.length || got.some((id, k) => id !== want[i]![k])) throw new Error(`ids differ from HF on document ${i}`)
    })
  }
  console.error("ids identical to HF on the first 200 documents of each corpus")
}

const pool = allThreads > 1 ? await EncoderPool.start(json, allThreads) : undefined
const rows: Array<{ corpus: string; threads: number; ours: number; reference: number; cold?: number }> = []
for (const [corpus, docs] of [["prose", prose], ["code", code]] as const) {
  const fresh = BpeTokenizer.fromJson(json)
  const t = performance.now()
  for (const d of docs) fresh.encode(d)
  const cold = megabytes(docs) / ((performance.now() - t) / 1000)
  const single = await best(docs, () => {
    for (const d of docs) fresh.encode(d)
  })
  rows.push({ corpus, threads: 1, ours: single, reference: reference(corpus, 1), cold })
  console.error(`${corpus}, 1 thread: ours ${single.toFixed(2)} MB/s (cold first pass ${cold.toFixed(2)}), Rust ${rows.at(-1)!.reference.toFixed(2)} MB/s`)
  if (pool !== undefined) {
    const many = await best(docs, () => pool.encodeBatch(docs))
    rows.push({ corpus, threads: allThreads, ours: many, reference: reference(corpus, allThreads) })
    console.error(`${corpus}, ${allThreads} threads: ours ${many.toFixed(2)} MB/s, Rust ${rows.at(-1)!.reference.toFixed(2)} MB/s`)
  }
}
await pool?.close()

console.log(`\nEncode throughput, MB/s of UTF-8 input (best of ${reps} after a warm-up), ${name}\n`)
console.log("| text | threads | ours | HF tokenizers (Rust) | ours / Rust |")
console.log("|---|---:|---:|---:|---:|")
for (const r of rows) console.log(`| ${r.corpus} | ${r.threads} | ${r.ours.toFixed(2)} | ${r.reference.toFixed(2)} | ${(r.ours / r.reference).toFixed(2)} |`)
const head = rows[0]!
console.log(JSON.stringify({
  metric: "tokenizer encode throughput, English prose, 1 thread",
  unit: "MB/s",
  ours: +head.ours.toFixed(3),
  reference: +head.reference.toFixed(3),
  reference_name: "HF tokenizers 0.23.2 (Rust, npm binding) encodeBatch with RAYON_NUM_THREADS=1",
  ratio: +(head.ours / head.reference).toFixed(3),
  tokenizer: name,
  text: source,
  ours_cold_first_pass: +head.cold!.toFixed(3),
  rows: rows.map((r) => ({ text: r.corpus, threads: r.threads, ours: +r.ours.toFixed(3), reference: +r.reference.toFixed(3) }))
}))
