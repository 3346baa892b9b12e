/**
 * The default world, generated in memory: a pure function of `{ seed, scale }` (the same options give the same
 * world, byte for byte once written). Each part draws from its own random stream, so `scale` changes how many
 * documents there are without changing the facts or the evaluation tasks, and a source of a smaller world is
 * the first documents of the same source in a larger one.
 */
import { Schema } from "effect"
import { type Chat, makeChats } from "./chats.ts"
import { makeCodeFiles } from "./code-files.ts"
import type { Document } from "../../data/Document.ts"
import {
  arithmeticProblems,
  arithmeticRows,
  type ArithmeticRow,
  codeTasks,
  type CodeTaskRow,
  factClozeRows,
  type FactClozeRow,
  factQuestions,
  type FactQuestionRow
} from "./eval-tasks.ts"
import { makeWorldFacts, type WorldFacts } from "./facts.ts"
import type { LabelledDocument } from "./labels.ts"
import { makeMathDocuments } from "./math-text.ts"
import { WorldRandom } from "./random.ts"
import { makeWebPages } from "./web-pages.ts"

export interface WorldOptions {
  /** Seeds every draw (default 42, SmolLM2's). */
  readonly seed?: number
  /** Document counts relative to the default run's (1); evaluation tasks keep their size. */
  readonly scale?: number
}

/** Documents per source at scale 1, sized for the default run's token budget (see run-config.ts). */
export const BASE_COUNTS = { web: 1500, python: 300, javascript: 300, math: 500, chats: 300 } as const

/** Word problems in `world-arithmetic`. */
export const ARITHMETIC_QUESTIONS = 40

export type WorldSourceName = "web" | "python" | "javascript" | "math"
export const WORLD_SOURCES: ReadonlyArray<WorldSourceName> = ["web", "python", "javascript", "math"]

export interface World {
  readonly seed: number
  readonly scale: number
  readonly facts: WorldFacts
  readonly sources: Readonly<Record<WorldSourceName, ReadonlyArray<LabelledDocument>>>
  readonly chats: ReadonlyArray<Chat>
  readonly eval: {
    readonly facts: ReadonlyArray<FactQuestionRow>
    readonly factsCloze: ReadonlyArray<FactClozeRow>
    /** Educational pages (graded 3 and up) drawn apart from the web source: text to score models on, never trained on. */
    readonly eduPages: ReadonlyArray<Document>
    readonly arithmetic: ReadonlyArray<ArithmeticRow>
    readonly code: ReadonlyArray<CodeTaskRow>
  }
}

/** Pages of the held-out educational set (what the classifier ablation scores both models on). */
export const HELD_OUT_EDU_PAGES = 60

/** Ordinary web pages graded 3 and up from their own random stream: the same kind of page, not the same pages. */
const heldOutEducationalPages = (rng: WorldRandom, facts: WorldFacts): Array<Document> =>
  makeWebPages(rng, facts, 8 * HELD_OUT_EDU_PAGES).filter((d) => d.kind === "page" && d.score >= 3).slice(0, HELD_OUT_EDU_PAGES)
    .map((d, i) => ({ ...d.doc, id: `edu-heldout-${String(i).padStart(3, "0")}` }))

/** A seed or scale the generator cannot use. */
export class WorldOptionsError extends Schema.TaggedError<WorldOptionsError>()("WorldOptionsError", {
  message: Schema.String
}) {}

/** The world for `options`; throws `WorldOptionsError` for a negative or fractional seed or a non-positive scale. */
export const generateWorld = (options: WorldOptions = {}): World => {
  const seed = options.seed ?? 42
  const scale = options.scale ?? 1
  if (!Number.isSafeInteger(seed) || seed < 0) throw new WorldOptionsError({ message: `seed must be a non-negative integer, got ${seed}` })
  if (!(scale > 0) || !Number.isFinite(scale)) throw new WorldOptionsError({ message: `scale must be a positive number, got ${scale}` })
  const count = (base: number) => Math.max(1, Math.round(base * scale))
  const root = new WorldRandom(seed)
  const facts = makeWorldFacts(root.fork("facts"))
  const problems = arithmeticProblems(root.fork("eval/arithmetic"), ARITHMETIC_QUESTIONS)
  const held = new Set(problems.map((p) => p.question))
  const questions = factQuestions(root.fork("eval/facts"), facts)
  return {
    seed,
    scale,
    facts,
    sources: {
      web: makeWebPages(root.fork("web"), facts, count(BASE_COUNTS.web)),
      python: makeCodeFiles(root.fork("python"), "python", count(BASE_COUNTS.python)),
      javascript: makeCodeFiles(root.fork("javascript"), "javascript", count(BASE_COUNTS.javascript)),
      math: makeMathDocuments(root.fork("math"), count(BASE_COUNTS.math), held)
    },
    chats: makeChats(root.fork("chats"), facts, count(BASE_COUNTS.chats)),
    eval: {
      facts: questions,
      factsCloze: factClozeRows(questions, facts),
      eduPages: heldOutEducationalPages(root.fork("eval/edu-pages"), facts),
      arithmetic: arithmeticRows(problems),
      code: codeTasks()
    }
  }
}
