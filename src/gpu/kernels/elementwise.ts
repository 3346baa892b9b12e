import { dispatch, type Dispatch, type GpuBuffer, type GpuShape } from "../Gpu.ts"
import { f32Literal, flatKernel } from "./wgsl.ts"

/**
 * Elementwise kernels. Each op is written once as a WGSL expression and once as its JavaScript twin
 * (the CPU reference in elementwise.cpu.ts uses the `cpu` side), so the two cannot drift apart.
 */
export interface UnaryOp {
  readonly name: string
  readonly wgsl: (x: string) => string
  readonly cpu: (x: number) => number
}

export interface BinaryOp {
  readonly name: string
  readonly wgsl: (a: string, b: string) => string
  readonly cpu: (a: number, b: number) => number
}

export const unaryOps = {
  neg: { name: "neg", wgsl: (x) => `-${x}`, cpu: (x) => -x },
  abs: { name: "abs", wgsl: (x) => `abs(${x})`, cpu: Math.abs },
  exp: { name: "exp", wgsl: (x) => `exp(${x})`, cpu: Math.exp },
  log: { name: "log", wgsl: (x) => `log(${x})`, cpu: Math.log },
  sqrt: { name: "sqrt", wgsl: (x) => `sqrt(${x})`, cpu: Math.sqrt },
  rsqrt: { name: "rsqrt", wgsl: (x) => `inverseSqrt(${x})`, cpu: (x) => 1 / Math.sqrt(x) },
  square: { name: "square", wgsl: (x) => `(${x} * ${x})`, cpu: (x) => x * x },
  relu: { name: "relu", wgsl: (x) => `max(${x}, 0.0)`, cpu: (x) => Math.max(x, 0) },
  sigmoid: { name: "sigmoid", wgsl: (x) => `(1.0 / (1.0 + exp(-${x})))`, cpu: (x) => 1 / (1 + Math.exp(-x)) },
  // SiLU is SwiGLU's gate (SmolLM2/Llama MLP).
  silu: { name: "silu", wgsl: (x) => `(${x} / (1.0 + exp(-${x})))`, cpu: (x) => x / (1 + Math.exp(-x)) },
  tanh: { name: "tanh", wgsl: (x) => `tanh(${x})`, cpu: Math.tanh }
} as const satisfies Record<string, UnaryOp>

export const scaleOp = (s: number): UnaryOp => ({
  name: `scale(${s})`,
  wgsl: (x) => `(${x} * ${f32Literal(s)})`,
  cpu: (x) => x * Math.fround(s)
})

export const binaryOps = {
  add: { name: "add", wgsl: (a, b) => `(${a} + ${b})`, cpu: (a, b) => a + b },
  sub: { name: "sub", wgsl: (a, b) => `(${a} - ${b})`, cpu: (a, b) => a - b },
  mul: { name: "mul", wgsl: (a, b) => `(${a} * ${b})`, cpu: (a, b) => a * b },
  div: { name: "div", wgsl: (a, b) => `(${a} / ${b})`, cpu: (a, b) => a / b },
  max: { name: "max", wgsl: (a, b) => `max(${a}, ${b})`, cpu: Math.max },
  min: { name: "min", wgsl: (a, b) => `min(${a}, ${b})`, cpu: Math.min }
} as const satisfies Record<string, BinaryOp>

export type Shape = ReadonlyArray<number>

export const sizeOf = (shape: Shape): number => shape.reduce((p, d) => p * d, 1)

/** NumPy broadcasting: align from the right; a dimension of 1 stretches. */
export const broadcastShapes = (a: Shape, b: Shape): Array<number> => {
  const rank = Math.max(a.length, b.length)
  const out: Array<number> = []
  for (let i = 0; i < rank; i++) {
    const da = a[a.length - rank + i] ?? 1
    const db = b[b.length - rank + i] ?? 1
    if (da !== db && da !== 1 && db !== 1) {
      throw new RangeError(`cannot broadcast shapes [${a.join(", ")}] and [${b.join(", ")}]`)
    }
    out.push(da === 1 ? db : da)
  }
  return out
}

