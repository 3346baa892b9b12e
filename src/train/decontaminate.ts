/**
 * Decontamination of SFT data against evaluation sets: a training conversation that shares a word 10-gram with any
 * evaluation text is dropped. 10-grams of whitespace-separated, lowercased words: the overlap test SmolLM2 used to
 * decontaminate Smol-Constraints against IFEval (arXiv 2502.02737 §5.1.2; notes smollm2-recipe.md §7.1, §11).
 */
import { Effect, FileSystem, Schema } from "effect"

export class DecontaminationError extends Schema.TaggedError<DecontaminationError>()("DecontaminationError", {
  message: Schema.String
}) {}

export const DECONTAMINATION_NGRAM = 10

const words = (text: string): Array<string> => text.toLowerCase().split(/\s+/).filter((w) => w.length > 0)

/** The word n-grams of `text`, each as its words joined by one space. */
export const wordNgrams = (text: string, n = DECONTAMINATION_NGRAM): Array<string> => {
  const w = words(text)
  const out: Array<string> = []
  for (let i = 0; i + n <= w.length; i++) out.push(w.slice(i, i + n).join(" "))
  return out
}

export interface Decontaminator {
  /** Distinct n-grams of the evaluation texts. */
  readonly ngrams: number
  /** Whether any of `texts` (a conversation's messages, each on its own) shares an n-gram with the evaluation texts. */
  readonly contaminated: (texts: ReadonlyArray<string>) => boolean
}

export const makeDecontaminator = (evaluationTexts: Iterable<string>, n = DECONTAMINATION_NGRAM): Decontaminator => {
  const seen = new Set<string>()
  for (const text of evaluationTexts) for (const g of wordNgrams(text, n)) seen.add(g)
  return { ngrams: seen.size, contaminated: (texts) => texts.some((t) => wordNgrams(t, n).some((g) => seen.has(g))) }
}

/** Every string inside a JSON value (a record's prompt, choices, answers…), each on its own. */
const stringsIn = (value: unknown, out: Array<string>): void => {
  if (typeof value === "string") out.push(value)
  else if (Array.isArray(value)) for (const v of value) stringsIn(v, out)
  else if (typeof value === "object" && value !== null) for (const v of Object.values(value)) stringsIn(v, out)
}

/**
 * The evaluation texts of a file: every string of every record of a `.jsonl` / `.json` file (whatever its fields:
 * lighteval's and the harness's layouts differ), or the whole text of any other file.
 */
export const readEvaluationTexts = (path: string): Effect.Effect<Array<string>, DecontaminationError, FileSystem.FileSystem> =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const text = yield* fs.readFileString(path).pipe(Effect.mapError((e) => new DecontaminationError({ message: `${path}: ${e.message}` })))
    if (!/\.(jsonl|ndjson|json)$/.test(path)) return [text]
    const out: Array<string> = []
    const trimmed = text.trimStart()
    if (path.endsWith(".json") && trimmed.startsWith("[")) {
      try {
        stringsIn(JSON.parse(text), out)
      } catch (e) {
        return yield* new DecontaminationError({ message: `${path}: not JSON: ${(e as Error).message}` })
      }
      return out
    }
    const lines = text.split("\n")
    for (const [i, line] of lines.entries()) {
      if (line.trim() === "") continue
      try {
        stringsIn(JSON.parse(line), out)
      } catch (e) {
        return yield* new DecontaminationError({ message: `${path}:${i + 1}: not JSON: ${(e as Error).message}` })
      }
    }
    return out
  })
