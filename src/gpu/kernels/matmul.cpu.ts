import type { MatmulShape } from "./matmul.ts"

/**
 * Plain reference for `matmul`: C[b] = alpha · op(A[b]) · op(B[b]) (+ C[b] when accumulating), summed in f64.
 * op(A) is A stored [M, K], or Aᵀ when A is stored [K, M] (`transA`); op(B) is B stored [K, N], or Bᵀ when B
 * is stored [N, K] (`transB`).
 */
export const matmulCpu = (s: MatmulShape, a: Float32Array, b: Float32Array, c?: Float32Array): Float32Array => {
  const { m, n, k } = s
  const batch = s.batch ?? 1
  const strideA = s.strideA ?? m * k
  const strideB = s.strideB ?? k * n
  const strideC = s.strideC ?? m * n
  const alpha = s.alpha ?? 1
  const lda = s.lda ?? (s.transA ? m : k)
  const ldb = s.ldb ?? (s.transB ? k : n)
  const ldc = s.ldc ?? n
  const out = c === undefined ? new Float32Array(batch * strideC) : Float32Array.from(c)
  for (let p = 0; p < batch; p++) {
    const oa = p * strideA + (s.offsetA ?? 0)
    const ob = p * strideB + (s.offsetB ?? 0)
    const oc = p * strideC + (s.offsetC ?? 0)
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < n; j++) {
        let sum = 0
        for (let t = 0; t < k; t++) {
          const av = s.transA ? a[oa + t * lda + i]! : a[oa + i * lda + t]!
          const bv = s.transB ? b[ob + j * ldb + t]! : b[ob + t * ldb + j]!
          sum += av * bv
        }
        out[oc + i * ldc + j] = alpha * sum + (s.accumulate ? out[oc + i * ldc + j]! : 0)
      }
    }
  }
  return out
}
