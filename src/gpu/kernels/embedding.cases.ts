import { Effect } from "effect"
import { embeddingBackward, embeddingForward, embeddingSegments } from "./embedding.ts"
import { embeddingBackwardCpu, embeddingForwardCpu } from "./embedding.cpu.ts"
import { type KernelCase, kernelCase, randomArray, randomInts, type Rng } from "./kernel-case.ts"

const draw = (next: Rng, vocab: number, c: number, n: number) => {
  const ids = randomInts(next, n, vocab)
  return { ids, table: randomArray(next, vocab * c), dOut: randomArray(next, n * c), dTable: randomArray(next, vocab * c) }
}

type Drawn = ReturnType<typeof draw>

// Forward is a copy (exact); backward sums at most a few rows per id, in a fixed order.
const tolerances = { "forward": 0, "table gradient": 1e-6 }

const cpu = (c: number) => ({ ids, table, dOut, dTable }: Drawn) => ({
  "forward": embeddingForwardCpu(ids, table, c),
  "table gradient": embeddingBackwardCpu(ids, dOut, dTable, c)
})

const whole = (vocab: number, c: number, n: number): KernelCase =>
  kernelCase({
    kernel: "embedding gather and scatter-add backward",
    case: `${n} ids over ${vocab}×${c}`,
    tolerances,
    inputs: (next) => draw(next, vocab, c, n),
    gpu: (gpu, { ids, table, dOut, dTable }) =>
      Effect.gen(function*() {
        const seg = embeddingSegments(ids)
        const [I, TB, DO, DT] = [yield* gpu.upload(ids), yield* gpu.upload(table), yield* gpu.upload(dOut), yield* gpu.upload(dTable)]
        const [SI, SS, SO] = [yield* gpu.upload(seg.ids), yield* gpu.upload(seg.starts), yield* gpu.upload(seg.order)]
        const OUT = yield* gpu.buffer(n * c * 4)
        yield* gpu.run([embeddingForward(gpu, I, TB, OUT, n, c), embeddingBackward(gpu, SI, SS, SO, DO, DT, seg.ids.length, c)])
        return { "forward": yield* gpu.readF32(OUT), "table gradient": yield* gpu.readF32(DT) }
      }),
    cpu: cpu(c)
  })

// A table larger than one binding is bound in vocabulary chunks: rows [0, split) and [split, vocab) here.
const chunked = (vocab: number, c: number, n: number, split: number): KernelCase =>
  kernelCase({
    kernel: "embedding gather and scatter-add backward",
    case: `${n} ids over ${vocab}×${c}, table in chunks of ${split} and ${vocab - split} rows`,
    tolerances,
    inputs: (next) => draw(next, vocab, c, n),
    gpu: (gpu, { ids, table, dOut, dTable }) =>
      Effect.gen(function*() {
        const seg = embeddingSegments(ids)
        const firstOfSecond = seg.ids.findIndex((id) => id >= split)
        const inFirst = firstOfSecond < 0 ? seg.ids.length : firstOfSecond
        const [I, DO] = [yield* gpu.upload(ids), yield* gpu.upload(dOut)]
        const [T0, T1] = [yield* gpu.upload(table.subarray(0, split * c)), yield* gpu.upload(table.subarray(split * c))]
        const [D0, D1] = [yield* gpu.upload(dTable.subarray(0, split * c)), yield* gpu.upload(dTable.subarray(split * c))]
        const [SI, SS, SO] = [yield* gpu.upload(seg.ids), yield* gpu.upload(seg.starts), yield* gpu.upload(seg.order)]
        const OUT = yield* gpu.buffer(n * c * 4)
        const steps = [embeddingForward(gpu, I, T0, OUT, n, c, [0, split]), embeddingForward(gpu, I, T1, OUT, n, c, [split, vocab])]
        if (inFirst > 0) steps.push(embeddingBackward(gpu, SI, SS, SO, DO, D0, inFirst, c, 0, 0))
        if (inFirst < seg.ids.length) steps.push(embeddingBackward(gpu, SI, SS, SO, DO, D1, seg.ids.length - inFirst, c, inFirst, split))
        yield* gpu.run(steps)
        const gradient = new Float32Array(vocab * c)
        gradient.set(yield* gpu.readF32(D0))
        gradient.set(yield* gpu.readF32(D1), split * c)
        return { "forward": yield* gpu.readF32(OUT), "table gradient": gradient }
      }),
    cpu: cpu(c)
  })

export const embeddingCases: ReadonlyArray<KernelCase> = [
  whole(23, 10, 40),
  whole(64, 16, 1),
  chunked(23, 10, 40, 12)
]
