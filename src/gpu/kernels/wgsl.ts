/** Helpers shared by the WGSL generators. */

/** A WGSL f32 literal for a JS number (WGSL needs a decimal point or exponent on floats). */
export const f32Literal = (x: number): string => {
  if (!Number.isFinite(x)) throw new RangeError(`cannot write ${x} as a WGSL f32 literal`)
  const s = String(Math.fround(x))
  return /[.eE]/.test(s) ? s : `${s}.0`
}

export const ceilDiv = (a: number, b: number): number => Math.ceil(a / b)

export const assertPositiveInts = (what: string, values: Readonly<Record<string, number>>): void => {
  for (const [name, v] of Object.entries(values)) {
    if (!Number.isInteger(v) || v < 1) throw new RangeError(`${what}: ${name} must be a positive integer, got ${v}`)
  }
}

/**
 * Splits a 1-D count of invocations into a 2-D grid of workgroups, because one dimension holds at most
 * 65,535 workgroups. Kernels recover the flat index as `gid.x + gid.y * (grid.x · workgroupSize)`.
 */
export const grid1d = (invocations: number, workgroupSize: number, maxPerDimension = 65535): [number, number] => {
  const groups = ceilDiv(invocations, workgroupSize)
  if (groups <= maxPerDimension) return [groups, 1]
  const y = ceilDiv(groups, maxPerDimension)
  return [ceilDiv(groups, y), y]
}

/**
 * Mesa's llvmpipe counts loop iterations per invocation and silently leaves every loop once 65,535 have run
 * in total, across all loops of the shader (measured: loops of 40,000 then 40,000 iterations ran 40,000 and
 * 25,534). Kernels that may run on a software adapter keep each invocation's total under this budget.
 */
export const softwareLoopBudget = 65535

const FLAT_WORKGROUP = 64

/**
 * The entry point of a kernel with one invocation per element: `body` runs with `i` (u32) for every i < size,
 * over a 2-D grid when one dimension would exceed the device's workgroup count. Declarations (bindings,
 * constants) go in `decls`.
 */
export const flatKernel = (
  maxWorkgroupsPerDimension: number,
  size: number,
  decls: string,
  body: string
): { readonly code: string; readonly workgroups: [number, number] } => {
  const [gx, gy] = grid1d(size, FLAT_WORKGROUP, maxWorkgroupsPerDimension)
  const code = `${decls}
@compute @workgroup_size(${FLAT_WORKGROUP})
fn main(@builtin(global_invocation_id) gid: vec3u) {
  let i = gid.x + gid.y * ${gx * FLAT_WORKGROUP}u;
  if (i >= ${size}u) { return; }
${body}
}`
  return { code, workgroups: [gx, gy] }
}
