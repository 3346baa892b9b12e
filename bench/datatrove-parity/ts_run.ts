/**
 * Our side of the datatrove parity check: the TypeScript ports over a corpus, one JSON line per text with the
 * fields py_run.py writes for datatrove + spaCy (words, sentence count, spaCy tokens, each filter's outcome, the
 * FineWeb chain).
 *
 *   npx tsx bench/datatrove-parity/ts_run.ts CORPUS.jsonl OUT.jsonl      (from the repository root)
 */
import { closeSync, openSync, readFileSync, writeSync } from "node:fs"
import type { Document } from "../../src/data/Document.ts"
import { C4ParagraphFilter } from "../../src/data/filters/c4-paragraph.ts"
import { C4QualityFilter } from "../../src/data/filters/c4-quality.ts"
import type { DocFilter } from "../../src/data/filters/Filter.ts"
import { FineWebQualityFilter } from "../../src/data/filters/fineweb-quality.ts"
import { GopherQualityFilter } from "../../src/data/filters/gopher-quality.ts"
import { GopherRepetitionFilter } from "../../src/data/filters/gopher-repetition.ts"
import { countSentences, spacyTokens, wordTokenize } from "../../src/data/text/spacy-en/index.ts"

const [corpusPath, outPath] = process.argv.slice(2)
if (corpusPath === undefined || outPath === undefined) {
  console.error("usage: npx tsx bench/datatrove-parity/ts_run.ts CORPUS.jsonl OUT.jsonl")
  process.exit(2)
}

const FILTERS = {
  gopher_rep: GopherRepetitionFilter(),
  gopher_quality: GopherQualityFilter(),
  c4_ntp_false: C4QualityFilter({ filterNoTerminalPunct: false }),
  c4_default: C4QualityFilter(),
  c4_sentences: C4QualityFilter({ splitParagraph: false }),
  c4_paragraph: C4ParagraphFilter(),
  fineweb: FineWebQualityFilter()
} satisfies Record<string, DocFilter>
const CHAIN = ["gopher_rep", "gopher_quality", "c4_ntp_false", "fineweb"] as const

interface Outcome {
  readonly keep: boolean | null
  readonly reason: string | null
  readonly text: string | null
}

/** Like py_run.py: a thrown error becomes keep=null with the message as the reason. */
const run = (f: DocFilter, doc: Document): { readonly outcome: Outcome; readonly kept: Document | null } => {
  try {
    const r = f.filter(doc)
    if (r._tag === "Keep") return { outcome: { keep: true, reason: null, text: r.doc.text }, kept: r.doc }
    return { outcome: { keep: false, reason: r.reason ?? null, text: null }, kept: null }
  } catch (e) {
    return { outcome: { keep: null, reason: `ERROR ${String(e)}`, text: null }, kept: null }
  }
}

const chainOf = (doc: Document): Outcome & { readonly step: string | null } => {
  let d = doc
  for (const name of CHAIN) {
    const { outcome, kept } = run(FILTERS[name], d)
    if (kept === null) return { ...outcome, text: null, step: name }
    d = kept
  }
  return { keep: true, reason: null, text: d.text, step: null }
}

const t0 = Date.now()
const lines = readFileSync(corpusPath, "utf8").split("\n").filter((l) => l.length > 0)
const fd = openSync(outPath, "w")
let pending: Array<string> = []
let pendingChars = 0
const flush = () => {
  writeSync(fd, pending.join(""))
  pending = []
  pendingChars = 0
}
for (const line of lines) {
  const { id, text } = JSON.parse(line) as { id: string; text: string }
  const rec: Record<string, unknown> = {
    id,
    words: wordTokenize(text),
    nsent: countSentences(text),
    tokens: spacyTokens(text).map((t) => [t.text, t.space])
  }
  for (const [name, f] of Object.entries(FILTERS)) rec[name] = run(f, { id, text, metadata: {} }).outcome
  rec.chain = chainOf({ id, text, metadata: {} })
  const s = JSON.stringify(rec) + "\n"
  pending.push(s)
  pendingChars += s.length
  if (pendingChars > 1 << 22) flush()
}
flush()
closeSync(fd)
console.error(`ts_run: ${lines.length} texts in ${((Date.now() - t0) / 1000).toFixed(1)}s`)
