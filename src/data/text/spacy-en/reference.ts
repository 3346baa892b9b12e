/**
 * The reference tokenizer: spaCy's algorithm written straightforwardly over token objects, uncached. The fast path
 * (tokenizer.ts) must give the same answers; the tests hold it to these.
 */
import { pyStrip } from "../pytext.ts"
import { type SpacyToken, tokenizeAffixes } from "./affixes.ts"
import { sentenceStarts } from "./sentencizer.ts"
import { applySpecialCases } from "./special-cases.ts"

/**
 * Reference `nlp.tokenizer(text)`: the straightforward implementation over token objects, uncached. The exported
 * `spacyTokens`, `wordTokenize` and `countSentences` use the flat-array path (tokenizer.ts), which the tests
 * check against this one.
 */
export const spacyTokensReference = (text: string): Array<SpacyToken> => applySpecialCases(tokenizeAffixes(text, true))

/** Reference `word_tokenize`, over spacyTokensReference. */
export const wordTokenizeReference = (text: string): Array<string> => {
  const out: Array<string> = []
  for (const t of spacyTokensReference(text)) {
    const s = pyStrip(t.text)
    if (s.length > 0) out.push(s)
  }
  return out
}

/** Reference sentence count, over spacyTokensReference. */
export const countSentencesReference = (text: string): number => Math.max(1, sentenceStarts(spacyTokensReference(text)).length)
