/**
 * FineMath-style curation (recipe notes §6): a 3-point relevance classifier first, then a 5-point quality
 * classifier on what it passes, kept at two thresholds: FineMath3+ (int_score ≥ 3) and FineMath4+ (≥ 4).
 *
 *   npx tsx programs/finemath.ts --input pages/ --output OUT --endpoint http://localhost:8000/v1 \
 *     --model meta-llama/Llama-3.1-70B-Instruct [--sample-relevance 1000000 --sample-quality 1000000] [--tasks 8]
 *   npx tsx programs/finemath.ts --input pages/ --output OUT --annotator canned      (a demo without an endpoint)
 *
 * 1. OUT/relevance/: annotate a sample with the finemath-3 prompt, train, score every page (scored/), keep
 *    int_score ≥ --relevance-threshold in OUT/relevance/kept/. (The paper then expands by domain — domains with
 *    enough pages scoring ≥ 2 — and re-extracts them; here the page-level threshold stands for that step.)
 * 2. OUT/quality/: annotate a sample of the kept pages with the finemath-5 prompt, train, score them once, then
 *    threshold twice: OUT/finemath-3plus/kept/ and OUT/finemath-4plus/kept/ (dropped/threshold/ beside each).
 * The final documents carry the 5-point classifier's metadata.score / int_score; the 3-point ones stay in
 * OUT/relevance/scored/. A rerun resumes every step.
 */
import { NodeHttpClient } from "@effect/platform-node"
import { Console, Effect } from "effect"
import { Command, Flag } from "effect/cli"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { builtinPrompt } from "../src/classify/annotate/prompts.ts"
import { annotateAndTrain, applyAndThreshold } from "../src/classify/curate.ts"
import { annotatorChoiceOf, annotatorFlags, runFlags, trainFlags, trainOptionsOf } from "../src/classify/curation-flags.ts"
import { THRESHOLD_ID } from "../src/classify/threshold-stage.ts"
import { atLeast, defaulting, runMain } from "../src/cli/program.ts"
import { DataConfigError } from "../src/data/errors.ts"
import { writeFileAtomic } from "../src/data/io/atomic.ts"
import type { Stats } from "../src/data/stats.ts"

const worker = fileURLToPath(new URL("./classifier.ts", import.meta.url))

const counts = (stats: ReadonlyMap<string, Stats>, job: string) => {
  const t = stats.get(job)?.[THRESHOLD_ID] ?? {}
  return { documents: t["total"] ?? 0, kept: t["forwarded"] ?? 0, dropped: t["dropped"] ?? 0 }
}

const finemath = Command.make(
  "finemath",
  {
    input: Flag.String("input").pipe(Flag.atLeast(1), Flag.withDescription("Pages: files or folders (repeatable; required)")),
    output: Flag.String("output").pipe(Flag.withDescription("OUT: relevance/, quality/, finemath-3plus/, finemath-4plus/, summary.json (required)")),
    sampleRelevance: Flag.Int("sample-relevance").pipe(atLeast(1), defaulting(1_000_000, "Pages annotated with the 3-point prompt (the paper does not say how many)")),
    sampleQuality: Flag.Int("sample-quality").pipe(atLeast(1), defaulting(1_000_000, "Relevant pages annotated with the 5-point prompt (finemath-classifier: 1M)")),
    relevanceThreshold: Flag.Int("relevance-threshold").pipe(defaulting(2, "Keep pages whose 3-point int_score reaches this for the second pass")),
    ...annotatorFlags,
    ...trainFlags,
    ...runFlags
  },
  (a) =>
    Effect.gen(function*() {
      const annotator = yield* annotatorChoiceOf(a)
      const relevancePrompt = builtinPrompt("finemath-3")
      const qualityPrompt = builtinPrompt("finemath-5")
      if ("problem" in relevancePrompt) return yield* new DataConfigError({ message: relevancePrompt.problem })
      if ("problem" in qualityPrompt) return yield* new DataConfigError({ message: qualityPrompt.problem })
      const relevanceDir = path.join(a.output, "relevance")
      const qualityDir = path.join(a.output, "quality")
      const common = { annotator, seed: a.seed, concurrency: a.concurrency }
      const run = { tasks: a.tasks, workers: a.workers, script: worker }

      yield* Console.error(`== relevance: annotate ${a.sampleRelevance} (finemath-3) → train → apply → keep ≥ ${a.relevanceThreshold}`)
      const relevance = yield* annotateAndTrain({
        ...common,
        inputs: a.input,
        dir: relevanceDir,
        prompt: relevancePrompt,
        sample: a.sampleRelevance,
        train: trainOptionsOf(a, a.relevanceThreshold)
      })
      const relevant = path.join(relevanceDir, "kept")
      const first = yield* applyAndThreshold({
        ...run,
        inputs: a.input,
        model: relevance.model,
        dir: relevanceDir,
        thresholds: [{ name: "relevant", threshold: a.relevanceThreshold, kept: relevant, dropped: path.join(relevanceDir, "dropped") }]
      })

      yield* Console.error(`== quality: annotate ${a.sampleQuality} (finemath-5) → train → apply → FineMath3+ and FineMath4+`)
      const quality = yield* annotateAndTrain({
        ...common,
        inputs: [relevant],
        dir: qualityDir,
        prompt: qualityPrompt,
        sample: a.sampleQuality,
        train: trainOptionsOf(a, 3)
      })
      const subsets = [3, 4].map((t) => ({ name: `finemath-${t}plus`, threshold: t, dir: path.join(a.output, `finemath-${t}plus`) }))
      const second = yield* applyAndThreshold({
        ...run,
        inputs: [relevant],
        model: quality.model,
        dir: qualityDir,
        thresholds: subsets.map((s) => ({ name: s.name, threshold: s.threshold, kept: path.join(s.dir, "kept"), dropped: path.join(s.dir, "dropped") }))
      })

      const summary = {
        relevance: { annotated: relevance.annotation.annotated, validation_binary_f1: relevance.trained.validation.overall.binary.f1, ...counts(first.stats, "relevant") },
        quality: { annotated: quality.annotation.annotated, validation_binary_f1: quality.trained.validation.overall.binary.f1 },
        ...Object.fromEntries(subsets.map((s) => [s.name, { ...counts(second.stats, s.name), source: path.resolve(s.dir, "kept") }]))
      }
      yield* writeFileAtomic(path.join(a.output, "summary.json"), JSON.stringify(summary, null, 2) + "\n")
      const r = summary.relevance
      yield* Console.log(`relevance: kept ${r.kept} of ${r.documents} pages (3-point int_score ≥ ${a.relevanceThreshold}) → ${relevant}`)
      for (const s of subsets) {
        const c = counts(second.stats, s.name)
        yield* Console.log(`${s.name}: kept ${c.kept} of ${c.documents} relevant pages → ${path.join(s.dir, "kept")}`)
      }
    }).pipe(Effect.provide(NodeHttpClient.layerUndici))
).pipe(Command.withDescription("FineMath: 3-point relevance, then 5-point quality on what passes; FineMath3+ and FineMath4+ outputs"))

finemath.pipe(Command.run({ version: "0.1.0" }), runMain)
