/**
 * The run `programs/full-run.ts` makes when given no config: the default world's sources curated as the recipe
 * curates the real ones, a tokenizer trained on them, and a `tiny` model trained in three stages, web → + code →
 * + math, evaluated on the world's tasks after each stage, with a rule policy that raises math when arithmetic
 * does not improve ([P] §4.3 did the same by hand).
 *
 * Sizing (the run must finish in ≤ 10 minutes on 2 cores with the software adapter): the tiny preset trains at
 * about 2,200 tokens/s on llvmpipe at 4 × 256 tokens a step (README, `bench/train.ts`), so the 400k tokens below
 * are about 3 minutes of training, leaving the rest for curation, tokenizer training, the evaluations (the
 * generative ones dominate: greedy decoding runs at about 40 tokens/s) and a small ablation.
 * The budgets are ours, not the paper's; each stage's share is in `DEFAULT_STAGE_TOKENS`.
 */
import * as path from "node:path"
import type { RunConfig, RunConfigInput } from "../config.ts"
import { decodeRunConfig } from "../load-config.ts"
import { CHATS_FILE, EVAL_DIR, SOURCE_FILES } from "./write-world.ts"

/** Where each stage ends, in tokens from the start of the run. */
export const DEFAULT_STAGE_TOKENS = { web: 150_000, code: 250_000, math: 400_000 } as const

/** Tokens each arm of the classifier ablation trains on (about 100 steps of 4 × 256). */
export const DEFAULT_ABLATION_TOKENS = 100_000

/** The world's tasks, as the stages evaluate them. */
export const WORLD_TASKS = { facts: "world-facts", factsCloze: "world-facts-cloze", arithmetic: "world-arithmetic", code: "world-code" } as const

// A few hundred labels need more passes than fastText's default 5: at 5 epochs the n-gram model still predicts
// about the mean for every document (measured on the world: web F1 0.72–0.95 at 5 epochs, 1.0 at 20).
const CLASSIFIER_EPOCHS = 20
// The world's vocabulary is a few thousand words: 65,536 buckets hold its unigrams and bigrams with few collisions,
// and train and save in a fraction of the default 1,048,576's time (a 4 MB model instead of 64 MB).
const CLASSIFIER_BUCKETS = 65_536
const annotated = (prompt: "fineweb-edu" | "finemath-5", budget: number) => ({ train: { annotate: { prompt, budget }, kind: "ngram" as const, epochs: CLASSIFIER_EPOCHS, buckets: CLASSIFIER_BUCKETS } })
const stackEdu = (language: "python" | "javascript", budget: number) => ({
  train: { annotate: { prompt: "stack-edu" as const, language, budget }, kind: "ngram" as const, epochs: CLASSIFIER_EPOCHS, buckets: CLASSIFIER_BUCKETS }
})

/** The default run's config tree (what a YAML file would hold), reading the world written in `worldDir`. */
export const defaultRunConfigInput = (worldDir: string, options: { readonly seed?: number; readonly out?: string } = {}): RunConfigInput => {
  const at = (file: string) => [path.join(worldDir, file)]
  // Generative tasks cost seconds per example on the software adapter: a few of each are enough to see a change.
  const limits = { [WORLD_TASKS.arithmetic]: 30, [WORLD_TASKS.code]: 8 }
  const allTasks = [WORLD_TASKS.facts, WORLD_TASKS.arithmetic, WORLD_TASKS.code]
  return {
    seed: options.seed ?? 42,
    out: options.out ?? "runs/full-run",
    sources: {
      // Web: the FineWeb chain, MinHash, then the FineWeb-Edu classifier at threshold 3 ([P] §3.2).
      web: { paths: at(SOURCE_FILES.web), dedup: "minhash", classifier: annotated("fineweb-edu", 600), threshold: { minScore: 3 } },
      // Code and math: no prose filters (they would drop them); Stack-Edu and FineMath classifiers ([P] §3.4, §3.3).
      python: { paths: at(SOURCE_FILES.python), filters: [], dedup: "exact", classifier: stackEdu("python", 200), threshold: { minScore: 3 } },
      javascript: { paths: at(SOURCE_FILES.javascript), filters: [], dedup: "exact", classifier: stackEdu("javascript", 200), threshold: { minScore: 3 } },
      math: { paths: at(SOURCE_FILES.math), filters: [], dedup: "exact", classifier: annotated("finemath-5", 300), threshold: { minScore: 3 } }
    },
    // A small vocabulary learns the world's words whole; the tiny preset's embedding grows to match it.
    tokenizer: { train: { vocabSize: 1024 } },
    model: { preset: "tiny", overrides: { vocabSize: 1024 } },
    training: { seqLen: 256, batchSize: 4, gradAccum: 1, schedule: "wsd", lr: 3e-3, warmup: 20, decayFraction: 0.2, saveEvery: 0 },
    stages: [
      { name: "web", untilTokens: DEFAULT_STAGE_TOKENS.web, mixture: { web: 100 }, eval: { tasks: [WORLD_TASKS.facts, WORLD_TASKS.arithmetic], limits: { [WORLD_TASKS.arithmetic]: 30 } } },
      { name: "code", untilTokens: DEFAULT_STAGE_TOKENS.code, mixture: { web: 70, python: 15, javascript: 15 }, eval: { tasks: allTasks, limits } },
      { name: "math", untilTokens: DEFAULT_STAGE_TOKENS.math, mixture: { web: 50, python: 10, javascript: 10, math: 30 }, eval: { tasks: allTasks, limits } }
    ],
    evaluation: { dataDir: path.join(worldDir, EVAL_DIR), batchSize: 16 },
    // After "code", arithmetic has not moved since "web" (no math yet): the rule raises math in the last stage.
    policy: { kind: "rule", domains: [{ name: "math", sources: ["math"], tasks: [WORLD_TASKS.arithmetic], maxWeight: 0.5 }], minGain: 0.01, step: 0.1 },
    // SFT of the final model on half the world's chats, one epoch: 20 steps of 4 × 256 tokens (about 15 s on
    // llvmpipe), then the last stage's tasks through the chat template. No DPO: the world has no preference pairs.
    // FineWeb-Edu's ablation, small: the same tiny model on web with and without its classifier, equal tokens,
    // scored on held-out educational pages and the facts those pages teach.
    ablation: {
      source: "web", tokens: DEFAULT_ABLATION_TOKENS, tasks: [WORLD_TASKS.facts, WORLD_TASKS.factsCloze],
      heldOut: [path.join(worldDir, EVAL_DIR, "world", "edu-pages.jsonl")]
    },
    postTraining: { sft: { data: at(CHATS_FILE), limit: 150, seqLen: 256, batchSize: 4, gradAccum: 1, epochs: 1, lr: 1e-3 } },
    report: { title: "The default world: web → + code → + math on a tiny model", logEvery: 10 }
  }
}

/** The default run's config, decoded and checked as any config file is. */
export const defaultRunConfig = (worldDir: string, options: { readonly seed?: number; readonly out?: string } = {}) =>
  decodeRunConfig(defaultRunConfigInput(worldDir, options))

export type { RunConfig }
