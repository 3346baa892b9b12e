import { layer } from "@effect/vitest"
import { Effect } from "effect"
import { bufferView, Gpu } from "../../src/gpu/Gpu.ts"
import { presets } from "../../src/model/config.ts"
import { llamaReference } from "../../src/model/llama.cpu.ts"
import { makeLlamaDecoder } from "../../src/model/llama.decode.ts"
import { makeLlamaGpu } from "../../src/model/llama.gpu.ts"
import { initWeights } from "../../src/model/parameters.ts"
import { expectClose } from "../support/compare.ts"
import { tokenIds } from "../support/models.ts"

layer(Gpu.layer)("generation with a KV cache", (it) => {
  it.effect("every step's logits equal the reference model's over the whole sequence (GQA 6/2, tied and untied)", () =>
    Effect.gen(function*() {
      const gpu = yield* Gpu
      for (const config of [presets["tiny-untied"], { ...presets.tiny, vocabSize: 300 }]) {
        const weights = initWeights(config, 5)
        const prompt = tokenIds(7, config.vocabSize, 3)
        const llama = yield* makeLlamaGpu(gpu, config, 1, 8, { training: false })
        yield* llama.setWeights(weights)
        const inputs = new Int32Array(8)
        inputs.set(prompt)
        yield* llama.setTokens(inputs, new Int32Array(8))
        const { steps, offset } = llama.logitsAt(prompt.length - 1)
        yield* gpu.run(steps)
        const firstLogits = yield* gpu.readF32(bufferView(llama.logits, offset * 4, config.vocabSize * 4))
        const decoder = yield* makeLlamaDecoder(gpu, config, llama.params, 32)
        yield* decoder.loadPrefix(llama, prompt.length)

        const tokens = [...prompt]
        const check = (logits: Float32Array, label: string) => {
          const n = tokens.length
          const ref = llamaReference(config, weights, tokens, [...tokens.slice(1), 0], 1, n, false).logits
          expectClose(label, logits, ref.subarray((n - 1) * config.vocabSize, n * config.vocabSize))
        }
        check(firstLogits, `prompt logits (vocab ${config.vocabSize})`)
        // Continue well past the prompt's pass length: 13 decoder steps, each feeding an arbitrary next token.
        for (let i = 0; i < 13; i++) {
          const token = (i * 37 + 11) % config.vocabSize
          const logits = yield* decoder.step(token)
          tokens.push(token)
          check(logits, `step ${i + 1} (vocab ${config.vocabSize})`)
        }
      }
    }).pipe(Effect.scoped))
})
