/**
 * Quality classifiers from the command line: train one on annotated documents, judge it on labelled data, apply
 * it to a corpus (and threshold the scores), as the SmolLM2 recipe builds FineWeb-Edu, Stack-Edu and FineMath.
 *
 *   npx tsx programs/classifier.ts train --input ANNOTATE_OUT/annotated --output model/ [--mode regression] [--epochs 5]
 *   npx tsx programs/classifier.ts train --kind encoder --base snowflake-arctic-embed-m/ --input ANNOTATE_OUT --output model/
 *   npx tsx programs/classifier.ts eval  --model model/ --input labelled/ [--group-key metadata.language]
 *   npx tsx programs/classifier.ts apply --model model/ --input docs/ --output out/ [--tasks 8 --workers 4]
 *       [--threshold 3 --threshold-override java=2]
 *   npx tsx programs/classifier.ts threshold --input out/scored --output out-4plus/ --threshold 4
 *   apply and threshold also take [--executor slurm [--wait] [--partition P --time T --cpus-per-task C
 *       --mem-per-cpu M --qos Q --account A --sbatch KEY=VALUE … --env-command CMD]]
 *       (each job a Slurm job array, threshold after classify; README: "Running on a Slurm cluster")
 *
 * train: labels from `metadata.annotation.score` (what programs/annotate.ts writes; --score-key for another
 * field), a 90/10 split stratified by label, then MODEL/config.json + model.safetensors + report.md +
 * metrics.json; the validation report (MSE, accuracy, macro F1, binary F1 at 3, confusion matrix) is printed.
 * apply: OUT/scored/ holds every document with metadata.score (raw) and metadata.int_score (round(clamp(score,
 * 0, 5))); with --threshold, OUT/kept/ and OUT/dropped/threshold/ (metadata.filter_reason below_threshold_<t>)
 * as programs/filter.ts writes them. Rerunning the same apply resumes: finished tasks are skipped.
 * (The unlisted `task` subcommand is what the executor's worker processes run.)
 */
import { Console, Effect, Option } from "effect"
import { Command, Flag } from "effect/cli"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import {
  type ApplyJobConfig,
  applySummary,
  type ApplyRunConfig,
  loadApplyConfig,
  memoizedClassifierLoader,
  planApplyJobs,
  runApplyJobsOn,
  runApplyTask,
  writeApplyConfig
} from "../src/classify/apply-run.ts"
import { ClassifierUnavailableError, loadQualityClassifier } from "../src/classify/classifier-folder.ts"
import { DEFAULT_CLASSIFY_BATCH } from "../src/classify/classify-stage.ts"
import { ENCODER_HEAD_DEFAULTS } from "../src/classify/encoder/train-head.ts"
import { DEFAULT_SCORE_KEY, readLabelledDocuments } from "../src/classify/labelled-documents.ts"
import { NGRAM_DEFAULTS } from "../src/classify/ngram/train.ts"
import { CLASSIFIER_KINDS } from "../src/classify/QualityClassifier.ts"
import { parseThresholdOverrides } from "../src/classify/threshold-stage.ts"
import { evaluateClassifier, evaluationJson, evaluationReport, saveTrainedClassifier, trainClassifier, writeEvaluation } from "../src/classify/train-classifier.ts"
import { executorFlags, executorFromFlags } from "../src/cli/executor-flags.ts"
import { atLeast, defaulting, positive, runMain } from "../src/cli/program.ts"
import { DataConfigError } from "../src/data/errors.ts"
import type { Executor } from "../src/data/executor/run-job.ts"
import { describeSubmission } from "../src/data/executor/slurm.ts"
import { runAssignedTasks, taskEnvironment } from "../src/data/executor/task.ts"
import { writeFileAtomicSync, tryWrite } from "../src/data/io/atomic.ts"
import { resolveInputs } from "../src/data/io/readers.ts"
import { mergeStats } from "../src/data/stats.ts"

const script = fileURLToPath(import.meta.url)
const optionalValue = <A>(o: Option.Option<A>): A | undefined => (Option.isSome(o) ? o.value : undefined)

