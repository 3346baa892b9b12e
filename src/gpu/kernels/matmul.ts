import { dispatch, type Dispatch, type GpuBuffer, type GpuShape, type Kernel } from "../Gpu.ts"
import { assertPositiveInts, f32Literal, softwareLoopBudget } from "./wgsl.ts"

/**
 * C[b] = alpha · op(A[b]) · op(B[b]) (+ C[b] when `accumulate`), row-major f32.
 * The three forms training needs: A·B (forward), A·Bᵀ (gradient w.r.t. the input), Aᵀ·B (gradient w.r.t.
 * the weight); `batch` with per-operand strides covers attention, and a stride of 0 broadcasts an operand.
 */
export interface MatmulShape {
  readonly m: number
  readonly n: number
  readonly k: number
  /** A is stored [K, M] and used transposed. */
  readonly transA?: boolean
  /** B is stored [N, K] and used transposed. */
  readonly transB?: boolean
  readonly batch?: number
  /** Elements between consecutive batch entries (default: a dense [batch, …] layout; 0 broadcasts). */
  readonly strideA?: number
  readonly strideB?: number
  readonly strideC?: number
  readonly alpha?: number
  /** Add into C instead of overwriting it (gradient accumulation). */
  readonly accumulate?: boolean
  /**
   * Row lengths of the stored matrices (BLAS leading dimensions), for operands that are column blocks of wider
   * ones: default K (or M for Aᵀ) for A, N (or K for Bᵀ) for B, and N for C.
   */
  readonly lda?: number
  readonly ldb?: number
  readonly ldc?: number
  /** Element offsets of the first matrix inside each binding (rows of a chunk, without aligned views). */
  readonly offsetA?: number
  readonly offsetB?: number
  readonly offsetC?: number
}

export type MatmulVariant = "register" | "workgroup"

/**
 * Software rasterizers (llvmpipe) run a workgroup as SIMD loops on one thread, where workgroup memory and
 * barriers cost more than they save: there each invocation keeps an 8×8 tile in registers. Real GPUs want
 * operands staged through workgroup memory, the usual GPU tiling (the llvmpipe side is measured by bench/matmul.ts).
 */
export const matmulVariantFor = (gpu: Pick<GpuShape, "adapter">): MatmulVariant =>
  gpu.adapter.kind === "software" ? "register" : "workgroup"

const f32 = f32Literal

interface Resolved {
  m: number; n: number; k: number; batch: number
  transA: boolean; transB: boolean
  strideA: number; strideB: number; strideC: number
  alpha: number; accumulate: boolean
  lda: number; ldb: number; ldc: number
  offsetA: number; offsetB: number; offsetC: number
}

const resolve = (s: MatmulShape): Resolved => ({
  m: s.m, n: s.n, k: s.k,
  batch: s.batch ?? 1,
  transA: s.transA ?? false,
  transB: s.transB ?? false,
  strideA: s.strideA ?? s.m * s.k,
  strideB: s.strideB ?? s.k * s.n,
  strideC: s.strideC ?? s.m * s.n,
  alpha: s.alpha ?? 1,
  accumulate: s.accumulate ?? false,
  lda: s.lda ?? (s.transA ? s.m : s.k),
  ldb: s.ldb ?? (s.transB ? s.k : s.n),
  ldc: s.ldc ?? s.n,
  offsetA: s.offsetA ?? 0,
  offsetB: s.offsetB ?? 0,
  offsetC: s.offsetC ?? 0
})

const header = (r: Resolved) => `
@group(0) @binding(0) var<storage, read> A: array<f32>;
@group(0) @binding(1) var<storage, read> B: array<f32>;
@group(0) @binding(2) var<storage, read_write> C: array<f32>;
const M = ${r.m}u;
const N = ${r.n}u;
const K = ${r.k}u;
const LDA = ${r.lda}u;
const LDB = ${r.ldb}u;
const LDC = ${r.ldc}u;
`

const store = (r: Resolved, idx: string, value: string) =>
  r.accumulate
    ? `C[${idx}] = fma(${f32(r.alpha)}, ${value}, C[${idx}]);`
    : r.alpha === 1 ? `C[${idx}] = ${value};` : `C[${idx}] = ${f32(r.alpha)} * ${value};`

// Register tiling: each invocation owns tm rows × tn columns of C. Columns are interleaved across the wx
// invocations of a row (column = base + lane + 8·j) so that neighbouring SIMD lanes read neighbouring
// addresses. Out-of-range rows and columns read a clamped index and are masked at the store, keeping the
// inner loop free of branches for any shape.
export interface RegisterTiling {
  /** Rows and columns of C per invocation. */
  readonly tm: number
  readonly tn: number
  /** Workgroup shape; x = 8 matches one llvmpipe SIMD row. */
  readonly wx: number
  readonly wy: number
}

