/**
 * spaCy's rule-based English tokenizer (`spacy.blank("en")`) and its `sentencizer`, reimplemented.
 *
 * Why: datatrove ≥ 0.4 counts words with `SpaCyTokenizer("en")` (src/datatrove/utils/word_tokenizers.py, chosen by
 * assets/tokenizer_assignment.csv for `en`) and counts C4 sentences with spaCy's sentencizer; Gopher, C4 and
 * FineWeb thresholds compare those counts, so every rule here decides documents.
 *
 * Sources (explosion/spaCy f69c32f): the algorithm is `Tokenizer._tokenize_affixes`, `_split_affixes`,
 * `_attach_tokens` and the special-case pass `_apply_special_cases` in spacy/tokenizer.pyx (affixes.ts,
 * special-cases.ts); the rules are spacy/lang/punctuation.py, spacy/lang/en/punctuation.py (affix-rules.ts, over
 * the character tables of char-classes.ts) and the tokenizer exceptions (exceptions.ts); the sentencizer is
 * spacy/pipeline/sentencizer.pyx (sentencizer.ts). reference.ts composes them plainly; tokenizer.ts is the cached
 * fast path over flat arrays (its span cache is vocab.ts; words.ts and doc-tokens.ts are what it hands out).
 *
 * This file is the public face: what other modules use, and the process's one English tokenizer.
 */
import type { SpacyToken } from "./affixes.ts"
import type { DocTokens } from "./doc-tokens.ts"
import { SpacyTokenizer } from "./tokenizer.ts"
import type { Vocab } from "./vocab.ts"
import type { WordBuffer } from "./words.ts"

export type { SpacyToken } from "./affixes.ts"
export { SPECIALS } from "./exceptions.ts"
export { DocTokens } from "./doc-tokens.ts"
export {
  HASH_BASE,
  HEAD_CHARS,
  PIECE_RARE_LINE_BREAK,
  SPAN_C4_LOWER_HINT,
  WORD_ALPHA,
  WORD_NON_PUNCT,
  WORD_SPACE,
  WORD_SURROGATE,
  WORD_SURROGATE_EDGE
} from "./piece-flags.ts"
export { pyRegexToJs } from "./py-regex.ts"
export { countSentencesReference, spacyTokensReference, wordTokenizeReference } from "./reference.ts"
export { sentenceStarts } from "./sentencizer.ts"
export { SpacyTokenizer } from "./tokenizer.ts"
export type { Vocab } from "./vocab.ts"
export { localWordIds, WordBuffer, Words } from "./words.ts"

/**
 * The English tokenizer the filters, dedup and text utilities share. One per process, as datatrove keeps one
 * spaCy `nlp` per process: its span cache is what makes counting words fast on a long stream, and the filters of a
 * chain hand each other piece numbers of its Vocab. The functions below are its methods.
 */
export const englishTokenizer = new SpacyTokenizer()

export const spacyTokens = (text: string): Array<SpacyToken> => englishTokenizer.spacyTokens(text)
export const wordTokenize = (text: string): Array<string> => englishTokenizer.wordTokenize(text)
export const countSentences = (text: string): number => englishTokenizer.countSentences(text)
export const wordsAndSentences = (text: string, words: WordBuffer): number => englishTokenizer.wordsAndSentences(text, words)
export const docTokens = (text: string): DocTokens => englishTokenizer.docTokens(text)
/** The Vocab new pieces go to (tests: to see generations change). */
export const currentVocab = (): Vocab => englishTokenizer.currentVocab
/** Go on in a fresh, empty Vocab now (tests, benchmarks: texts tokenized before keep the old one). */
export const startNewVocab = (): void => englishTokenizer.startNewVocab()
/** Tests: how many spans or pieces fill a generation (VOCAB_LIMIT by default). */
export const setVocabLimit = (limit: number): void => englishTokenizer.setVocabLimit(limit)
