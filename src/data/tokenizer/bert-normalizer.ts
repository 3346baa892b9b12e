/**
 * HF's BertNormalizer (the normalizer of bert-base-uncased and its descendants, arctic-embed among them), step for
 * step in HF's order: clean the text (delete controls, turn whitespace into spaces), put spaces around CJK
 * ideographs, strip accents (NFD, then delete nonspacing marks), lowercase.
 */
import { cjkRe, controlRe, needsCleaningRe, nfdKnownToHfRunRe, nfdUnknownToHfRe, nonspacingMarkRe, whitespaceRe } from "./bert-unicode.ts"

export interface BertNormalizerOptions {
  readonly cleanText: boolean
  readonly handleChineseChars: boolean
  /** `null` in the file means "do what `lowercase` does" (bert-base-uncased strips accents, -cased keeps them). */
  readonly stripAccents: boolean | null
  readonly lowercase: boolean
}

/**
 * NFD as HF's `unicode-normalization` crate does it: characters it does not know yet stay whole. They are base
 * characters (combining class 0), so decomposing the runs between them is the same as decomposing the whole.
 */
const nfdAsHf = (s: string): string =>
  nfdUnknownToHfRe.test(s) ? s.replace(nfdKnownToHfRunRe, (run) => run.normalize("NFD")) : s.normalize("NFD")

/**
 * HF lowercases one character at a time (Rust's `char::to_lowercase`), so a word-final capital sigma becomes σ;
 * JavaScript's `toLowerCase` on a whole string applies the final-sigma rule and gives ς. Per character, the two
 * agree on every code point (checked in the tests), so only Σ needs care.
 */
const lowercaseByCharacter = (s: string): string => (s.includes("\u03a3") ? s.split("\u03a3").map((p) => p.toLowerCase()).join("\u03c3") : s.toLowerCase())

export const bertNormalizer = (options: BertNormalizerOptions): ((s: string) => string) => {
  const stripAccents = options.stripAccents ?? options.lowercase
  return (s) => {
    // Printable ASCII needs none of the first three steps: no controls, no ideographs, nothing NFD changes.
    const plain = !needsCleaningRe.test(s)
    if (!plain) {
      if (options.cleanText) s = s.replace(controlRe, "").replace(whitespaceRe, " ")
      if (options.handleChineseChars) s = s.replace(cjkRe, " $& ")
      if (stripAccents) s = nfdAsHf(s).replace(nonspacingMarkRe, "")
    }
    return options.lowercase ? lowercaseByCharacter(s) : s
  }
}