const overridesOf = (items: ReadonlyArray<string>) =>
  Effect.gen(function*() {
    const parsed = parseThresholdOverrides(items)
    return "problem" in parsed ? yield* new DataConfigError({ message: String(parsed.problem) }) : parsed as Record<string, number>
  })

const readerFlags = {
  textKey: Flag.String("text-key").pipe(defaulting("text", "The input field holding a document's text")),
  idKey: Flag.String("id-key").pipe(defaulting("id", "The input field holding a document's id (missing: FILE/INDEX)"))
}
const thresholdOverride = Flag.String("threshold-override").pipe(
  Flag.atLeast(0),
  Flag.withDescription("LANGUAGE=T: another threshold for documents of that language, e.g. java=2 (repeatable; default: none)")
)
const labelFlags = {
  scoreKey: Flag.String("score-key").pipe(defaulting(DEFAULT_SCORE_KEY, "Where each document's label is (dotted path; an annotate output folder stands for its annotated/)")),
  groupKey: Flag.String("group-key").pipe(Flag.withDescription("Report per group of this field too, e.g. metadata.language (default: no groups)"), Flag.optional),
  threshold: Flag.Int("threshold").pipe(defaulting(3, "Binary threshold of the report: positive = int_score ≥ T against label ≥ T")),
  thresholdOverride
}

