/**
 * A stand-in for the LLM annotator, for demos and tests without an endpoint (`--annotator canned`): a document's
 * score is the number of distinct "teaching cue" words it contains, capped at the prompt's top score. It is a
 * deterministic function of the text, not a judgement of quality — it exists so that annotate → train → apply →
 * threshold can run end to end anywhere, and so that the classifier has a signal it can learn. Never use its
 * scores as data.
 */
export const CANNED_CUES: ReadonlyArray<string> = [
  "example", "explain", "step", "because", "therefore", "solution", "lesson", "exercise", "learn", "tutorial",
  "theorem", "proof"
]

const cueSet = new Set(CANNED_CUES)

export const cannedScore = (text: string, maxScore: number): number => {
  const found = new Set<string>()
  for (const word of text.toLowerCase().split(/[^\p{L}\p{N}]+/u)) if (cueSet.has(word)) found.add(word)
  return Math.min(maxScore, found.size)
}
