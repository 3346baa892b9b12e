import { layer } from "@effect/vitest"
import { Effect } from "effect"
import { Gpu } from "../../src/gpu/Gpu.ts"
import { presets } from "../../src/model/config.ts"
import type { LlamaConfig } from "../../src/model/config.ts"
import { llamaReference } from "../../src/model/llama.cpu.ts"
import { makeLlamaGpu } from "../../src/model/llama.gpu.ts"
import { initWeights, parameterSpecs } from "../../src/model/parameters.ts"
import { expectClose } from "../support/compare.ts"
import { microConfig, tokenIds } from "../support/models.ts"

const cases: ReadonlyArray<readonly [string, LlamaConfig, number, number, number?]> = [
  ["micro, tied, GQA 4/2", microConfig(true), 2, 5],
  ["micro, untied", microConfig(false), 3, 7],
  ["tiny-untied preset (48 wide, 6/2 heads, vocab 301)", presets["tiny-untied"], 2, 9],
  // A 16 KiB binding limit splits the [301, 48] tables into 4 vocabulary chunks and the head into 2 row chunks:
  // the path a 360M or 1.7B model takes on a device whose bindings stop at 128 MiB.
  ["tiny-untied with tensors split across bindings", presets["tiny-untied"], 2, 9, 16384],
  ["tiny (tied) with tensors split across bindings", { ...presets.tiny, vocabSize: 300 }, 3, 8, 16384]
]

layer(Gpu.layer)("the Llama model on the GPU", (it) => {
  for (const [label, config, batch, seq, maxBindingBytes] of cases) {
    it.effect(`loss and every parameter gradient match the CPU reference (${label})`, () =>
      Effect.gen(function*() {
        const gpu = yield* Gpu
        const weights = initWeights(config, 11)
        const inputs = tokenIds(batch * seq, config.vocabSize, 1)
        const targets = tokenIds(batch * seq, config.vocabSize, 2)
        const model = yield* makeLlamaGpu(gpu, config, batch, seq, maxBindingBytes === undefined ? {} : { maxBindingBytes })
        yield* model.setWeights(weights)
        yield* model.setTokens(inputs, targets)
        yield* gpu.run([...model.zeroGrads, ...model.steps({ backward: true, gradScale: 1 / (batch * seq) })])
        const losses = yield* gpu.readF32(model.losses)
        const want = llamaReference(config, weights, inputs, targets, batch, seq)
        expectClose(`${label}: per-position losses`, losses, want.losses)
        const grads = yield* model.readGrads
        for (const spec of parameterSpecs(config)) {
          expectClose(`${label}: gradient of ${spec.name}`, grads.get(spec.name)!, want.grads!.get(spec.name)!)
        }
      }).pipe(Effect.scoped))
  }
})
