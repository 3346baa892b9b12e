import { dispatch, type Dispatch, type GpuBuffer, type GpuShape } from "../Gpu.ts"
import { f32Literal, grid1d, softwareLoopBudget } from "./wgsl.ts"

/**
 * Row-wise kernels (reductions, softmax, later RMSNorm and cross-entropy) share one skeleton with two
 * variants. On software adapters one invocation walks a whole row: llvmpipe already runs 8 invocations as
 * SIMD lanes, and barriers would split the shader into coroutine segments. On GPUs a workgroup of 64 shares
 * a row and combines partial results in workgroup memory.
 */
export type RowVariant = "thread" | "workgroup"

const UNROLL = 8

/** Loop iterations one invocation of the thread variant runs for `passes` sweeps over a row. */
export const threadIterations = (cols: number, passes: number): number =>
  passes * (Math.floor(cols / UNROLL) + (cols % UNROLL))

/**
 * The thread variant on software adapters, unless its rows are so long that one invocation would exceed
 * llvmpipe's loop budget (a softmax over a 500k vocabulary); then a workgroup shares each row.
 */
export const rowVariantFor = (gpu: Pick<GpuShape, "adapter">, cols: number, passes: number): RowVariant =>
  gpu.adapter.kind === "software" && threadIterations(cols, passes) < softwareLoopBudget ? "thread" : "workgroup"

export type Combine = "sum" | "max"

const WG = 64

const identity = (c: Combine) => c === "sum" ? "0.0" : "-3.4028234663852886e38"
const join = (c: Combine, a: string, b: string) => c === "sum" ? `(${a} + ${b})` : `max(${a}, ${b})`

export interface RowLayout {
  readonly variant: RowVariant
  readonly workgroups: [number, number]
  /** Declarations placed before the entry point. */
  readonly decls: string
  readonly workgroupSize: number
  /** WGSL yielding `row` (u32) and returning early when past the last row. */
  readonly prologue: string
  /**
   * WGSL that reduces `value(j)` over j in [0, cols) of the current row into `let name`. `value` is an
   * expression in the column variable `j`.
   */
  readonly reduce: (name: string, combine: Combine, value: (j: string) => string) => string
  /** WGSL loop running `body` for every column `j` of the row owned by this invocation (or its share). */
  readonly forEachColumn: (body: (j: string) => string) => string
  /** A barrier between reading a row and overwriting it in place (empty where one invocation owns the row). */
  readonly barrier: string
}

