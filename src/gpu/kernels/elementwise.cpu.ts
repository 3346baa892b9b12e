import { type BinaryOp, broadcastShapes, broadcastStrides, type Shape, sizeOf, type UnaryOp } from "./elementwise.ts"

/** Reference for `unary`: the op's JavaScript twin, rounded to f32. */
export const unaryCpu = (op: UnaryOp, x: Float32Array): Float32Array => x.map((v) => op.cpu(v))

/** Reference for `binary`: NumPy broadcasting written as nested coordinates rather than strides tricks. */
export const binaryCpu = (op: BinaryOp, a: Float32Array, aShape: Shape, b: Float32Array, bShape: Shape): Float32Array => {
  const outShape = broadcastShapes(aShape, bShape)
  const sa = broadcastStrides(aShape, outShape)
  const sb = broadcastStrides(bShape, outShape)
  const out = new Float32Array(sizeOf(outShape))
  const coord = new Array<number>(outShape.length).fill(0)
  for (let i = 0; i < out.length; i++) {
    let rest = i
    for (let d = outShape.length - 1; d >= 0; d--) {
      coord[d] = rest % outShape[d]!
      rest = Math.floor(rest / outShape[d]!)
    }
    const ia = coord.reduce((s, c, d) => s + c * sa[d]!, 0)
    const ib = coord.reduce((s, c, d) => s + c * sb[d]!, 0)
    out[i] = op.cpu(a[ia]!, b[ib]!)
  }
  return out
}
