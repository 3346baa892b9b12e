import type { AdamWSettings } from "./adamw.ts"

/** Reference for `adamw` (one step, in f64; mutates copies and returns them). */
export const adamwCpu = (
  s: AdamWSettings, p: Float32Array, g: Float32Array, m: Float32Array, v: Float32Array,
  lr: number, step: number, clipCoefficient: number
) => {
  const bc1 = 1 - s.beta1 ** step
  const bc2 = 1 - s.beta2 ** step
  const P = Float32Array.from(p)
  const M = Float32Array.from(m)
  const V = Float32Array.from(v)
  for (let i = 0; i < p.length; i++) {
    const grad = g[i]! * clipCoefficient
    M[i] = s.beta1 * m[i]! + (1 - s.beta1) * grad
    V[i] = s.beta2 * v[i]! + (1 - s.beta2) * grad * grad
    const decayed = p[i]! * (1 - lr * s.weightDecay)
    P[i] = decayed - (lr / bc1) * M[i]! / (Math.sqrt(V[i]!) / Math.sqrt(bc2) + s.eps)
  }
  return { p: P, m: M, v: V }
}