// Measured on llvmpipe (2 cores, M=N=K=1024): 8×8 per invocation ≈ 7 GFLOP/s, 16×16 ≈ 16–18, 16×32 ≈ 18–21 with
// twice the shader size; more outputs per invocation means fewer loads per FMA, and spills stay in L1.
export const defaultRegisterTiling: RegisterTiling = { tm: 16, tn: 16, wx: 8, wy: 2 }

/**
 * Big tiles pay off only on big products, and a 16×16 tile makes a shader llvmpipe needs about a second to
 * compile: small products (attention blocks, tiny models, tests) get smaller tiles that compile in a blink.
 */
export const registerTilingFor = (m: number, n: number): RegisterTiling =>
  m * n <= 128 * 128 ? { tm: 4, tn: 4, wx: 8, wy: 2 }
  : m * n <= 256 * 256 ? { tm: 8, tn: 8, wx: 8, wy: 2 }
  : defaultRegisterTiling

const registerKernel = (r: Resolved, t: RegisterTiling): { code: string; workgroups: [number, number, number] } => {
  const { tm: TM, tn: TN, wx: WX, wy: WY } = t
  const rows = Array.from({ length: TM }, (_, i) => i)
  const cols = Array.from({ length: TN }, (_, j) => j)
  const aIndex = (i: number) => r.transA ? `aBase + k * LDA + r${i}` : `aBase + r${i} * LDA + k`
  const bIndex = (j: number) => r.transB ? `bBase + c${j} * LDB + k` : `bBase + k * LDB + c${j}`
  const code = `${header(r)}
@compute @workgroup_size(${WX}, ${WY}, 1)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let row0 = (wid.y * ${WY}u + lid.y) * ${TM}u;
  let col0 = wid.x * ${WX * TN}u + lid.x;
  let aBase = wid.z * ${r.strideA}u + ${r.offsetA}u;
  let bBase = wid.z * ${r.strideB}u + ${r.offsetB}u;
  let cBase = wid.z * ${r.strideC}u + ${r.offsetC}u;
${rows.map((i) => `  let r${i} = min(row0 + ${i}u, M - 1u);`).join("\n")}
${cols.map((j) => `  let c${j} = min(col0 + ${j * WX}u, N - 1u);`).join("\n")}
${rows.map((i) => cols.map((j) => `  var acc${i}_${j} = 0.0;`).join("\n")).join("\n")}
  for (var k = 0u; k < K; k++) {
${rows.map((i) => `    let a${i} = A[${aIndex(i)}];`).join("\n")}
${cols.map((j) => `    let b${j} = B[${bIndex(j)}];`).join("\n")}
${rows.map((i) => cols.map((j) => `    acc${i}_${j} = fma(a${i}, b${j}, acc${i}_${j});`).join("\n")).join("\n")}
  }
${rows.map((i) => cols.map((j) => `  if (row0 + ${i}u < M && col0 + ${j * WX}u < N) { ${store(r, `cBase + (row0 + ${i}u) * LDC + col0 + ${j * WX}u`, `acc${i}_${j}`)} }`).join("\n")).join("\n")}
}
`
  return {
    code,
    workgroups: [Math.ceil(r.n / (WX * TN)), Math.ceil(r.m / (WY * TM)), r.batch]
  }
}

// Workgroup-memory tiling for hardware GPUs: a 64×64 block of C per workgroup of 16×16 invocations, each
// with a 4×4 register tile; K advances 16 at a time through tiles of A and B staged in workgroup memory.
const BM = 64
const BN = 64
const BK = 16
const T = 4

