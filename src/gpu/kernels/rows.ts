import type { GpuShape } from "../Gpu.ts"
import { grid1d } from "./wgsl.ts"

/**
 * Row-wise kernels (reductions, softmax, later RMSNorm and cross-entropy) share one skeleton with two
 * variants. On software adapters one invocation walks a whole row: llvmpipe already runs 8 invocations as
 * SIMD lanes, and barriers would split the shader into coroutine segments. On GPUs a workgroup of 64 shares
 * a row and combines partial results in workgroup memory.
 */
export type RowVariant = "thread" | "workgroup"

export const rowVariantFor = (gpu: Pick<GpuShape, "adapter">): RowVariant =>
  gpu.adapter.kind === "software" ? "thread" : "workgroup"

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
}

export const rowLayout = (gpu: Pick<GpuShape, "limits">, variant: RowVariant, rows: number, cols: number): RowLayout => {
  const max = gpu.limits.maxComputeWorkgroupsPerDimension
  if (variant === "thread") {
    const [gx, gy] = grid1d(rows, WG, max)
    return {
      variant,
      workgroups: [gx, gy],
      decls: "",
      workgroupSize: WG,
      prologue: `let row = gid.x + gid.y * ${gx * WG}u;\n  if (row >= ${rows}u) { return; }`,
      // Four interleaved partial results: shorter dependency chains and smaller rounding error over long rows.
      reduce: (name, c, value) => `
  var ${name}_p = array<f32, 4>(${identity(c)}, ${identity(c)}, ${identity(c)}, ${identity(c)});
  for (var j0 = 0u; j0 + 3u < ${cols}u; j0 += 4u) {
    for (var u = 0u; u < 4u; u++) { let j = j0 + u; ${name}_p[u] = ${join(c, `${name}_p[u]`, value("j"))}; }
  }
  for (var j = ${cols - (cols % 4)}u; j < ${cols}u; j++) { ${name}_p[0] = ${join(c, `${name}_p[0]`, value("j"))}; }
  let ${name} = ${join(c, join(c, `${name}_p[0]`, `${name}_p[1]`), join(c, `${name}_p[2]`, `${name}_p[3]`))};`,
      forEachColumn: (body) => `for (var j = 0u; j < ${cols}u; j++) { ${body("j")} }`
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
    forEachColumn: (body) => `for (var j = lid.x; j < ${cols}u; j += ${WG}u) { ${body("j")} }`
  }
}

export const rowEntry = (layout: RowLayout, body: string): string => `${layout.decls}
@compute @workgroup_size(${layout.workgroupSize})
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  ${layout.prologue}
  let base = row * COLS;
  ${body}
}`