/** Element strides of `shape` read as if it had `outShape` (0 along broadcast dimensions). */
export const broadcastStrides = (shape: Shape, outShape: Shape): Array<number> => {
  const rank = outShape.length
  const strides = new Array<number>(rank).fill(0)
  let stride = 1
  for (let i = shape.length - 1; i >= 0; i--) {
    const d = shape[i]!
    strides[rank - shape.length + i] = d === 1 ? 0 : stride
    stride *= d
  }
  return strides
}

/** out = op(x), `size` elements (in place is allowed: pass the same buffer twice). */
export const unary = (gpu: Pick<GpuShape, "limits">, op: UnaryOp, x: GpuBuffer, out: GpuBuffer, size: number): Dispatch => {
  const inPlace = x.buffer === out.buffer && (x.offset ?? 0) === (out.offset ?? 0)
  const { code, workgroups } = inPlace
    ? flatKernel(gpu.limits.maxComputeWorkgroupsPerDimension, size, "@group(0) @binding(0) var<storage, read_write> Y: array<f32>;", `  let x = Y[i];
  Y[i] = ${op.wgsl("x")};`)
    : flatKernel(gpu.limits.maxComputeWorkgroupsPerDimension, size, `@group(0) @binding(0) var<storage, read> X: array<f32>;
@group(0) @binding(1) var<storage, read_write> Y: array<f32>;`, `  let x = X[i];
  Y[i] = ${op.wgsl("x")};`)
  return dispatch({ label: `${op.name} ×${size}`, code }, inPlace ? [out] : [x, out], workgroups)
}

/**
 * out = op(a, b) with NumPy broadcasting; `out` has the broadcast shape. Shapes are baked into the kernel,
 * so the index arithmetic is all constants.
 */
export const binary = (
  gpu: Pick<GpuShape, "limits">,
  op: BinaryOp,
  a: GpuBuffer,
  aShape: Shape,
  b: GpuBuffer,
  bShape: Shape,
  out: GpuBuffer
): Dispatch => {
  const outShape = broadcastShapes(aShape, bShape)
  const size = sizeOf(outShape)
  const sa = broadcastStrides(aShape, outShape)
  const sb = broadcastStrides(bShape, outShape)
  const same = (x: Shape) => x.length === outShape.length && x.every((d, i) => d === outShape[i])
  // Decompose the flat output index into coordinates only when an operand is actually broadcast.
  const lines: Array<string> = []
  let ia = "i"
  let ib = "i"
  if (!same(aShape) || !same(bShape)) {
    lines.push("var rest = i;", "var ia = 0u;", "var ib = 0u;")
    for (let d = outShape.length - 1; d >= 0; d--) {
      const dim = outShape[d]!
      if (dim === 1) continue
      lines.push(`{ let c = rest % ${dim}u; rest = rest / ${dim}u;`)
      if (sa[d] !== 0) lines.push(`  ia += c * ${sa[d]}u;`)
      if (sb[d] !== 0) lines.push(`  ib += c * ${sb[d]}u;`)
      lines.push("}")
    }
    ia = "ia"
    ib = "ib"
  }
  const { code, workgroups } = flatKernel(gpu.limits.maxComputeWorkgroupsPerDimension, size, `@group(0) @binding(0) var<storage, read> A: array<f32>;
@group(0) @binding(1) var<storage, read> B: array<f32>;
@group(0) @binding(2) var<storage, read_write> Y: array<f32>;`, `  ${lines.join("\n  ")}
  Y[i] = ${op.wgsl(`A[${ia}]`, `B[${ib}]`)};`)
  return dispatch(
    { label: `${op.name} [${aShape.join("×")}]·[${bShape.join("×")}]`, code },
    [a, b, out],
    workgroups
  )
}
