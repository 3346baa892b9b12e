/**
 * Stack-Edu-style curation of code (recipe notes §5): for each language, annotate a sample with that language's
 * Stack-Edu prompt, train a classifier on it, score every file, keep int_score ≥ 3 (Java ≥ 2). Each language
 * is a source of its own: OUT/<language>/kept/.
 *
 *   npx tsx programs/stack-edu.ts --input code/ --output OUT --endpoint http://localhost:8000/v1 \
 *     --model meta-llama/Llama-3.1-70B-Instruct [--languages python,java] [--sample 500000] [--tasks 8 --workers 4]
 *   npx tsx programs/stack-edu.ts --input code/ --output OUT --annotator canned      (a demo without an endpoint)
 *
 * --input holds one folder per language, named as the Stack-Edu languages are (python/, cpp/, java/, …).
 * Per language: OUT/<language>/annotation/ (annotate's output and cache), classifier/ (model, report.md,
 * metrics.json), scored/, kept/, dropped/threshold/, logs/; OUT/summary.json over all languages. A rerun resumes:
 * cached annotations are not requested again and finished apply tasks are skipped.
 */
import { NodeHttpClient } from "@effect/platform-node"
import { Console, Effect, Option } from "effect"
import { Command, Flag } from "effect/cli"
import { existsSync, readdirSync } from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { builtinPrompt } from "../src/classify/annotate/prompts.ts"
import { isStackEduLanguage, stackEduLanguages } from "../src/classify/annotate/stack-edu.ts"
import { annotateAndTrain, applyAndThreshold } from "../src/classify/curate.ts"
import { annotatorChoiceOf, annotatorFlags, runFlags, trainFlags, trainOptionsOf } from "../src/classify/curation-flags.ts"
import { STACK_EDU_THRESHOLDS, THRESHOLD_ID, parseThresholdOverrides } from "../src/classify/threshold-stage.ts"
import { atLeast, defaulting, runMain } from "../src/cli/program.ts"
import { DataConfigError } from "../src/data/errors.ts"
import { writeFileAtomic } from "../src/data/io/atomic.ts"

const worker = fileURLToPath(new URL("./classifier.ts", import.meta.url))

const stackEdu = Command.make(
  "stack-edu",
  {
    input: Flag.String("input").pipe(Flag.withDescription("A folder with one subfolder of code documents per language (required)")),
    output: Flag.String("output").pipe(Flag.withDescription("OUT: one folder per language, summary.json (required)")),
    languages: Flag.String("languages").pipe(Flag.withDescription("Comma-separated languages to curate (default: every language folder of --input)"), Flag.optional),
    sample: Flag.Int("sample").pipe(atLeast(1), defaulting(500_000, "Documents annotated per language (Stack-Edu: 500k per classifier)")),
    threshold: Flag.Int("threshold").pipe(defaulting(STACK_EDU_THRESHOLDS.threshold, "Keep int_score ≥ T")),
    thresholdOverride: Flag.String("threshold-override").pipe(
      Flag.atLeast(0),
      Flag.withDescription("LANGUAGE=T for one language (repeatable; default: java=2, the paper's)")
    ),
    ...annotatorFlags,
    ...trainFlags,
    ...runFlags
  },
  (a) =>
    Effect.gen(function*() {
      const annotator = yield* annotatorChoiceOf(a)
      const parsed = parseThresholdOverrides(a.thresholdOverride)
      if ("problem" in parsed) return yield* new DataConfigError({ message: String(parsed.problem) })
      const overrides: Record<string, number> = a.thresholdOverride.length === 0 ? { ...STACK_EDU_THRESHOLDS.overrides } : parsed as Record<string, number>
      if (!existsSync(a.input)) return yield* new DataConfigError({ message: `--input ${a.input}: no such folder` })
      const present = readdirSync(a.input, { withFileTypes: true }).filter((e) => e.isDirectory() && isStackEduLanguage(e.name)).map((e) => e.name)
      const wanted = Option.isSome(a.languages) ? a.languages.value.split(",").map((s) => s.trim()).filter((s) => s !== "") : present
      for (const language of wanted) {
        if (!isStackEduLanguage(language)) return yield* new DataConfigError({ message: `--languages ${language}: not a Stack-Edu language (${Object.keys(stackEduLanguages).join(", ")})` })
        if (!present.includes(language)) return yield* new DataConfigError({ message: `--input ${a.input}: no ${language}/ folder` })
      }
      if (wanted.length === 0) return yield* new DataConfigError({ message: `--input ${a.input}: no language folders (${Object.keys(stackEduLanguages).join(", ")})` })
      const summary: Record<string, unknown> = {}
      for (const language of wanted) {
        if (!isStackEduLanguage(language)) continue
        const prompt = builtinPrompt("stack-edu", { language })
        if ("problem" in prompt) return yield* new DataConfigError({ message: prompt.problem })
        const threshold = overrides[language] ?? a.threshold
        const dir = path.join(a.output, language)
        yield* Console.error(`\n== ${language}: annotate ${a.sample} → train → apply → threshold ${threshold}`)
        const trained = yield* annotateAndTrain({
          inputs: [path.join(a.input, language)],
          dir,
          prompt,
          annotator,
          sample: a.sample,
          seed: a.seed,
          concurrency: a.concurrency,
          train: trainOptionsOf(a, threshold)
        })
        const applied = yield* applyAndThreshold({
          inputs: [path.join(a.input, language)],
          model: trained.model,
          dir,
          thresholds: [{ name: "threshold", threshold, kept: path.join(dir, "kept"), dropped: path.join(dir, "dropped") }],
          tasks: a.tasks,
          workers: a.workers,
          script: worker
        })
        const t = applied.stats.get("threshold")?.[THRESHOLD_ID] ?? {}
        const v = trained.trained.validation.overall
        summary[language] = {
          annotated: trained.annotation.annotated,
          annotation_failed: trained.annotation.failed,
          validation: { documents: v.count, mse: v.mse, accuracy: v.accuracy, macro_f1: v.macroF1, binary_f1: v.binary.f1 },
          threshold,
          documents: t["total"] ?? 0,
          kept: t["forwarded"] ?? 0,
          dropped: t["dropped"] ?? 0,
          source: path.resolve(dir, "kept")
        }
        yield* Console.log(`${language}: annotated ${trained.annotation.annotated}, validation binary F1 ${v.binary.f1.toFixed(3)} at ${threshold}, ` +
          `kept ${t["forwarded"] ?? 0} of ${t["total"] ?? 0} → ${path.join(dir, "kept")}`)
      }
      yield* writeFileAtomic(path.join(a.output, "summary.json"), JSON.stringify(summary, null, 2) + "\n")
    }).pipe(Effect.provide(NodeHttpClient.layerUndici))
).pipe(Command.withDescription("Stack-Edu: per language, annotate a sample, train a classifier, keep the educational code (threshold 3, Java 2)"))

stackEdu.pipe(Command.run({ version: "0.1.0" }), runMain)
