/**
 * Tiny chat models for the chat and generation tests: a Llama whose next token depends only on the current one
 * (attention and MLP outputs zeroed, so the residual stream is the token's embedding), wired so that greedy
 * decoding after a prompt's last token writes a chosen reply and then `<|im_end|>`; and a folder writer that
 * saves a model with a tokenizer and SmolLM2's chat template, as a chat checkpoint is laid out.
 */
import { Effect } from "effect"
import { mkdirSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { SMOLLM2_CHAT_TEMPLATE } from "../../src/data/tokenizer/chat-template.ts"
import { hfModelFiles } from "../../src/model/checkpoint.ts"
import { type LlamaConfig, presets } from "../../src/model/config.ts"
import { initWeights, layerPrefix } from "../../src/model/parameters.ts"
import { tokenizerFiles } from "../../src/model/tokenizer-files.ts"

/** tiny-untied's shape over a tokenizer's vocabulary, with SmolLM2-Instruct's BOS (<|im_start|>) and EOS (<|im_end|>). */
export const chatConfig = (vocabSize: number, maxPositionEmbeddings = 128): LlamaConfig => ({
  ...presets["tiny-untied"],
  vocabSize,
  maxPositionEmbeddings,
  initializerRange: 0.2,
  bosTokenId: 1,
  eosTokenId: 2
})

/**
 * Weights under which greedy decoding maps `after` → chain[0] → chain[1] → …: every listed token has its own
 * embedding direction and the head row of its successor points along it; all other tokens share one direction
 * that leads to chain[0].
 */
export const scriptedWeights = (config: LlamaConfig, after: number, chain: ReadonlyArray<number>, seed = 3): Map<string, Float32Array> => {
  const C = config.hiddenSize
  const V = config.vocabSize
  const weights = initWeights(config, seed)
  for (let l = 0; l < config.numHiddenLayers; l++) {
    weights.get(`${layerPrefix(l)}.self_attn.o_proj.weight`)!.fill(0)
    weights.get(`${layerPrefix(l)}.mlp.down_proj.weight`)!.fill(0)
  }
  const embed = weights.get("model.embed_tokens.weight")!.fill(0)
  const head = weights.get("lm_head.weight")!.fill(0)
  const sources = [after, ...chain.slice(0, -1)]
  const other = sources.length
  if (other >= C) throw new RangeError(`a chain of ${chain.length} needs a hidden size over ${other}`)
  for (let v = 0; v < V; v++) embed[v * C + other] = 1
  sources.forEach((s, k) => {
    embed.fill(0, s * C, (s + 1) * C)
    embed[s * C + k] = 1
    head[chain[k]! * C + k] = 10
  })
  head[chain[0]! * C + other] = 10
  return weights
}

/** Writes a model folder: config, weights, and the tokenizer files with SmolLM2's chat template. */
export const writeChatModel = (dir: string, config: LlamaConfig, weights: ReadonlyMap<string, Float32Array>, tokenizerJson: string): void => {
  const tokenizer = Effect.runSync(tokenizerFiles("tokenizer.json", new TextEncoder().encode(tokenizerJson), config, { chatTemplate: SMOLLM2_CHAT_TEMPLATE }))
  mkdirSync(dir, { recursive: true })
  for (const [name, content] of hfModelFiles({ config, weights }, { extraFiles: tokenizer })) writeFileSync(join(dir, name), content)
}