const train = Command.make(
  "train",
  {
    input: Flag.String("input").pipe(Flag.atLeast(1), Flag.withDescription("Annotated documents: files or folders (repeatable; required)")),
    output: Flag.String("output").pipe(Flag.withDescription("The classifier folder to write (required)")),
    kind: Flag.Literals("kind", CLASSIFIER_KINDS).pipe(defaulting("ngram" as const, "Classifier kind: hashed n-grams on the CPU, or the paper's BERT encoder (needs --base)")),
    base: Flag.String("base").pipe(Flag.withDescription("Encoder: the base BERT folder with tokenizer.json, e.g. Snowflake/snowflake-arctic-embed-m (required for --kind encoder)"), Flag.optional),
    maxLength: Flag.Int("max-length").pipe(atLeast(3), Flag.withDescription("Encoder: tokens per document, specials included (default: min(max_position_embeddings, 512))"), Flag.optional),
    batchSize: Flag.Int("batch-size").pipe(atLeast(1), defaulting(ENCODER_HEAD_DEFAULTS.batchSize, "Encoder: documents per head-training step")),
    cacheDir: Flag.String("cache-dir").pipe(Flag.withDescription("Encoder: where the frozen encoder's [CLS] states are cached (default: ~/.cache/smol-pipeline/encoder-states)"), Flag.optional),
    mode: Flag.Literals("mode", ["regression", "softmax"]).pipe(defaulting("regression" as const, "N-gram head: one regression output (MSE) or six classes (cross-entropy)")),
    epochs: Flag.Int("epochs").pipe(atLeast(1), Flag.withDescription(`Passes over the training split (default: ${NGRAM_DEFAULTS.epochs} for ngram, ${ENCODER_HEAD_DEFAULTS.epochs} for encoder)`), Flag.optional),
    learningRate: Flag.Finite("learning-rate").pipe(
      positive,
      Flag.withDescription(`Initial step, decayed linearly to 0 (default: ${NGRAM_DEFAULTS.learningRate} SGD for ngram, ${ENCODER_HEAD_DEFAULTS.learningRate} AdamW for encoder)`),
      Flag.optional
    ),
    buckets: Flag.Int("buckets").pipe(atLeast(1), defaulting(NGRAM_DEFAULTS.buckets, "Hash buckets of the n-gram embedding")),
    dim: Flag.Int("dim").pipe(atLeast(1), defaulting(NGRAM_DEFAULTS.dim, "Embedding width")),
    wordNgrams: Flag.Literals("word-ngrams", ["1", "2"]).pipe(defaulting("2" as const, "1: words only; 2: words and word pairs")),
    seed: Flag.Int("seed").pipe(defaulting(42, "Seeds the split and the model's initialization")),
    testFraction: Flag.Finite("test-fraction").pipe(
      Flag.filter((f) => f > 0 && f < 1, () => "a fraction in (0, 1)"),
      defaulting(0.1, "Share held out for validation, stratified by label")
    ),
    ...labelFlags,
    ...readerFlags
  },
  (a) =>
    Effect.gen(function*() {
      const thresholds = yield* overridesOf(a.thresholdOverride)
      // Refused before the labels are read: reading 450k documents to learn this would waste a person's time.
      if (a.kind === "encoder" && Option.isNone(a.base)) {
        return yield* new ClassifierUnavailableError({
          kind: "encoder",
          path: "--kind encoder",
          message: "--kind encoder: an encoder (BERT-family) classifier is trained on a base encoder: give --base DIR " +
            "(a BERT folder with tokenizer.json, e.g. Snowflake/snowflake-arctic-embed-m)"
        })
      }
      const docs = yield* readLabelledDocuments(a.input, { scoreKey: a.scoreKey, groupKey: optionalValue(a.groupKey), textKey: a.textKey, idKey: a.idKey })
      yield* Console.error(`${docs.length} labelled documents; training a ${a.kind} classifier${a.kind === "ngram" ? ` (${a.mode})` : ` on ${optionalValue(a.base)}`}`)
      const epochs = optionalValue(a.epochs) ?? (a.kind === "ngram" ? NGRAM_DEFAULTS.epochs : ENCODER_HEAD_DEFAULTS.epochs)
      const trained = yield* trainClassifier(docs, {
        kind: a.kind,
        mode: a.mode,
        epochs,
        learningRate: optionalValue(a.learningRate) ?? (a.kind === "ngram" ? NGRAM_DEFAULTS.learningRate : ENCODER_HEAD_DEFAULTS.learningRate),
        ...(Option.isSome(a.base) ? { base: a.base.value } : {}),
        ...(Option.isSome(a.maxLength) ? { maxLength: a.maxLength.value } : {}),
        ...(Option.isSome(a.cacheDir) ? { cacheDir: a.cacheDir.value } : {}),
        batchSize: a.batchSize,
        progress: true,
        buckets: a.buckets,
        dim: a.dim,
        wordNgrams: a.wordNgrams === "1" ? 1 : 2,
        seed: a.seed,
        testFraction: a.testFraction,
        threshold: a.threshold,
        thresholds,
        onEpoch: (p) => {
          const f1 = p.validationMacroF1 === undefined ? "" : `${p.epoch === 0 ? "" : ", "}validation macro F1 ${p.validationMacroF1.toFixed(4)}`
          console.error(p.epoch === 0 ? `before training: ${f1}` : `epoch ${p.epoch}/${epochs}: training loss ${p.loss.toFixed(4)}${f1}`)
        }
      })
      const report = yield* saveTrainedClassifier(a.output, trained, a.input.map((i) => path.resolve(i)))
      yield* Console.log(report)
      yield* Console.error(`classifier → ${path.resolve(a.output)} (report.md, metrics.json)`)
    })
).pipe(Command.withDescription("Train a quality classifier on annotated documents and report on a held-out 10%"))

const evaluate = Command.make(
  "eval",
  {
    model: Flag.String("model").pipe(Flag.withDescription("A classifier folder (required)")),
    input: Flag.String("input").pipe(Flag.atLeast(1), Flag.withDescription("Labelled documents: files or folders (repeatable; required)")),
    output: Flag.String("output").pipe(Flag.withDescription("Also write report.md and metrics.json into this folder (default: print only)"), Flag.optional),
    ...labelFlags,
    ...readerFlags
  },
  (a) =>
    Effect.gen(function*() {
      const thresholds = yield* overridesOf(a.thresholdOverride)
      const classifier = yield* loadQualityClassifier(a.model)
      const docs = yield* readLabelledDocuments(a.input, { scoreKey: a.scoreKey, groupKey: optionalValue(a.groupKey), textKey: a.textKey, idKey: a.idKey })
      const evaluation = yield* evaluateClassifier(classifier, docs, { threshold: a.threshold, thresholds })
      const report = evaluationReport(evaluation, `Evaluation of ${a.model} on ${a.input.join(", ")}`)
      if (Option.isSome(a.output)) yield* writeEvaluation(a.output.value, report, { model: path.resolve(a.model), inputs: a.input, ...evaluationJson(evaluation) })
      yield* Console.log(report)
    })
).pipe(Command.withDescription("Score labelled documents with a classifier and report MSE, accuracy, F1 and the confusion matrix"))

