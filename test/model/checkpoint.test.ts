import { NodeServices } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import { Effect, FileSystem } from "effect"
import { mkdtempSync, existsSync, readdirSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { loadHfModel, saveHfModel } from "../../src/model/checkpoint.ts"
import { configFromHf, configToHf, parameterCount, presets } from "../../src/model/config.ts"
import { initWeights, parameterSpecs } from "../../src/model/parameters.ts"
import { encodeSafetensors, f32ToBf16Bits, parseSafetensors } from "../../src/model/safetensors.ts"

const tempDir = () => mkdtempSync(join(tmpdir(), "smol-ckpt-"))

describe("Llama config", () => {
  it("has SmolLM2's parameter counts (the released configs' shapes)", () => {
    expect(parameterCount(presets["smollm2-135m"])).toBe(134_515_008)
    expect(parameterCount(presets["smollm2-360m"])).toBe(361_821_120)
    expect(parameterCount(presets["smollm2-1.7b"])).toBe(1_711_376_384)
  })

  it.effect("round-trips through config.json and reads transformers' defaults and nested rope_parameters", () =>
    Effect.gen(function*() {
      const c = presets["smollm2-360m"]
      expect(yield* configFromHf(JSON.parse(JSON.stringify(configToHf(c))))).toEqual(c)
      const minimal = yield* configFromHf({
        hidden_size: 64, intermediate_size: 100, num_hidden_layers: 1, num_attention_heads: 4, vocab_size: 10,
        rope_parameters: { rope_theta: 5e5, rope_type: "default" }
      })
      expect(minimal.numKeyValueHeads).toBe(4)
      expect(minimal.ropeTheta).toBe(5e5)
      expect(minimal.rmsNormEps).toBe(1e-6)
      expect(minimal.tieWordEmbeddings).toBe(false)
    }))

  it.effect("refuses configs it cannot run, with a clear error", () =>
    Effect.gen(function*() {
      const base = { hidden_size: 64, intermediate_size: 100, num_hidden_layers: 1, num_attention_heads: 4, vocab_size: 10 }
      for (const [bad, why] of [
        [{ ...base, model_type: "gpt2" }, /model_type "gpt2"/],
        [{ ...base, num_key_value_heads: 3 }, /not a multiple/],
        [{ ...base, attention_bias: true }, /biases/],
        [{ ...base, hidden_size: "64" }, /not a Llama config/],
        // transformers 5 writes RoPE scaling only inside rope_parameters: computing plain RoPE there would run a
        // different model without a word.
        [{ ...base, rope_parameters: { rope_theta: 5e5, rope_type: "llama3", factor: 8, low_freq_factor: 1 } }, /only the default RoPE/],
        [{ ...base, rope_parameters: { rope_theta: 1e4, rope_type: "linear", factor: 2 } }, /only the default RoPE/],
        [{ ...base, rope_parameters: { rope_theta: 1e4, partial_rotary_factor: 0.5 } }, /only the default RoPE/],
        [{ ...base, partial_rotary_factor: 0.5 }, /partial_rotary_factor/],
        [{ ...base, rope_scaling: { type: "linear", factor: 2 } }, /rope_scaling/]
      ] as const) {
        const error = yield* Effect.flip(configFromHf(bad))
        expect(error._tag).toBe("ModelConfigError")
        expect(error.message).toMatch(why)
      }
    }))
})

describe("safetensors", () => {
  it("decodes F32, BF16 and F16 and encodes bf16 with round-to-nearest-even", () => {
    expect(f32ToBf16Bits(1)).toBe(0x3f80)
    expect(f32ToBf16Bits(1 + 2 ** -8)).toBe(0x3f80) // a tie rounds to the even mantissa
    expect(f32ToBf16Bits(1 + 3 * 2 ** -8)).toBe(0x3f82)
    const data = Float32Array.of(1.5, -2.25, 3.140625, 0)
    for (const dtype of ["F32", "BF16"] as const) {
      const bytes = encodeSafetensors([{ name: "w", shape: [2, 2], data }], dtype)
      const t = parseSafetensors(bytes, "test").tensors.get("w")!
      expect(t.shape).toEqual([2, 2])
      expect([...t.data]).toEqual([...data])
    }
    // A hand-built F16 file: 1.0 = 0x3c00, -2.0 = 0xc000, 65504 = 0x7bff.
    const header = new TextEncoder().encode(JSON.stringify({ h: { dtype: "F16", shape: [3], data_offsets: [0, 6] } }))
    const file = new Uint8Array(8 + header.length + 6)
    const view = new DataView(file.buffer)
    view.setBigUint64(0, BigInt(header.length), true)
    file.set(header, 8)
    ;[0x3c00, 0xc000, 0x7bff].forEach((v, i) => view.setUint16(8 + header.length + 2 * i, v, true))
    expect([...parseSafetensors(file, "f16").tensors.get("h")!.data]).toEqual([1, -2, 65504])
  })

  it("names the file and tensor when a file is corrupt", () => {
    const bytes = encodeSafetensors([{ name: "w", shape: [4], data: new Float32Array(4) }], "F32")
    expect(() => parseSafetensors(bytes.subarray(0, bytes.length - 4), "model.safetensors")).toThrow(/model.safetensors: tensor "w"/)
    expect(() => parseSafetensors(new Uint8Array(3), "x.safetensors")).toThrow(/too short/)
  })
})

describe("HF checkpoint folders", () => {
  for (const [label, options] of [
    ["single file, f32", { dtype: "float32" }],
    ["sharded with an index, bf16", { dtype: "bfloat16", maxShardBytes: 40_000 }]
  ] as const) {
    it.effect(`writes and reads back a model (${label})`, () =>
      Effect.gen(function*() {
        const dir = join(tempDir(), "model")
        const config = presets["tiny-untied"]
        const weights = initWeights(config, 5)
        yield* saveHfModel(dir, { config, weights }, options)
        const files = readdirSync(dir)
        if (options.dtype === "bfloat16") {
          expect(files).toContain("model.safetensors.index.json")
          expect(files.filter((f) => f.endsWith(".safetensors")).length).toBeGreaterThan(1)
        } else expect(files).toContain("model.safetensors")
        const loaded = yield* loadHfModel(dir)
        expect(loaded.config).toEqual(config)
        for (const spec of parameterSpecs(config)) {
          const want = weights.get(spec.name)!
          const got = loaded.weights.get(spec.name)!
          for (let i = 0; i < want.length; i++) {
            const tolerance = options.dtype === "float32" ? 0 : Math.abs(want[i]!) * 2 ** -8
            expect(Math.abs(got[i]! - want[i]!), `${spec.name}[${i}]`).toBeLessThanOrEqual(tolerance)
          }
        }
      }).pipe(Effect.provide(NodeServices.layer)))
  }

  it.effect("replaces an existing checkpoint atomically and leaves no temporary folders", () =>
    Effect.gen(function*() {
      const root = tempDir()
      const dir = join(root, "ckpt")
      const config = presets.tiny
      yield* saveHfModel(dir, { config, weights: initWeights(config, 1) })
      yield* saveHfModel(dir, { config, weights: initWeights(config, 2) })
      expect(readdirSync(root)).toEqual(["ckpt"])
      const loaded = yield* loadHfModel(dir)
      expect(loaded.weights.get("model.norm.weight")![0]).toBe(1)
      expect(loaded.weights.get("model.embed_tokens.weight")).toEqual(initWeights(config, 2).get("model.embed_tokens.weight"))
    }).pipe(Effect.provide(NodeServices.layer)))

  it.effect("reports a missing tensor by name", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const dir = join(tempDir(), "broken")
      const config = presets.tiny
      const weights = initWeights(config, 1)
      weights.delete("model.layers.1.mlp.up_proj.weight")
      yield* fs.makeDirectory(dir)
      yield* fs.writeFileString(join(dir, "config.json"), JSON.stringify(configToHf(config)))
      yield* fs.writeFile(join(dir, "model.safetensors"), encodeSafetensors([...weights].map(([name, data]) => ({ name, shape: [data.length], data })), "F32"))
      const error = yield* Effect.flip(loadHfModel(dir))
      expect(error.message).toMatch(/"model.layers.1.mlp.up_proj.weight" is missing/)
      expect(existsSync(dir)).toBe(true)
    }).pipe(Effect.provide(NodeServices.layer)))
})
