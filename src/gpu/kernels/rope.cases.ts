import { Effect } from "effect"
import { randomDocumentPositions } from "./causal-softmax.cases.ts"
import { type KernelCase, kernelCase, randomArray, type Rng } from "./kernel-case.ts"
import { rope } from "./rope.ts"
import { ropeCpu } from "./rope.cpu.ts"

// Tables of random angles: the kernel only needs cos² + sin² = 1 (for the inverse), not Llama's frequencies,
// and the gpu layer does not reach up into model/ for `ropeTables`.
const tables = (next: Rng, positions: number, half: number) => {
  const angles = randomArray(next, positions * half, -Math.PI, Math.PI)
  return { cos: angles.map(Math.cos), sin: angles.map(Math.sin) }
}

const rotation = (batch: number, seq: number, heads: number, d: number): KernelCase =>
  kernelCase({
    kernel: "rope and its inverse",
    case: `batch ${batch}, seq ${seq}, ${heads} heads of ${d}`,
    inputs: (next) => ({ x: randomArray(next, batch * seq * heads * d), ...tables(next, seq, d / 2) }),
    gpu: (gpu, { x, cos, sin }) =>
      Effect.gen(function*() {
        const X = yield* gpu.upload(x)
        const [CS, SN] = [yield* gpu.upload(cos), yield* gpu.upload(sin)]
        yield* gpu.run([rope(gpu, X, CS, SN, batch * seq, seq, heads, d, false)])
        const rotated = yield* gpu.readF32(X)
        yield* gpu.run([rope(gpu, X, CS, SN, batch * seq, seq, heads, d, true)])
        return { rotated, "inverse restores x": yield* gpu.readF32(X) }
      }),
    cpu: ({ x, cos, sin }) => ({ rotated: ropeCpu(x, cos, sin, batch * seq, seq, heads, d, false), "inverse restores x": x })
  })

// Decoding: `rows` new positions starting at a position read from a buffer, so one shader serves every step.
const atPosition = (rows: number, position: number, maxLength: number, heads: number, d: number): KernelCase =>
  kernelCase({
    kernel: "rope at a position (decoding)",
    case: `${rows} row${rows === 1 ? "" : "s"} from position ${position} of ${maxLength}, ${heads} heads of ${d}`,
    inputs: (next) => ({ x: randomArray(next, rows * heads * d), ...tables(next, maxLength, d / 2) }),
    gpu: (gpu, { x, cos, sin }) =>
      Effect.gen(function*() {
        const X = yield* gpu.upload(x)
        const [CS, SN, FIRST] = [yield* gpu.upload(cos), yield* gpu.upload(sin), yield* gpu.upload(Uint32Array.of(position))]
        yield* gpu.run([rope(gpu, X, CS, SN, rows, maxLength, heads, d, false, FIRST)])
        return { rotated: yield* gpu.readF32(X) }
      }),
    cpu: ({ x, cos, sin }) => {
      const half = d / 2
      // Rows at positions position, position + 1, …: the reference's tables start at `position`.
      const from = position * half
      return { rotated: ropeCpu(x, cos.subarray(from), sin.subarray(from), rows, maxLength - position, heads, d, false) }
    }
  })

// Packed documents: every row has its own position, restarting at 0 where a document starts.
const packed = (batch: number, seq: number, heads: number, d: number): KernelCase =>
  kernelCase({
    kernel: "rope at row positions (packed documents) and its inverse",
    case: `batch ${batch}, seq ${seq}, ${heads} heads of ${d}`,
    inputs: (next) => ({ x: randomArray(next, batch * seq * heads * d), ...tables(next, seq, d / 2), positions: randomDocumentPositions(next, batch, seq, 6) }),
    gpu: (gpu, { x, cos, sin, positions }) =>
      Effect.gen(function*() {
        const X = yield* gpu.upload(x)
        const [CS, SN, POS] = [yield* gpu.upload(cos), yield* gpu.upload(sin), yield* gpu.upload(positions)]
        yield* gpu.run([rope(gpu, X, CS, SN, batch * seq, seq, heads, d, false, undefined, POS)])
        const rotated = yield* gpu.readF32(X)
        yield* gpu.run([rope(gpu, X, CS, SN, batch * seq, seq, heads, d, true, undefined, POS)])
        return { rotated, "inverse restores x": yield* gpu.readF32(X) }
      }),
    cpu: ({ x, cos, sin, positions }) => ({
      rotated: ropeCpu(x, cos, sin, batch * seq, seq, heads, d, false, positions),
      "inverse restores x": x
    })
  })

export const ropeCases: ReadonlyArray<KernelCase> = [
  rotation(2, 7, 6, 8),
  rotation(1, 16, 3, 64),
  atPosition(1, 11, 32, 6, 8),
  atPosition(3, 0, 8, 2, 16),
  packed(2, 11, 3, 8),
  packed(3, 16, 2, 64)
]
