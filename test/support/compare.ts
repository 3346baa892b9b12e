import { expect } from "@effect/vitest"
import { mulberry32 } from "../../src/data/random/mulberry32.ts"

export interface Disagreement {
  readonly maxAbsError: number
  /** max |actual − expected| / max |expected|: the normwise relative error. */
  readonly relativeError: number
  readonly worstIndex: number
}

export const disagreement = (actual: ArrayLike<number>, expected: ArrayLike<number>): Disagreement => {
  expect(actual.length, "length").toBe(expected.length)
  let maxAbsError = 0
  let worstIndex = -1
  let scale = 0
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i]!
    const e = expected[i]!
    const err = Number.isNaN(a) !== Number.isNaN(e) ? Infinity : Math.abs(a - e)
    if (err > maxAbsError || (worstIndex < 0 && err === maxAbsError)) {
      maxAbsError = err
      worstIndex = i
    }
    scale = Math.max(scale, Math.abs(e))
  }
  return { maxAbsError, relativeError: maxAbsError / Math.max(scale, 1e-30), worstIndex }
}

/** Asserts relative error ≤ tolerance and, when it fails, says where and by how much (as llm.c's tests do). */
export const expectClose = (label: string, actual: ArrayLike<number>, expected: ArrayLike<number>, tolerance = 1e-4) => {
  const d = disagreement(actual, expected)
  const where = d.worstIndex >= 0 ? ` at [${d.worstIndex}]: got ${actual[d.worstIndex]}, want ${expected[d.worstIndex]}` : ""
  expect(
    d.relativeError,
    `${label}: relative error ${d.relativeError.toExponential(2)} (max abs ${d.maxAbsError.toExponential(2)})${where}`
  ).toBeLessThanOrEqual(tolerance)
  return d
}

/** Seeded so that a failure can be reproduced; a fresh seed each run unless SMOL_TEST_SEED is set. */
export const testSeed = (): number => {
  const fromEnv = process.env["SMOL_TEST_SEED"]
  return fromEnv === undefined ? Math.floor(Math.random() * 2 ** 31) : Number(fromEnv)
}

/** mulberry32 (src/data/random/mulberry32.ts), the generator of the kernels' cases too. */
export const rng = mulberry32

export const randomArray = (next: () => number, size: number, lo = -1, hi = 1): Float32Array =>
  Float32Array.from({ length: size }, () => lo + (hi - lo) * next())