/** Lists the inputs first, so that a wrong --input fails before anything is written. */
const checkInputs = (inputs: ReadonlyArray<string>, glob: string | undefined) =>
  Effect.gen(function*() {
    const files = yield* Effect.tryPromise({
      try: () => resolveInputs(inputs, glob === undefined ? {} : { glob }),
      catch: (e) => new DataConfigError({ message: `--input: cannot list ${inputs.join(", ")}: ${e instanceof Error ? e.message : String(e)}` })
    })
    if (files.length === 0) yield* Console.error(`warning: no input files in ${inputs.join(", ")} (looked for .jsonl[.gz], .parquet, .arrow); the outputs will be empty`)
  })

const runAndReport = (run: ApplyRunConfig, output: string, executor: Executor) =>
  Effect.gen(function*() {
    const configFile = yield* writeApplyConfig(run)
    const started = performance.now()
    const outcome = yield* runApplyJobsOn(planApplyJobs(run, configFile, script), executor)
    // Submitted to Slurm and not waited for: the job ids and how to follow and resume them are the result.
    if (outcome._tag === "Submitted") return yield* Console.log(describeSubmission(outcome.stages, outcome.following))
    const stats = outcome.stats
    const statsFile = path.join(output, "stats.json")
    yield* tryWrite(statsFile, () => writeFileAtomicSync(statsFile, JSON.stringify(mergeStats([...stats.values()]), null, 2) + "\n"))
    yield* Console.log(applySummary(run, stats))
    yield* Console.log(`\nDone in ${((performance.now() - started) / 1000).toFixed(1)} s; stats → ${statsFile}`)
  })

const runFlags = {
  tasks: Flag.Int("tasks").pipe(atLeast(1), defaulting(1, "Shards of the input; each input file goes to one task")),
  workers: Flag.Int("workers").pipe(
    atLeast(1),
    Flag.withDescription("Tasks run at the same time, each in its own process (default: 1; with --executor slurm: all of them)"),
    Flag.optional
  ),
  languageKey: Flag.String("language-key").pipe(defaulting("metadata.language", "Where a document's language is, for --threshold-override")),
  thresholdOverride,
  glob: Flag.String("glob").pipe(Flag.withDescription("Only files of an input folder whose relative path matches (default: all)"), Flag.optional),
  ...executorFlags
}

/** Under Slurm the workers are the array's throttle (%N): no limit unless asked for. */
const workersFor = (workers: Option.Option<number>, tasks: number, executor: Executor) =>
  Option.getOrElse(workers, () => (executor._tag === "slurm" ? tasks : 1))

const apply = Command.make(
  "apply",
  {
    model: Flag.String("model").pipe(Flag.withDescription("A classifier folder (required)")),
    input: Flag.String("input").pipe(Flag.atLeast(1), Flag.withDescription("Documents: files, folders or hf:// paths (repeatable; required)")),
    output: Flag.String("output").pipe(Flag.withDescription("OUT: scored/, with --threshold kept/ and dropped/threshold/, logs/, stats.json (required)")),
    threshold: Flag.Int("threshold").pipe(Flag.withDescription("Also keep int_score ≥ T in OUT/kept/, the rest in OUT/dropped/threshold/ (default: score only)"), Flag.optional),
    batchSize: Flag.Int("batch-size").pipe(atLeast(1), defaulting(DEFAULT_CLASSIFY_BATCH, "Documents per classifier call")),
    ...runFlags,
    ...readerFlags
  },
  (a) =>
    Effect.gen(function*() {
      const overrides = yield* overridesOf(a.thresholdOverride)
      if (Option.isNone(a.threshold) && a.thresholdOverride.length > 0) return yield* new DataConfigError({ message: "--threshold-override needs --threshold" })
      const executor = yield* executorFromFlags(a)
      // Loaded here too, so that a wrong --model fails at once rather than in every task.
      yield* loadQualityClassifier(a.model)
      const glob = optionalValue(a.glob)
      yield* checkInputs(a.input, glob)
      const output = path.resolve(a.output)
      const scored = path.join(output, "scored")
      const jobs: Array<ApplyJobConfig> = [{
        stage: "classify",
        name: "classify",
        tasks: a.tasks,
        inputs: a.input.map((i) => (i.startsWith("hf://") ? i : path.resolve(i))),
        ...(glob === undefined ? {} : { glob }),
        textKey: a.textKey,
        idKey: a.idKey,
        model: path.resolve(a.model),
        batchSize: a.batchSize,
        scored
      }]
      if (Option.isSome(a.threshold)) {
        jobs.push({
          stage: "threshold",
          name: "threshold",
          tasks: a.tasks,
          source: { kind: "ranks", folder: scored },
          threshold: a.threshold.value,
          overrides,
          languageKey: a.languageKey,
          scoreKey: "metadata.int_score",
          kept: path.join(output, "kept"),
          dropped: path.join(output, "dropped")
        })
      }
      yield* runAndReport({ logs: path.join(output, "logs"), workers: workersFor(a.workers, a.tasks, executor), jobs }, output, executor)
    })
).pipe(Command.withDescription("Score documents with a classifier (metadata.score, metadata.int_score), optionally keep those above a threshold"))

