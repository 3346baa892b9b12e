import { PyRandom } from "./pyrandom.ts"

/**
 * Next-token choice from a logits row, as Hugging Face transformers' `generate` makes it with `do_sample=True`:
 * the warpers in transformers' order — `TemperatureLogitsWarper` (logits / T), `TopKLogitsWarper`, then
 * `TopPLogitsWarper` — then a draw from the softmax of what is left. Temperature 0 is greedy decoding (transformers'
 * `do_sample=False`): the argmax, the first index among equal maxima as `torch.argmax` picks it.
 *
 *  - top-k keeps every token whose logit is at least the k-th largest (`scores < topk(scores, k)[-1]` is removed),
 *    so tokens tied with the k-th are all kept; k is raised to `min_tokens_to_keep` (1) and capped at the
 *    vocabulary; 0 turns it off.
 *  - top-p sorts ascending, takes the softmax's running sum from the least likely token, and removes the tokens whose
 *    running sum is ≤ 1 − p: what stays is the smallest set of most likely tokens whose mass is ≥ p. Equal logits
 *    are ordered as a stable ascending sort orders them (torch's CPU sort), so at a tie on the cut the lower id is
 *    removed first. At least one token always stays; p = 1 turns it off (transformers adds no warper then).
 *
 * Probabilities are computed in f64 from the f32 logits (transformers works in f32), so a token whose running sum
 * lands within rounding of 1 − p may fall on the other side; the draw itself is seeded (Python's MT19937 `random()`)
 * and reproducible, not torch's `multinomial` stream.
 */
export interface SamplingOptions {
  /** 0 is greedy; otherwise logits are divided by it. */
  readonly temperature: number
  /** Keep the k most likely tokens (ties with the k-th included); 0 or absent: no limit. */
  readonly topK?: number
  /** Keep the smallest most-likely set with probability mass ≥ p; 1 or absent: no limit. */
  readonly topP?: number
}

/** The first index of the largest value (`torch.argmax`); a NaN, if any, wins as it does there. */
export const argmax = (logits: ArrayLike<number>): number => {
  let best = 0
  for (let v = 0; v < logits.length; v++) {
    const x = logits[v]!
    if (Number.isNaN(x)) return v
    if (x > logits[best]!) best = v
  }
  return best
}

/** Why a sampling setting is refused, for the flag that set it. */
export const samplingProblem = (o: SamplingOptions): string | undefined => {
  if (!(Number.isFinite(o.temperature) && o.temperature >= 0)) return `temperature must be a finite number ≥ 0, got ${o.temperature}`
  if (o.topK !== undefined && !(Number.isSafeInteger(o.topK) && o.topK >= 0)) return `top-k must be an integer ≥ 0, got ${o.topK}`
  if (o.topP !== undefined && !(o.topP > 0 && o.topP <= 1)) return `top-p must be in (0, 1], got ${o.topP}`
  return undefined
}

/**
 * The distribution a sampled token is drawn from: one probability per vocabulary entry, 0 for the tokens the
 * warpers removed. For temperature 0 it is all mass on the argmax.
 */
export const samplingDistribution = (logits: ArrayLike<number>, o: SamplingOptions): Float64Array => {
  const problem = samplingProblem(o)
  if (problem !== undefined) throw new RangeError(problem)
  const V = logits.length
  const probs = new Float64Array(V)
  if (o.temperature === 0) {
    probs[argmax(logits)] = 1
    return probs
  }
  // Candidates: every id, or those at or above the k-th largest scaled logit (dividing by T > 0 keeps the order).
  let ids = Array.from({ length: V }, (_, v) => v)
  const k = Math.min(Math.max(o.topK ?? 0, 1), V)
  if ((o.topK ?? 0) > 0 && k < V) {
    // The k-th largest value from a native numeric sort (fast over a 49k vocabulary, unlike a comparator sort).
    const kth = Float64Array.from(logits).sort()[V - k]!
    ids = ids.filter((v) => !(logits[v]! < kth))
  }
  // Softmax over the candidates (the removed ones are -inf in transformers, i.e. weight 0).
  let max = -Infinity
  for (const v of ids) max = Math.max(max, logits[v]! / o.temperature)
  let sum = 0
  for (const v of ids) {
    const w = Math.exp(logits[v]! / o.temperature - max)
    probs[v] = w
    sum += w
  }
  for (const v of ids) probs[v]! /= sum
  const p = o.topP ?? 1
  if (p < 1) {
    // Ascending by logit, ties by id (stable); drop from the bottom while the running mass stays ≤ 1 − p,
    // always keeping the last (most likely) one.
    const ascending = [...ids].sort((a, b) => logits[a]! - logits[b]! || a - b)
    let cumulative = 0
    let removed = 0
    for (let i = 0; i < ascending.length - 1; i++) {
      cumulative += probs[ascending[i]!]!
      if (cumulative > 1 - p) break
      removed++
    }
    if (removed > 0) {
      let kept = 0
      for (let i = 0; i < ascending.length; i++) {
        if (i < removed) probs[ascending[i]!] = 0
        else kept += probs[ascending[i]!]!
      }
      for (let i = removed; i < ascending.length; i++) probs[ascending[i]!]! /= kept
    }
  }
  return probs
}

/** Picks ids from logits rows with `options`, drawing from a generator seeded with `seed`. */
export interface TokenSampler {
  readonly next: (logits: ArrayLike<number>) => number
}

export const makeTokenSampler = (options: SamplingOptions & { readonly seed: number }): TokenSampler => {
  const problem = samplingProblem(options)
  if (problem !== undefined) throw new RangeError(problem)
  const random = new PyRandom(options.seed)
  return {
    next: (logits) => {
      if (options.temperature === 0) return argmax(logits)
      const probs = samplingDistribution(logits, options)
      // Inverse CDF in id order; rounding can leave u just above the total, so the last kept id takes it.
      const u = random.random()
      let cumulative = 0
      let last = 0
      for (let v = 0; v < probs.length; v++) {
        if (probs[v] === 0) continue
        last = v
        cumulative += probs[v]!
        if (u < cumulative) return v
      }
      return last
    }
  }
}
