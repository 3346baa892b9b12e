/**
 * Throughput of the FineWeb filter chain (Gopher repetition → Gopher quality → C4 quality with
 * filter_no_terminal_punct=False → FineWeb quality), single core, on JSONL files passed as arguments or on a
 * generated English-like corpus.
 *
 *   npx tsx bench/filters.ts [files.jsonl…] [--seconds 3] [--datatrove-python PATH]
 *
 * The reference is datatrove itself on the same documents when --datatrove-python (or DATATROVE_PYTHON) names a
 * Python that has it; otherwise the figure issue 3 gives for datatrove on this machine kind (0.66 MB/s per core),
 * and the JSON line says which. Two figures: the steady state (every span already in the tokenizer's cache, as in a long
 * job) and a first pass with an empty cache (every distinct span tokenized by the rules once).
 */
import { parseArgs } from "node:util"
import { C4QualityFilter } from "../src/data/filters/c4-quality.ts"
import { FineWebQualityFilter } from "../src/data/filters/fineweb-quality.ts"
import { GopherQualityFilter } from "../src/data/filters/gopher-quality.ts"
import { GopherRepetitionFilter } from "../src/data/filters/gopher-repetition.ts"
import { makeDocument } from "../src/data/Document.ts"
import { forgetRecentTexts } from "../src/data/text/datatrove-text.ts"
import { startNewVocab } from "../src/data/text/spacy-en/index.ts"
import { generatedEnglish, jsonlTexts } from "./corpus.ts"
import { referencePython, runPythonReference } from "./python-reference.ts"

const { positionals, values } = parseArgs({
  allowPositionals: true,
  options: { seconds: { type: "string", default: "3" }, "datatrove-python": { type: "string" } }
})

const docs = (positionals.length === 0 ? generatedEnglish(2000, 0.8) : jsonlTexts(positionals)).map((text, i) => makeDocument(String(i), text))
const bytes = docs.reduce((s, d) => s + Buffer.byteLength(d.text), 0)
const chain = [GopherRepetitionFilter(), GopherQualityFilter(), C4QualityFilter({ filterNoTerminalPunct: false }), FineWebQualityFilter()]

const pass = () => {
  // The word memo connects consecutive filters on one document; a later pass over the same texts must not find
  // them already tokenized (a real stream never shows a filter chain the same text twice).
  forgetRecentTexts()
  let kept = 0
  for (const doc of docs) {
    let d = doc
    let ok = true
    for (const f of chain) {
      const r = f.filter(d)
      if (r._tag === "Drop") {
        ok = false
        break
      }
      d = r.doc
    }
    if (ok) kept++
  }
  return kept
}

// A cold pass first: the tokenizer's cache of spans (whitespace-delimited runs) starts empty, as at the start of a
// job, so every distinct span is tokenized by the rules once. A pass before it warms up the code (the JIT, and V8
// compiling the rules' regexes), so this measures the empty cache, not the warm-up.
const coldMbps = (() => {
  pass()
  let best = Infinity
  for (let k = 0; k < 3; k++) {
    startNewVocab()
    forgetRecentTexts()
    const t = performance.now()
    pass()
    best = Math.min(best, performance.now() - t)
  }
  return bytes / (best / 1000) / 1e6
})()
pass()
const budget = Number(values.seconds)
let passes = 0
const t0 = performance.now()
let kept = 0
while ((performance.now() - t0) / 1000 < budget) {
  kept = pass()
  passes++
}
const secs = (performance.now() - t0) / 1000
const mbps = (bytes * passes) / secs / 1e6
const dps = (docs.length * passes) / secs
console.log(`${docs.length} documents, ${(bytes / 1e6).toFixed(2)} MB, kept ${kept}: ${mbps.toFixed(2)} MB/s, ${dps.toFixed(0)} docs/s (one core)`)
console.log(`first pass with an empty span cache: ${coldMbps.toFixed(2)} MB/s (a real stream sits between the two as the cache fills)`)
// datatrove itself, on the same documents, when a Python with datatrove (and spaCy) is given: the same four
// filters in the same order, one core, the same timing (passes over the documents for the same number of seconds).
const DATATROVE_CHAIN = `
import json, sys, time
from datatrove.data import Document
from datatrove.pipeline.filters import C4QualityFilter, FineWebQualityFilter, GopherQualityFilter, GopherRepetitionFilter
texts = [t for t in json.load(sys.stdin) if t]
chain = [GopherRepetitionFilter(), GopherQualityFilter(), C4QualityFilter(filter_no_terminal_punct=False), FineWebQualityFilter()]
def run():
    for i, t in enumerate(texts):
        doc = Document(text=t, id=str(i))
        for f in chain:
            r = f.filter(doc)
            if r is False or (isinstance(r, tuple) and not r[0]):
                break
run()
budget = float(sys.argv[1]); n = 0; t0 = time.perf_counter()
while time.perf_counter() - t0 < budget:
    run(); n += 1
secs = time.perf_counter() - t0
total = sum(len(t.encode("utf-8")) for t in texts) * n
print(json.dumps({"mb_per_s": total / secs / 1e6, "passes": n}))
`
const measured = (() => {
  const python = referencePython(values["datatrove-python"])
  if (python === undefined) return undefined
  // datatrove raises on an empty text (ZeroDivisionError in GopherRepetitionFilter); those are left out there.
  const out = runPythonReference<{ mb_per_s: number; passes: number }>(
    python,
    DATATROVE_CHAIN,
    [String(Math.max(budget, 5))],
    docs.map((d) => d.text)
  )
  if (out === undefined) return undefined
  console.log(`datatrove (${python}): ${out.mb_per_s.toFixed(3)} MB/s over ${out.passes} passes`)
  return out.mb_per_s
})()
const reference = measured ?? 0.66
console.log(JSON.stringify({
  metric: "fineweb_filter_chain_throughput",
  unit: "MB/s per core",
  ours: +mbps.toFixed(3),
  reference: +reference.toFixed(3),
  reference_name: measured === undefined
    ? "datatrove 0.10 FineWeb chain, figure quoted in issue 3 (not run here; pass --datatrove-python to measure it)"
    : "datatrove FineWeb chain (GopherRepetition, GopherQuality, C4Quality(filter_no_terminal_punct=False), FineWebQuality) on the same documents, measured in this run",
  ratio: +(mbps / reference).toFixed(3),
  ours_first_pass_empty_cache: +coldMbps.toFixed(3)
}))