export const rowLayout = (
  gpu: Pick<GpuShape, "adapter" | "limits">,
  variant: RowVariant,
  rows: number,
  cols: number,
  passes: number
): RowLayout => {
  const max = gpu.limits.maxComputeWorkgroupsPerDimension
  if (variant === "thread") {
    if (gpu.adapter.kind === "software" && threadIterations(cols, passes) >= softwareLoopBudget) {
      throw new RangeError(
        `rows of ${cols} columns need ${threadIterations(cols, passes)} loop iterations per invocation in the thread ` +
          `variant, over llvmpipe's budget of ${softwareLoopBudget}; use the workgroup variant`
      )
    }
    const [gx, gy] = grid1d(rows, WG, max)
    return {
      variant,
      workgroups: [gx, gy],
      decls: "",
      workgroupSize: WG,
      prologue: `let row = gid.x + gid.y * ${gx * WG}u;\n  if (row >= ${rows}u) { return; }`,
      // Unrolled by hand (a nested loop would spend the loop budget too), with one partial result per
      // lane of the unroll: shorter dependency chains and less rounding error over long rows.
      reduce: (name, c, value) => {
        const lanes = Array.from({ length: UNROLL }, (_, u) => u)
        const tree = (xs: ReadonlyArray<string>): string =>
          xs.length === 1 ? xs[0]! : join(c, tree(xs.slice(0, xs.length / 2)), tree(xs.slice(xs.length / 2)))
        return `
${lanes.map((u) => `  var ${name}_${u} = ${identity(c)};`).join("\n")}
  for (var j0 = 0u; j0 < ${cols - (cols % UNROLL)}u; j0 += ${UNROLL}u) {
${lanes.map((u) => `    ${name}_${u} = ${join(c, `${name}_${u}`, value(`(j0 + ${u}u)`))};`).join("\n")}
  }
  for (var j = ${cols - (cols % UNROLL)}u; j < ${cols}u; j++) { ${name}_0 = ${join(c, `${name}_0`, value("j"))}; }
  let ${name} = ${tree(lanes.map((u) => `${name}_${u}`))};`
      },
      forEachColumn: (body) => `
  for (var j0 = 0u; j0 < ${cols - (cols % UNROLL)}u; j0 += ${UNROLL}u) {
${Array.from({ length: UNROLL }, (_, u) => `    { let j = j0 + ${u}u; ${body("j")} }`).join("\n")}
  }
  for (var j = ${cols - (cols % UNROLL)}u; j < ${cols}u; j++) { ${body("j")} }`,
      barrier: ""
    }
  }
  const [gx, gy] = grid1d(rows, 1, max)
  return {
    variant,
    workgroups: [gx, gy],
    decls: `var<workgroup> partial: array<f32, ${WG}>;`,
    workgroupSize: WG,
    // Every invocation of the workgroup must reach the barriers, so a row past the end is handled by
    // uniform early exit on the workgroup id alone.
    prologue: `let row = wid.x + wid.y * ${gx}u;\n  if (row >= ${rows}u) { return; }`,
    reduce: (name, c, value) => `
  var ${name}_acc = ${identity(c)};
  for (var j = lid.x; j < ${cols}u; j += ${WG}u) { ${name}_acc = ${join(c, `${name}_acc`, value("j"))}; }
  partial[lid.x] = ${name}_acc;
  workgroupBarrier();
  for (var half = ${WG / 2}u; half > 0u; half = half / 2u) {
    if (lid.x < half) { partial[lid.x] = ${join(c, "partial[lid.x]", "partial[lid.x + half]")}; }
    workgroupBarrier();
  }
  let ${name} = partial[0];
  workgroupBarrier();`,
    forEachColumn: (body) => `for (var j = lid.x; j < ${cols}u; j += ${WG}u) { ${body("j")} }`,
    barrier: "workgroupBarrier();"
  }
}

export const rowEntry = (layout: RowLayout, body: string): string => `${layout.decls}
@compute @workgroup_size(${layout.workgroupSize})
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  ${layout.prologue}
  let base = row * COLS;
  ${body}
}`

/**
 * The skeleton on its own, for its test cases: in place over [rows, cols], x ← x − max(row) + mean(row). It uses
 * every part a row kernel uses: two reductions of different kinds, the barrier before an in-place write, and
 * the per-column loop (3 passes over the row, like softmax). No model code calls it.
 */
export const rowProbe = (
  gpu: Pick<GpuShape, "adapter" | "limits">,
  x: GpuBuffer,
  rows: number,
  cols: number,
  variant: RowVariant = rowVariantFor(gpu, cols, 3)
): Dispatch => {
  const layout = rowLayout(gpu, variant, rows, cols, 3)
  const code = `@group(0) @binding(0) var<storage, read_write> X: array<f32>;
const COLS = ${cols}u;
${rowEntry(layout, `${layout.reduce("rowMax", "max", (j) => `X[base + ${j}]`)}
  ${layout.reduce("total", "sum", (j) => `X[base + ${j}]`)}
  let shift = total / ${f32Literal(cols)} - rowMax;
  ${layout.barrier}
  ${layout.forEachColumn((j) => `X[base + ${j}] = X[base + ${j}] + shift;`)}`)}`
  return dispatch({ label: `row probe ${rows}×${cols} (${variant})`, code }, [x], layout.workgroups)
}
