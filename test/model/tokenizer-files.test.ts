import { NodeServices } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { loadHfModel, saveHfModel } from "../../src/model/checkpoint.ts"
import { type LlamaConfig, presets } from "../../src/model/config.ts"
import { initWeights } from "../../src/model/parameters.ts"
import { readTokenizerFiles, tokenizerFiles } from "../../src/model/tokenizer-files.ts"
import { trainBpe, WordCounter } from "../../src/data/tokenizer/train.ts"

const tempDir = () => mkdtempSync(join(tmpdir(), "smol-tokfiles-"))

const sentences = [
  "The cat sat on the mat while the dog slept by the door.",
  "Numbers like 1234 and 56.78 appear in tables, lists and code.",
  "Hello world, said the program; hello again, said the next one."
]

/** A small SmolLM2-style tokenizer.json, as programs/tokenizer.ts train writes it (2-space indented JSON). */
const tokenizerJson = (specialTokens: ReadonlyArray<string>, vocabSize = 400): Record<string, unknown> => {
  const counter = new WordCounter()
  for (let i = 0; i < 40; i++) for (const s of sentences) counter.add(`${s} ${i}`)
  return trainBpe(counter, { vocabSize, specialTokens })
}
const specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]

const files = (dir: string) => readdirSync(dir).sort()
const json = (path: string) => JSON.parse(readFileSync(path, "utf8")) as Record<string, unknown>

