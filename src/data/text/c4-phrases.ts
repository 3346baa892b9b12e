/**
 * The lowercased phrases C4QualityFilter looks for in a line (datatrove pipeline/filters/c4_filters.py, after
 * tensorflow_datasets c4_utils.py): "lorem ipsum" drops the page, "javascript" and the policy phrases drop the line.
 * The one list: the filter judges lines with it, and the tokenizer marks the texts that may hold one of them.
 */
export const C4_LOREM_IPSUM = "lorem ipsum"
export const C4_JAVASCRIPT = "javascript"
export const C4_POLICY_PHRASES: ReadonlyArray<string> = [
  "terms of use",
  "privacy policy",
  "cookie policy",
  "uses cookies",
  "use of cookies",
  "use cookies"
]

/**
 * Single words, one of which each phrase above contains (the tests check it). A text whose lowercase has none of
 * them has none of the phrases, so C4QualityFilter can skip lowercasing its lines; being single words, they can be
 * looked for in each whitespace-delimited run of a text on its own (the tokenizer's SPAN_C4_LOWER_HINT).
 */
export const C4_PHRASE_HINTS: ReadonlyArray<string> = ["lorem", "javascript", "terms", "policy", "cookie"]