const workgroupKernel = (r: Resolved): { code: string; workgroups: [number, number, number] } => {
  const aLoad = r.transA ? `A[aBase + gk * LDA + gr]` : `A[aBase + gr * LDA + gk]`
  const bLoad = r.transB ? `B[bBase + gc * LDB + gk]` : `B[bBase + gk * LDB + gc]`
  const code = `${header(r)}
var<workgroup> As: array<f32, ${BK * BM}>;
var<workgroup> Bs: array<f32, ${BK * BN}>;
@compute @workgroup_size(16, 16, 1)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let tid = lid.y * 16u + lid.x;
  let blockRow = wid.y * ${BM}u;
  let blockCol = wid.x * ${BN}u;
  let aBase = wid.z * ${r.strideA}u + ${r.offsetA}u;
  let bBase = wid.z * ${r.strideB}u + ${r.offsetB}u;
  let cBase = wid.z * ${r.strideC}u + ${r.offsetC}u;
  var acc: array<array<f32, ${T}>, ${T}>;
  for (var k0 = 0u; k0 < K; k0 += ${BK}u) {
    for (var l = 0u; l < ${(BM * BK) / 256}u; l++) {
      let e = tid + l * 256u;
      // As is stored [k][row] so that the inner loop reads it along rows.
      let kk = ${r.transA ? `e / ${BM}u` : `e % ${BK}u`};
      let rr = ${r.transA ? `e % ${BM}u` : `e / ${BK}u`};
      let gr = blockRow + rr;
      let gk = k0 + kk;
      var v = 0.0;
      if (gr < M && gk < K) { v = ${aLoad}; }
      As[kk * ${BM}u + rr] = v;
    }
    for (var l = 0u; l < ${(BN * BK) / 256}u; l++) {
      let e = tid + l * 256u;
      let kk = ${r.transB ? `e % ${BK}u` : `e / ${BN}u`};
      let cc = ${r.transB ? `e / ${BK}u` : `e % ${BN}u`};
      let gc = blockCol + cc;
      let gk = k0 + kk;
      var v = 0.0;
      if (gc < N && gk < K) { v = ${bLoad}; }
      Bs[kk * ${BN}u + cc] = v;
    }
    workgroupBarrier();
    for (var kk = 0u; kk < ${BK}u; kk++) {
      var a: array<f32, ${T}>;
      var b: array<f32, ${T}>;
      for (var i = 0u; i < ${T}u; i++) { a[i] = As[kk * ${BM}u + lid.y + i * 16u]; }
      for (var j = 0u; j < ${T}u; j++) { b[j] = Bs[kk * ${BN}u + lid.x + j * 16u]; }
      for (var i = 0u; i < ${T}u; i++) {
        for (var j = 0u; j < ${T}u; j++) { acc[i][j] = fma(a[i], b[j], acc[i][j]); }
      }
    }
    workgroupBarrier();
  }
  for (var i = 0u; i < ${T}u; i++) {
    for (var j = 0u; j < ${T}u; j++) {
      let row = blockRow + lid.y + i * 16u;
      let col = blockCol + lid.x + j * 16u;
      if (row < M && col < N) { ${store(r, "cBase + row * LDC + col", "acc[i][j]")} }
    }
  }
}
`
  return { code, workgroups: [Math.ceil(r.n / BN), Math.ceil(r.m / BM), r.batch] }
}

const validate = (r: Resolved) => {
  assertPositiveInts("matmul", { m: r.m, n: r.n, k: r.k, batch: r.batch, lda: r.lda, ldb: r.ldb, ldc: r.ldc })
  if (r.lda < (r.transA ? r.m : r.k) || r.ldb < (r.transB ? r.k : r.n) || r.ldc < r.n) {
    throw new RangeError(`matmul: a leading dimension is shorter than its rows (lda ${r.lda}, ldb ${r.ldb}, ldc ${r.ldc})`)
  }
}

export const matmulKernel = (
  shape: MatmulShape,
  variant: MatmulVariant,
  tiling: RegisterTiling = registerTilingFor(shape.m, shape.n)
): { kernel: Kernel; workgroups: [number, number, number] } => {
  const r = resolve(shape)
  validate(r)
  const { code, workgroups } = variant === "register" ? registerKernel(r, tiling) : workgroupKernel(r)
  const form = `${r.transA ? "Aᵀ" : "A"}·${r.transB ? "Bᵀ" : "B"}`
  return { kernel: { label: `matmul ${form} ${r.batch}×${r.m}×${r.n}×${r.k} (${variant})`, code }, workgroups }
}

/**
 * Loop iterations per invocation, which llvmpipe caps (see softwareLoopBudget): the register variant loops
 * once per k; the workgroup variant runs its inner loops (counted as if not unrolled) once per 16 k.
 */
export const matmulLoopIterations = (k: number, variant: MatmulVariant): number =>
  variant === "register" ? k : Math.ceil(k / BK) * (1 + 2 * ((BM * BK) / 256) + BK * (1 + 3 * T + T * T)) + T + T * T

/** The dispatch computing C from A and B on this adapter (variant chosen per adapter unless given). */
export const matmul = (
  gpu: Pick<GpuShape, "adapter">,
  shape: MatmulShape,
  a: GpuBuffer,
  b: GpuBuffer,
  c: GpuBuffer,
  variant: MatmulVariant = matmulVariantFor(gpu)
): Dispatch => {
  if (gpu.adapter.kind === "software" && matmulLoopIterations(shape.k, variant) >= softwareLoopBudget) {
    throw new RangeError(
      `matmul with K = ${shape.k} (${variant} variant) needs ${matmulLoopIterations(shape.k, variant)} loop iterations ` +
        `per invocation, over llvmpipe's budget of ${softwareLoopBudget}: split K into chunks and accumulate`
    )
  }
  const { kernel, workgroups } = matmulKernel(shape, variant)
  return dispatch(kernel, [a, b, c], workgroups)
}