describe("tokenizer and generation files in a checkpoint", () => {
  it.effect("a folder written with a tokenizer has it byte for byte, with tokenizer_config, special_tokens_map and generation_config", () =>
    Effect.gen(function*() {
      const dir = tempDir()
      const source = join(dir, "tokenizer.json")
      writeFileSync(source, JSON.stringify(tokenizerJson(specials), null, 2))
      const config: LlamaConfig = presets.tiny
      const extra = yield* readTokenizerFiles(source, config)
      const ckpt = join(dir, "ckpt")
      yield* saveHfModel(ckpt, { config, weights: initWeights(config, 1) }, { extraFiles: extra })

      expect(files(ckpt)).toEqual([
        "config.json", "generation_config.json", "model.safetensors", "special_tokens_map.json", "tokenizer.json", "tokenizer_config.json"
      ])
      expect(readFileSync(join(ckpt, "tokenizer.json")).equals(readFileSync(source))).toBe(true)
      expect(json(join(ckpt, "tokenizer_config.json"))).toEqual({
        tokenizer_class: "PreTrainedTokenizerFast",
        model_max_length: config.maxPositionEmbeddings,
        bos_token: "<|endoftext|>",
        eos_token: "<|endoftext|>",
        unk_token: "<|endoftext|>",
        pad_token: "<|endoftext|>",
        add_bos_token: false,
        add_eos_token: false,
        clean_up_tokenization_spaces: false
      })
      const token = { content: "<|endoftext|>", lstrip: false, normalized: false, rstrip: false, single_word: false }
      expect(json(join(ckpt, "special_tokens_map.json"))).toEqual({ bos_token: token, eos_token: token, unk_token: token, pad_token: token })
      expect(json(join(ckpt, "generation_config.json"))).toEqual({ bos_token_id: 0, eos_token_id: 0 })
      // The extra files do not disturb reading the model back.
      const back = yield* loadHfModel(ckpt)
      expect(back.config).toEqual(config)
    }).pipe(Effect.provide(NodeServices.layer)))

  it.effect("BOS and EOS come from the config's ids: different tokens, and an unset BOS is left out", () =>
    Effect.gen(function*() {
      const bytes = new TextEncoder().encode(JSON.stringify(tokenizerJson(specials)))
      const config: LlamaConfig = { ...presets.tiny, bosTokenId: 1, eosTokenId: 2, maxPositionEmbeddings: 77 }
      const out = yield* tokenizerFiles("t.json", bytes, config)
      expect(out.get("tokenizer.json")).toBe(bytes)
      const tc = JSON.parse(out.get("tokenizer_config.json") as string) as Record<string, unknown>
      expect([tc["bos_token"], tc["eos_token"], tc["unk_token"], tc["pad_token"], tc["model_max_length"]])
        .toEqual(["<|im_start|>", "<|im_end|>", "<|im_end|>", "<|im_end|>", 77])

      const noBos = yield* tokenizerFiles("t.json", bytes, { ...presets.tiny, bosTokenId: null, eosTokenId: 0 })
      const tc2 = JSON.parse(noBos.get("tokenizer_config.json") as string) as Record<string, unknown>
      expect("bos_token" in tc2).toBe(false)
      expect(tc2["eos_token"]).toBe("<|endoftext|>")
      expect(Object.keys(JSON.parse(noBos.get("special_tokens_map.json") as string) as object).sort()).toEqual(["eos_token", "pad_token", "unk_token"])
    }))

  it.effect("without a tokenizer only generation_config.json is added, with the ids the config sets", () =>
    Effect.gen(function*() {
      const dir = tempDir()
      const config: LlamaConfig = { ...presets["tiny-untied"], bosTokenId: null, eosTokenId: 2 }
      yield* saveHfModel(dir, { config, weights: initWeights(config, 2) })
      expect(files(dir)).toEqual(["config.json", "generation_config.json", "model.safetensors"])
      expect(json(join(dir, "generation_config.json"))).toEqual({ eos_token_id: 2 })
      const sharded = join(tempDir(), "sharded")
      yield* saveHfModel(sharded, { config: presets.tiny, weights: initWeights(presets.tiny, 2) }, { maxShardBytes: 20_000 })
      expect(files(sharded)).toContain("generation_config.json")
      expect(json(join(sharded, "generation_config.json"))).toEqual({ bos_token_id: 0, eos_token_id: 0 })
    }).pipe(Effect.provide(NodeServices.layer)))

  it.effect("add_bos_token/add_eos_token say what the tokenizer's post-processor adds, and are left out when they cannot", () =>
    Effect.gen(function*() {
      const withTemplate = (single: ReadonlyArray<string>) => {
        const t = tokenizerJson(specials)
        const piece = (p: string) => p === "A" ? { Sequence: { id: "A", type_id: 0 } } : { SpecialToken: { id: p, type_id: 0 } }
        t["post_processor"] = {
          type: "TemplateProcessing",
          single: single.map(piece),
          pair: [...single, "B"].map((p) => p === "B" ? { Sequence: { id: "B", type_id: 1 } } : piece(p)),
          special_tokens: Object.fromEntries(specials.map((s, id) => [s, { id: s, ids: [id], tokens: [s] }]))
        }
        return new TextEncoder().encode(JSON.stringify(t))
      }
      const flags = (single: ReadonlyArray<string>) =>
        Effect.map(tokenizerFiles("t.json", withTemplate(single), { ...presets.tiny, bosTokenId: 1, eosTokenId: 2 }), (out) => {
          const tc = JSON.parse(out.get("tokenizer_config.json") as string) as Record<string, unknown>
          return [tc["add_bos_token"], tc["add_eos_token"]]
        })
      expect(yield* flags(["<|im_start|>", "A"])).toEqual([true, false])
      expect(yield* flags(["A", "<|im_end|>"])).toEqual([false, true])
      expect(yield* flags(["<|im_start|>", "A", "<|im_end|>"])).toEqual([true, true])
      expect(yield* flags(["A"])).toEqual([false, false])
      // <|endoftext|> before the text is neither the config's BOS nor expressible by the flags: both left out.
      expect(yield* flags(["<|endoftext|>", "A"])).toEqual([undefined, undefined])
    }))

  it.effect("refuses a tokenizer that does not fit the model, saying why", () =>
    Effect.gen(function*() {
      const enc = (o: unknown) => new TextEncoder().encode(JSON.stringify(o))
      const tooBig = yield* Effect.flip(tokenizerFiles("big.json", enc(tokenizerJson(specials)), { ...presets.tiny, vocabSize: 300 }))
      expect(tooBig._tag).toBe("TokenizerFilesError")
      expect(tooBig.message).toMatch(/big\.json: the tokenizer has ids up to \d+, past the model's vocabulary of 300/)

      const plain = yield* Effect.flip(tokenizerFiles("plain.json", enc(tokenizerJson([])), presets.tiny))
      expect(plain.message).toMatch(/plain\.json: config\.json's bos_token_id 0 is "!" here, not a special token/)

      const outside = yield* Effect.flip(tokenizerFiles("t.json", enc(tokenizerJson(specials)), { ...presets.tiny, eosTokenId: 500 }))
      expect(outside.message).toMatch(/eos_token_id 500 is not a token of this tokenizer/)

      const broken = yield* Effect.flip(tokenizerFiles("broken.json", new TextEncoder().encode("{ nope"), presets.tiny))
      expect(broken.message).toMatch(/broken\.json: not a tokenizer\.json we can load/)

      const missing = yield* Effect.flip(readTokenizerFiles(join(tempDir(), "absent.json"), presets.tiny))
      expect(missing._tag).toBe("TokenizerFilesError")
      expect(missing.message).toMatch(/absent\.json/)
    }).pipe(Effect.provide(NodeServices.layer)))
})
