import { bigramBucket, fnv1a, unigramBucket } from "./features.ts"
import { type NgramClassifier, softmaxInPlace } from "./NgramClassifier.ts"

/**
 * The n-gram classifier written the plain way, as one would first write it: a regex split into words, n-grams as
 * strings counted in a `Map`, each string hashed on its own, the bag's mean embedding, then the output layer. It is
 * the definition the fast path (`hashNgrams` + the projected table of `NgramClassifier`) must agree with, checked by
 * the tests, and the benchmark's reference.
 */

export const referenceNgrams = (text: string, wordNgrams: 1 | 2): Array<string> => {
  const words = text.toLowerCase().split(/[^\p{L}\p{N}\p{M}]+/u).filter((w) => w.length > 0)
  const grams: Array<string> = []
  for (let i = 0; i < words.length; i++) {
    grams.push(words[i]!)
    if (wordNgrams === 2 && i > 0) grams.push(`${words[i - 1]} ${words[i]}`)
  }
  return grams
}

/** The bucket of one of `referenceNgrams`'s strings (a bigram is two words joined by one space). */
export const referenceBucket = (gram: string, buckets: number): number => {
  const space = gram.indexOf(" ")
  return space < 0
    ? unigramBucket(fnv1a(gram), buckets)
    : bigramBucket(fnv1a(gram.slice(0, space)), fnv1a(gram.slice(space + 1)), buckets)
}

/** The 0–5 score of one text, computed from the embedding without the projected table. */
export const referenceScore = (model: NgramClassifier, text: string): number => {
  const { buckets, dim, wordNgrams, mode } = model.config
  const { embedding, outputWeight, outputBias } = model.weights
  const bag = new Map<string, number>()
  for (const gram of referenceNgrams(text, wordNgrams)) bag.set(gram, (bag.get(gram) ?? 0) + 1)
  const hidden = new Float64Array(dim)
  let total = 0
  for (const [gram, count] of bag) {
    const row = referenceBucket(gram, buckets) * dim
    for (let j = 0; j < dim; j++) hidden[j] += count * embedding[row + j]!
    total += count
  }
  if (total > 0) for (let j = 0; j < dim; j++) hidden[j] = hidden[j]! / total
  const logits = new Float64Array(model.outputs)
  for (let k = 0; k < model.outputs; k++) {
    let s = outputBias[k]!
    for (let j = 0; j < dim; j++) s += outputWeight[k * dim + j]! * hidden[j]!
    logits[k] = s
  }
  if (mode === "regression") return logits[0]!
  const p = softmaxInPlace(logits)
  let score = 0
  for (let k = 1; k < p.length; k++) score += k * p[k]!
  return score
}
