import { Schema } from "effect"
import { defaultRng } from "../data/random/numpy-rng.ts"

/**
 * Stratified splits of annotated documents, so that every score keeps its share in training and validation.
 *
 * FineWeb-Edu's script calls HF datasets' `train_test_split(test_size=0.1, seed=42, stratify_by_column="score")`,
 * which uses scikit-learn's `StratifiedShuffleSplit`. We follow its arithmetic but not its random stream, so the
 * same seed does not pick the same documents as datasets does:
 * - test size = ceil(fraction · n) (sklearn `_validate_shuffle_split`), the rest is training;
 * - each stratum's test share is fraction-proportional, rounded by largest remainder so the shares sum to the test
 *   size (sklearn `_approximate_mode`, which breaks ties at random; we break them towards the larger stratum, then
 *   the smaller key);
 * - strata in ascending key order, one numpy `default_rng(seed)` for the run: each stratum's members are permuted by
 *   `rng.permutation`, its first share goes to test; then the training and test lists are each shuffled by the
 *   same generator (sklearn returns them permuted too).
 * A stratum of one document goes to training (datasets would refuse to split it).
 */
export class SplitError extends Schema.TaggedError<SplitError>()("SplitError", {
  message: Schema.String
}) {}

export type StratumKey = number | string

export interface StratifiedSplitOptions {
  /** Share of documents held out; default 0.1 (FineWeb-Edu). */
  readonly testFraction?: number
  /** Default 42 (FineWeb-Edu). */
  readonly seed?: number
}

export interface Split<T> {
  readonly train: Array<T>
  readonly test: Array<T>
}

const compareKeys = (a: StratumKey, b: StratumKey): number =>
  typeof a === "number" && typeof b === "number" ? a - b : String(a) < String(b) ? -1 : String(a) > String(b) ? 1 : 0

/** Item indices by stratum, strata in ascending key order, indices in input order. */
const strataOf = <T>(items: ReadonlyArray<T>, stratum: (item: T) => StratumKey): Array<Array<number>> => {
  const byKey = new Map<StratumKey, Array<number>>()
  items.forEach((item, i) => {
    const key = stratum(item)
    const list = byKey.get(key)
    if (list === undefined) byKey.set(key, [i])
    else list.push(i)
  })
  return [...byKey.keys()].sort(compareKeys).map((k) => byKey.get(k)!)
}

export const stratifiedSplit = <T>(
  items: ReadonlyArray<T>,
  stratum: (item: T) => StratumKey,
  options: StratifiedSplitOptions = {}
): Split<T> => {
  const fraction = options.testFraction ?? 0.1
  if (!(fraction > 0 && fraction < 1)) throw new SplitError({ message: `testFraction must be in (0, 1): ${fraction}` })
  const n = items.length
  const strata = strataOf(items, stratum)
  const testSize = Math.ceil(fraction * n)
  const exact = strata.map((s) => (testSize * s.length) / n)
  const shares = exact.map((x, i) => Math.min(Math.floor(x), strata[i]!.length - (strata[i]!.length > 1 ? 0 : 1)))
  let left = testSize - shares.reduce((a, b) => a + b, 0)
  const byRemainder = strata.map((_, i) => i).sort((a, b) =>
    (exact[b]! - Math.floor(exact[b]!)) - (exact[a]! - Math.floor(exact[a]!)) || strata[b]!.length - strata[a]!.length || a - b
  )
  // Hand out the rounding leftovers; a second round covers strata that could not take one (singletons).
  for (let round = 0; left > 0 && round < 2; round++) {
    for (const i of byRemainder) {
      if (left === 0) break
      if (shares[i]! < strata[i]!.length - (strata[i]!.length > 1 ? 0 : 1)) {
        shares[i]!++
        left--
      }
    }
  }
  const rng = defaultRng(options.seed ?? 42)
  const train: Array<T> = []
  const test: Array<T> = []
  strata.forEach((members, s) => {
    const order = rng.permutation(members.length)
    for (let j = 0; j < order.length; j++) (j < shares[s]! ? test : train).push(items[members[order[j]!]!]!)
  })
  rng.shuffle(train)
  rng.shuffle(test)
  return { train, test }
}

/**
 * `folds` stratified folds for cross-validation (as sklearn's `StratifiedKFold(shuffle=True)` intends, not its exact
 * assignment): each stratum's members, permuted by numpy `default_rng(seed)`, are dealt to the folds in turn, the
 * dealing continuing from stratum to stratum so fold sizes differ by at most one. Fold k's test set is its members;
 * its training set is every other document, both in input order.
 */
export const stratifiedFolds = <T>(
  items: ReadonlyArray<T>,
  stratum: (item: T) => StratumKey,
  folds: number,
  seed = 42
): Array<Split<T>> => {
  if (!(Number.isInteger(folds) && folds >= 2 && folds <= items.length)) {
    throw new SplitError({ message: `folds must be an integer in [2, ${items.length}]: ${folds}` })
  }
  const rng = defaultRng(seed)
  const foldOf = new Int32Array(items.length)
  let turn = 0
  for (const members of strataOf(items, stratum)) {
    const order = rng.permutation(members.length)
    for (let j = 0; j < order.length; j++) foldOf[members[order[j]!]!] = turn++ % folds
  }
  return Array.from({ length: folds }, (_, k) => ({
    train: items.filter((_, i) => foldOf[i] !== k),
    test: items.filter((_, i) => foldOf[i] === k)
  }))
}
