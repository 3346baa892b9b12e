/**
 * Throughput of the MinHash signature stage (simplify_text → spaCy words → 5-gram xxhash64 → 112 permutations,
 * min per hash), single core, on JSONL files passed as arguments or on a generated English-like corpus.
 *
 *   npx tsx bench/dedup.ts [files.jsonl…] [--seconds 3] [--datatrove-python PATH]
 *
 * With --datatrove-python (or DATATROVE_PYTHON) the reference is datatrove's own signature stage on the same texts,
 * whose signatures must equal ours on every document. Otherwise it is the straightforward TypeScript port: the shingles from the shared
 * simplify_text + spaCy words, hashed with xxh64, then the permutations in BigInt exactly as numpy writes them
 * ((h·a + b) mod 2^64 mod p). Both must give identical signatures; the bench checks that on every document
 * before timing. Issue 3's target is ≥ 20 MB/s per core.
 */
import { parseArgs } from "node:util"
import { MERSENNE_PRIME, minhashParameters, MinhashSignatures, shingleTexts } from "../src/data/dedup/minhash.ts"
import { fastWordCounters } from "../src/data/dedup/shingle-words.ts"
import { xxh64String } from "../src/data/dedup/xxhash64.ts"
import { generatedEnglish, jsonlTexts } from "./corpus.ts"
import { referencePython, runPythonReference } from "./python-reference.ts"

const { positionals, values } = parseArgs({
  allowPositionals: true,
  options: { seconds: { type: "string", default: "3" }, "datatrove-python": { type: "string" } }
})

const texts = positionals.length === 0 ? generatedEnglish(1000) : jsonlTexts(positionals)
const bytes = texts.reduce((s, t) => s + Buffer.byteLength(t), 0)

const ours = new MinhashSignatures()
const out = new Uint32Array(ours.numHashes * 2)
const oursPass = () => {
  let n = 0
  for (const t of texts) if (ours.signature(t, out)) n++
  return n
}

const { a, b } = minhashParameters()
const M = (1n << 64n) - 1n
const referenceSignature = (text: string): Array<bigint> | undefined => {
  const shingles = shingleTexts(text).map((s) => xxh64String(s))
  if (shingles.length === 0) return undefined
  return a.map((aj, j) => {
    let min = M
    for (const h of shingles) {
      const v = ((((h * aj) & M) + b[j]!) & M) % MERSENNE_PRIME
      if (v < min) min = v
    }
    return min
  })
}
const referencePass = () => {
  let n = 0
  for (const t of texts) if (referenceSignature(t) !== undefined) n++
  return n
}

// Same answer first, on every document.
for (const t of texts) {
  const ref = referenceSignature(t)
  const ok = ours.signature(t, out)
  const got = ok ? Array.from({ length: ours.numHashes }, (_, j) => (BigInt(out[2 * j + 1]!) << 32n) | BigInt(out[2 * j]!)) : undefined
  if (JSON.stringify(got?.map(String)) !== JSON.stringify(ref?.map(String))) throw new Error("signatures differ from the BigInt reference")
}
const paths = { ...fastWordCounters }