const threshold = Command.make(
  "threshold",
  {
    input: Flag.String("input").pipe(Flag.atLeast(1), Flag.withDescription("Scored documents, e.g. an apply run's OUT/scored (repeatable; required)")),
    output: Flag.String("output").pipe(Flag.withDescription("OUT: kept/, dropped/threshold/, logs/, stats.json (required)")),
    threshold: Flag.Int("threshold").pipe(Flag.withDescription("Keep int_score ≥ T (required)")),
    scoreKey: Flag.String("score-key").pipe(defaulting("metadata.int_score", "Where each document's integer score is")),
    ...runFlags,
    ...readerFlags
  },
  (a) =>
    Effect.gen(function*() {
      const overrides = yield* overridesOf(a.thresholdOverride)
      const executor = yield* executorFromFlags(a)
      const glob = optionalValue(a.glob)
      yield* checkInputs(a.input, glob)
      const output = path.resolve(a.output)
      yield* runAndReport({
        logs: path.join(output, "logs"),
        workers: workersFor(a.workers, a.tasks, executor),
        jobs: [{
          stage: "threshold",
          name: "threshold",
          tasks: a.tasks,
          source: { kind: "files", inputs: a.input.map((i) => path.resolve(i)), ...(glob === undefined ? {} : { glob }), textKey: a.textKey, idKey: a.idKey },
          threshold: a.threshold,
          overrides,
          languageKey: a.languageKey,
          scoreKey: a.scoreKey,
          kept: path.join(output, "kept"),
          dropped: path.join(output, "dropped")
        }]
      }, output, executor)
    })
).pipe(Command.withDescription("Keep scored documents whose int_score reaches a threshold (per-language overrides); score once, threshold many times"))

/** What the executor's worker processes run: not for people, so not listed in --help. */
const task = Command.make(
  "task",
  {
    config: Flag.String("config").pipe(Flag.withDescription("The run's logs/config.json")),
    job: Flag.String("job").pipe(Flag.withDescription("The job whose ranks to run"))
  },
  (a) =>
    Effect.gen(function*() {
      const env = taskEnvironment()
      if (env === undefined) return yield* new DataConfigError({ message: "`task` is run by the executor (SMOL_RANKS etc. are not set)" })
      const run = yield* loadApplyConfig(a.config)
      const load = memoizedClassifierLoader()
      yield* runAssignedTasks(env, (ctx) => runApplyTask(run, a.job, ctx, load))
    })
).pipe(Command.withDescription("Run this process's ranks of one job (started by the executor)"), Command.unlisted)

Command.make("classifier").pipe(
  Command.withDescription("Train, evaluate and apply quality classifiers (hashed n-grams, or the paper's BERT encoder on the GPU)"),
  Command.withSubcommands([train, evaluate, apply, threshold, task]),
  Command.run({ version: "0.1.0" }),
  runMain
)
