/**
 * Evaluation throughput on the current adapter: log-likelihood requests/s (batched scoring, as multiple-choice
 * tasks use it) and generated tokens/s (greedy, as GSM8K uses it), for the GPU Llama behind the evaluation's
 * TokenModel, next to the plain CPU reference model (src/model/llama.cpu.ts) on the same requests.
 *
 *   npx tsx bench/eval.ts [--preset tiny] [--model DIR] [--requests 64] [--length 64] [--new-tokens 16]
 *
 * Ends with one JSON line (headline: log-likelihood requests/s).
 */
import { NodeServices } from "@effect/platform-node"
import { Effect, Stream } from "effect"
import { parseArgs } from "node:util"
import { makeLlamaTokenModel } from "../src/eval/llama-token-model.ts"
import { describeAdapter } from "../src/gpu/adapter.ts"
import { Gpu } from "../src/gpu/Gpu.ts"
import { type HfModel, loadHfModel } from "../src/model/checkpoint.ts"
import { type PresetName, presets } from "../src/model/config.ts"
import { llamaReference } from "../src/model/llama.cpu.ts"
import { initWeights } from "../src/model/parameters.ts"

const { values: args } = parseArgs({
  options: {
    preset: { type: "string", default: "tiny" },
    model: { type: "string" },
    requests: { type: "string", default: "64" },
    length: { type: "string", default: "64" },
    "new-tokens": { type: "string", default: "16" },
    batch: { type: "string", default: "16" }
  }
})
const requests = Number(args.requests)
const length = Number(args.length)
const newTokens = Number(args["new-tokens"])
const batchSize = Number(args.batch)

const program = Effect.gen(function*() {
  const gpu = yield* Gpu
  const model: HfModel = args.model !== undefined
    ? yield* loadHfModel(args.model)
    : (() => {
      const config = presets[args.preset as PresetName]
      return { config, weights: initWeights(config, 1) }
    })()
  const V = model.config.vocabSize
  const ids = (seed: number, n: number) => Array.from({ length: n }, (_, i) => (i * 7919 + seed * 104729) % V)
  const batch = Array.from({ length: requests }, (_, i) => ({ tokens: ids(i, length), scoreFrom: length - 8 }))
  const tokenModel = yield* makeLlamaTokenModel(gpu, model, { name: args.model ?? args.preset, maxLength: length + newTokens + 1, batchSize })

  yield* tokenModel.scoreTokens(batch.slice(0, batchSize)) // builds the bucket's model and compiles its kernels
  let t = performance.now()
  yield* tokenModel.scoreTokens(batch)
  const oursRequests = requests / ((performance.now() - t) / 1000)

  // The reference scores a sample of the requests (it is slow) and is scaled to requests/s.
  const sample = Math.max(1, Math.min(requests, 8))
  t = performance.now()
  for (const r of batch.slice(0, sample)) {
    llamaReference(model.config, model.weights, r.tokens.slice(0, -1), r.tokens.slice(1), 1, length - 1, false)
  }
  const referenceRequests = sample / ((performance.now() - t) / 1000)

  const prompt = ids(99, length)
  yield* Stream.runDrain(Stream.take(tokenModel.generateTokens(prompt, { temperature: 0, seed: 1 }), 1))
  t = performance.now()
  yield* Stream.runDrain(Stream.take(tokenModel.generateTokens(prompt, { temperature: 0, seed: 1 }), newTokens))
  const oursTokens = newTokens / ((performance.now() - t) / 1000)

  const adapter = describeAdapter(gpu.adapter)
  console.log(`\nEvaluation throughput, ${args.model ?? `${args.preset} (random weights)`}, on ${adapter}\n`)
  console.log("| measure | ours (GPU) | CPU reference |")
  console.log("|---|---:|---:|")
  console.log(`| log-likelihood requests/s (${length} tokens, batch ${batchSize}) | ${oursRequests.toFixed(1)} | ${referenceRequests.toFixed(1)} |`)
  console.log(`| generated tokens/s (greedy, prompt ${length}, KV cache) | ${oursTokens.toFixed(1)} | — |`)
  console.log(JSON.stringify({
    metric: `log-likelihood requests/s (${length}-token requests, ${args.model ?? args.preset})`,
    unit: "requests/s",
    ours: +oursRequests.toFixed(2),
    reference: +referenceRequests.toFixed(2),
    reference_name: "the plain f64 TypeScript reference model (src/model/llama.cpu.ts) on the same requests",
    ratio: +(oursRequests / referenceRequests).toFixed(2),
    adapter,
    generated_tokens_per_second: +oursTokens.toFixed(2)
  }))
})

Effect.runPromise(program.pipe(Effect.scoped, Effect.provide(Gpu.layer), Effect.provide(NodeServices.layer))).catch((error) => {
  console.error(String(error))
  process.exitCode = 1
})