const time = (pass: () => number, budget: number) => {
  pass()
  let passes = 0
  const t0 = performance.now()
  while ((performance.now() - t0) / 1000 < budget || passes === 0) {
    pass()
    passes++
  }
  const secs = (performance.now() - t0) / 1000
  return { mbps: (bytes * passes) / secs / 1e6, dps: (texts.length * passes) / secs }
}
const budget = Number(values.seconds)
const o = time(oursPass, budget)
const r = time(referencePass, budget)
console.log(`${texts.length} documents, ${(bytes / 1e6).toFixed(2)} MB: ours ${o.mbps.toFixed(2)} MB/s (${o.dps.toFixed(0)} docs/s), BigInt reference ${r.mbps.toFixed(2)} MB/s (${r.dps.toFixed(0)} docs/s), one core`)
console.log(`word paths over the check pass: ${paths.documents} documents, ${paths.slowStretches} stretches with other scripts/symbols through the shared functions, ${paths.wholeDocument} whole documents`)
// datatrove's own signature stage on the same texts, when a Python with datatrove is given: get_shingles and
// get_signature of MinhashDedupSignature with MinhashConfig() (FineWeb's), timed the same way; its signatures of
// every document are also compared with ours.
const DATATROVE_SIGNATURES = `
import json, sys, tempfile, time
import xxhash
import datatrove.utils.hashes.xxhash as dt_xxhash
from datatrove.pipeline.dedup.minhash import MinhashConfig, MinhashDedupSignature
if int(xxhash.VERSION.split(".")[0]) >= 4:
    # datatrove pins xxhash<4, which hashed a str as its UTF-8 bytes; xxhash 4 wants the bytes.
    dt_xxhash.xxhash64 = lambda d: xxhash.xxh64_intdigest(d.encode("utf-8") if isinstance(d, str) else d)
    dt_xxhash.xxhash32 = lambda d: xxhash.xxh32_intdigest(d.encode("utf-8") if isinstance(d, str) else d)
texts = json.load(sys.stdin)
step = MinhashDedupSignature(output_folder=tempfile.mkdtemp(), config=MinhashConfig())
def sig(t):
    sh = step.get_shingles(t)
    return None if len(sh) == 0 else [int(h) for bucket in step.get_signature(sh) for h in bucket]
sigs = [sig(t) for t in texts]
budget = float(sys.argv[1]); n = 0; t0 = time.perf_counter()
while time.perf_counter() - t0 < budget:
    for t in texts:
        sh = step.get_shingles(t)
        if len(sh):
            step.get_signature(sh)
    n += 1
secs = time.perf_counter() - t0
total = sum(len(t.encode("utf-8")) for t in texts) * n
print(json.dumps({"docs_per_s": len(texts) * n / secs, "mb_per_s": total / secs / 1e6, "sigs": [None if s is None else [str(h) for h in s] for s in sigs]}))
`
const measured = (() => {
  const python = referencePython(values["datatrove-python"])
  if (python === undefined) return undefined
  const res = runPythonReference<{ docs_per_s: number; mb_per_s: number; sigs: Array<Array<string> | null> }>(
    python,
    DATATROVE_SIGNATURES,
    [String(Math.max(budget, 5))],
    texts
  )
  if (res === undefined) return undefined
  let same = 0
  texts.forEach((t, i) => {
    const ok = ours.signature(t, out)
    const got = ok ? Array.from({ length: ours.numHashes }, (_, j) => String((BigInt(out[2 * j + 1]!) << 32n) | BigInt(out[2 * j]!))) : null
    if (JSON.stringify(got) === JSON.stringify(res.sigs[i])) same++
  })
  console.log(`datatrove (${python}): ${res.mb_per_s.toFixed(3)} MB/s (${res.docs_per_s.toFixed(1)} docs/s); signatures equal to ours on ${same} of ${texts.length} documents`)
  if (same !== texts.length) throw new Error("signatures differ from datatrove's")
  return res
})()
console.log(JSON.stringify({
  metric: "minhash_signature_throughput",
  unit: "docs/s per core",
  ours: +o.dps.toFixed(1),
  reference: +(measured?.docs_per_s ?? r.dps).toFixed(1),
  ours_mb_per_s: +o.mbps.toFixed(2),
  reference_mb_per_s: +(measured?.mb_per_s ?? r.mbps).toFixed(2),
  target_mb_per_s: 20,
  reference_name: measured === undefined
    ? "straightforward TypeScript port with BigInt permutations (pass --datatrove-python to measure datatrove itself)"
    : "datatrove MinhashDedupSignature (get_shingles + get_signature, MinhashConfig()) on the same documents, measured in this run; signatures equal to ours on every document",
  ratio: +(o.dps / (measured?.docs_per_s ?? r.dps)).toFixed(3),
  ...(measured === undefined ? {} : { bigint_port_docs_per_s: +r.dps.toFixed(1) })
}))
