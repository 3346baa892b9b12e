import { createHash } from "node:crypto"

/**
 * A scoring prompt: the text sent for one document, how to read the score out of the reply, and a version that
 * names exactly this prompt in the cache and in every annotated document.
 *
 * The version is content-addressed (`name@` + a hash of the template, the score pattern, the scale and the
 * truncation), so editing a prompt can never reuse annotations made with the old wording.
 */
export interface AnnotationPrompt {
  readonly name: string
  readonly version: string
  /** Scores run from 0 to this (5 for the additive 5-point prompts, 3 for FineMath's first pass). */
  readonly maxScore: number
  readonly render: (text: string) => string
  /** The score, or why there is none (recorded as `no_score`; a score is never guessed). */
  readonly parseScore: (completion: string) => number | { readonly problem: string }
}

/** `Educational score:\s*(\d+)`, the FineWeb-Edu and Stack-Edu parse (recipe notes §11). */
export const educationalScorePattern = /Educational score:\s*(\d+)/

/** FineMath asks for "Final score: <total points>"; no official regex is public, this is the literal format. */
export const finalScorePattern = /Final score:\s*(\d+)/

export interface PromptTemplate {
  readonly name: string
  /** The prompt with `placeholder` where the document's text goes. */
  readonly template: string
  readonly placeholder: string
  /** The first match's group 1 is the score, as `re.search(pattern, reply)` in the original pipelines. */
  readonly scorePattern: RegExp
  readonly maxScore: number
}

export interface PromptOptions {
  /** Cut the text to this many characters first (cosmopedia's FineMath labelling used 5000); none by default. */
  readonly maxChars?: number | undefined
}

export const makePrompt = (t: PromptTemplate, options: PromptOptions = {}): AnnotationPrompt => {
  const hash = createHash("sha256")
    .update(JSON.stringify([t.template, t.placeholder, t.scorePattern.source, t.scorePattern.flags, t.maxScore, options.maxChars ?? null]))
    .digest("hex")
    .slice(0, 12)
  const pattern = new RegExp(t.scorePattern.source, t.scorePattern.flags.replace("g", ""))
  return {
    name: t.name,
    version: `${t.name}@${hash}`,
    maxScore: t.maxScore,
    // A function replacement, so `$&` or `$1` inside a document is inserted literally.
    render: (text) => {
      const cut = options.maxChars !== undefined && text.length > options.maxChars ? text.slice(0, options.maxChars) : text
      return t.template.split(t.placeholder).join(cut)
    },
    parseScore: (completion) => {
      const m = pattern.exec(completion)
      if (m === null || m[1] === undefined) return { problem: `no match for /${pattern.source}/` }
      const score = Number(m[1])
      if (!Number.isInteger(score) || score < 0 || score > t.maxScore) return { problem: `score ${m[1]} is outside 0–${t.maxScore}` }
      return score
    }
  }
}
