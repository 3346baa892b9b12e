import { NodeServices } from "@effect/platform-node"
import { describe, expect, it, layer } from "@effect/vitest"
import { Effect } from "effect"
import { spawnSync } from "node:child_process"
import { mkdtempSync, readFileSync, writeFileSync, mkdirSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Gpu } from "../../src/gpu/Gpu.ts"
import { geluExact } from "../../src/gpu/kernels/gelu.cpu.ts"
import { geluFit } from "../../src/gpu/kernels/gelu.ts"
import { bertClassifierFiles, loadBertModel, saveBertClassifier } from "../../src/model/bert-checkpoint.ts"
import { type BertConfig, bertConfigFromHf, bertConfigToHf, bertPresets } from "../../src/model/bert-config.ts"
import { bertParameterSpecs, type BertParts, initBertWeights } from "../../src/model/bert-parameters.ts"
import { bertReference } from "../../src/model/bert.cpu.ts"
import { makeBertGpu } from "../../src/model/bert.gpu.ts"
import { elementCount } from "../../src/model/parameters.ts"
import { encodeSafetensors } from "../../src/model/safetensors.ts"
import { expectClose, randomArray, rng } from "../support/compare.ts"

const tempDir = () => mkdtempSync(join(tmpdir(), "smol-bert-"))
const full: BertParts = { pooler: true, classifier: true }

/** Weights with every tensor random (LayerNorm gains around 1): a bias or a gain read from the wrong place shows. */
const randomWeights = (config: BertConfig, parts: BertParts, seed: number) => {
  const next = rng(seed)
  return new Map(bertParameterSpecs(config, parts).map((s) => {
    const n = elementCount(s.shape)
    const gain = s.name.endsWith("LayerNorm.weight")
    return [s.name, gain ? randomArray(next, n, 0.7, 1.3) : randomArray(next, n, -0.3, 0.3)] as const
  }))
}

const ids = (length: number, vocab: number, seed: number) => Array.from({ length }, (_, i) => (i * 31 + seed * 17 + 5) % vocab)

describe("BERT config", () => {
  it.effect("reads a BertForSequenceClassification config.json with transformers' defaults, and round-trips", () =>
    Effect.gen(function*() {
      // The shape of HuggingFaceFW/fineweb-edu-classifier's config (arctic-embed-m under a regression head).
      const c = yield* bertConfigFromHf({
        architectures: ["BertForSequenceClassification"], model_type: "bert", vocab_size: 30522, hidden_size: 768,
        num_hidden_layers: 12, num_attention_heads: 12, intermediate_size: 3072, hidden_act: "gelu",
        hidden_dropout_prob: 0.0, max_position_embeddings: 512, type_vocab_size: 2, layer_norm_eps: 1e-12,
        id2label: { "0": "LABEL_0" }, label2id: { LABEL_0: 0 }, problem_type: "regression", torch_dtype: "float32"
      })
      expect(c).toEqual({ ...bertPresets["bert-base"], id2label: { "0": "LABEL_0" } })
      expect(yield* bertConfigFromHf(JSON.parse(JSON.stringify(bertConfigToHf(c))))).toEqual(c)
      // A bare BertModel config: no labels given means transformers' default of 2, and eps 1e-12.
      const bare = yield* bertConfigFromHf({ vocab_size: 10, hidden_size: 8, num_hidden_layers: 1, num_attention_heads: 2, intermediate_size: 16 })
      expect(bare.numLabels).toBe(2)
      expect(bare.layerNormEps).toBe(1e-12)
      expect(bare.maxPositionEmbeddings).toBe(512)
      expect(bertConfigToHf({ ...bare, numLabels: 1 })["problem_type"]).toBe("regression")
    }))

  it.effect("refuses encoders it does not compute, naming why", () =>
    Effect.gen(function*() {
      const base = { vocab_size: 10, hidden_size: 8, num_hidden_layers: 1, num_attention_heads: 2, intermediate_size: 16 }
      for (const [bad, why] of [
        [{ ...base, hidden_act: "gelu_new" }, /hidden_act "gelu_new"/],
        [{ ...base, hidden_act: "relu" }, /hidden_act "relu"/],
        [{ ...base, position_embedding_type: "relative_key" }, /position_embedding_type "relative_key"/],
        [{ ...base, model_type: "roberta" }, /model_type "roberta"/],
        [{ ...base, is_decoder: true }, /decoder/],
        [{ ...base, num_attention_heads: 3 }, /not a multiple/],
        [{ ...base, num_labels: 3, id2label: { "0": "a" } }, /disagrees/],
        [{ ...base, hidden_size: "8" }, /not a BERT config/]
      ] as const) {
        const error = yield* Effect.flip(bertConfigFromHf(bad))
        expect(error._tag).toBe("BertConfigError")
        expect(error.message).toMatch(why)
      }
    }))
})

describe("BERT CPU reference", () => {
  it("matches an independent numpy forward on a 1-layer, hidden-4 model", () => {
    // Weights sin(1.3·(k+1) + 0.7·i)·0.9 in f32 for the k-th tensor in BertModel order; ids [1, 3, 2]. The expected
    // numbers were printed by `numpyTinyBert` below, a separate implementation (f64, math.erfc for GELU).
    const config: BertConfig = {
      ...bertPresets.tiny, vocabSize: 5, hiddenSize: 4, numAttentionHeads: 2, intermediateSize: 6, numHiddenLayers: 1, maxPositionEmbeddings: 4
    }
    const weights = new Map(bertParameterSpecs(config, full).map((s, k) =>
      [s.name, Float32Array.from({ length: elementCount(s.shape) }, (_, i) => Math.sin(1.3 * (k + 1) + 0.7 * i) * 0.9)] as const))
    const out = bertReference(config, weights, [[1, 3, 2]])
    expectClose("[CLS] state", out.cls, [0.7301807754619084, -1.1319610906944064, 0.495161969290112, -0.7663784041258633], 1e-12)
    expectClose("pooled", out.pooled!, [-0.22167503308784003, -0.900103690538738, 0.642674076883745, -0.30945541174219887], 1e-12)
    expectClose("logit", out.logits!, [0.7319572208494624], 1e-12)
  })

  it("computes exact GELU, and the kernel's erfc fit stays within 1.2e-7 of it relative to each value", () => {
    // transformers' GELUActivation values (x·Φ(x)); Φ(−3) = 0.0013498980316301.
    expect(geluExact(1)).toBeCloseTo(0.8413447460685429, 15)
    expect(geluExact(-3)).toBeCloseTo(-3 * 0.0013498980316300946, 15)
    let worst = 0
    for (let x = -15; x <= 15; x += 0.00037) {
      worst = Math.max(worst, Math.abs(geluFit(x) - geluExact(x)) / Math.abs(geluExact(x) || 1))
    }
    expect(worst).toBeLessThan(1.2e-7)
  })
})

/** The numpy forward that produced the tiny case's numbers; rerun (and compared) when python3 has numpy. */
const numpyTinyBert = `
import math, numpy as np
C, H, F, V, P, TV = 4, 2, 6, 5, 4, 2
names = [("embeddings.word_embeddings.weight", (V, C)), ("embeddings.position_embeddings.weight", (P, C)),
 ("embeddings.token_type_embeddings.weight", (TV, C)), ("embeddings.LayerNorm.weight", (C,)), ("embeddings.LayerNorm.bias", (C,))]
p = "encoder.layer.0"
for n, s in [("attention.self.query", C), ("attention.self.key", C), ("attention.self.value", C), ("attention.output.dense", C)]:
    names += [(f"{p}.{n}.weight", (s, C)), (f"{p}.{n}.bias", (s,))]
names += [(f"{p}.attention.output.LayerNorm.weight", (C,)), (f"{p}.attention.output.LayerNorm.bias", (C,)),
 (f"{p}.intermediate.dense.weight", (F, C)), (f"{p}.intermediate.dense.bias", (F,)), (f"{p}.output.dense.weight", (C, F)), (f"{p}.output.dense.bias", (C,)),
 (f"{p}.output.LayerNorm.weight", (C,)), (f"{p}.output.LayerNorm.bias", (C,)), ("pooler.dense.weight", (C, C)), ("pooler.dense.bias", (C,)),
 ("classifier.weight", (1, C)), ("classifier.bias", (1,))]
W = {}
for k, (n, s) in enumerate(names):
    size = int(np.prod(s))
    W[n] = np.array([np.float32(math.sin(1.3 * (k + 1) + 0.7 * i) * 0.9) for i in range(size)], dtype=np.float64).reshape(s)
def ln(x, w, b): m = x.mean(-1, keepdims=True); v = ((x - m) ** 2).mean(-1, keepdims=True); return (x - m) / np.sqrt(v + 1e-12) * w + b
lin = lambda x, n: x @ W[n + ".weight"].T + W[n + ".bias"]
gelu = np.vectorize(lambda x: 0.5 * x * math.erfc(-x / math.sqrt(2)))
ids = [1, 3, 2]; T = len(ids)
h = ln(W["embeddings.word_embeddings.weight"][ids] + W["embeddings.position_embeddings.weight"][:T] + W["embeddings.token_type_embeddings.weight"][0], W["embeddings.LayerNorm.weight"], W["embeddings.LayerNorm.bias"])
q, k, v = (lin(h, f"{p}.attention.self.{n}") for n in ("query", "key", "value"))
D = C // H; out = np.zeros((T, C))
for hd in range(H):
    sl = slice(hd * D, hd * D + D); s = q[:, sl] @ k[:, sl].T / math.sqrt(D); e = np.exp(s - s.max(1, keepdims=True)); out[:, sl] = (e / e.sum(1, keepdims=True)) @ v[:, sl]
a = ln(lin(out, f"{p}.attention.output.dense") + h, W[f"{p}.attention.output.LayerNorm.weight"], W[f"{p}.attention.output.LayerNorm.bias"])
h = ln(lin(gelu(lin(a, f"{p}.intermediate.dense")), f"{p}.output.dense") + a, W[f"{p}.output.LayerNorm.weight"], W[f"{p}.output.LayerNorm.bias"])
pooled = np.tanh(lin(h[0:1], "pooler.dense")); logits = lin(pooled, "classifier")
print("cls", [repr(float(x)) for x in h[0]]); print("pooled", [repr(float(x)) for x in pooled[0]]); print("logit", repr(float(logits[0, 0])))
`

describe("the tiny case's independent numbers", () => {
  // Needs python3 with numpy (.ci/run installs python3-numpy where it is missing).
  it("are what the numpy implementation prints", () => {
    const run = spawnSync("python3", ["-c", numpyTinyBert], { encoding: "utf8" })
    expect(run.status, `python3 with numpy: ${run.stderr}`).toBe(0)
    expect(run.stdout).toContain("logit 0.7319572208494624")
  })
})

const tiny = bertPresets.tiny

layer(Gpu.layer)("the BERT encoder on the GPU", (it) => {
  it.effect("matches the CPU reference on a padded batch of lengths 1, 7 and 33, and padding changes nothing", () =>
    Effect.gen(function*() {
      const gpu = yield* Gpu
      const weights = randomWeights(tiny, full, 3)
      const batch = [ids(1, tiny.vocabSize, 1), ids(7, tiny.vocabSize, 2), ids(33, tiny.vocabSize, 3)]
      const want = bertReference(tiny, weights, batch)
      const model = yield* makeBertGpu(gpu, tiny, weights, { maxBatch: 3, maxSeq: 64 })
      const got = yield* model.forward(batch)
      expectClose("[CLS] states", got.cls, want.cls)
      expectClose("pooled", got.pooled!, want.pooled!)
      expectClose("logits", got.logits!, want.logits!)
      // Each sequence alone, padded to exactly its own length: the same numbers as inside the padded batch.
      const alone = yield* makeBertGpu(gpu, tiny, weights, { maxBatch: 1, maxSeq: 64, seqMultiple: 1 })
      for (const [b, seq] of batch.entries()) {
        const one = yield* alone.forward([seq])
        expectClose(`sequence ${b} alone vs batched: [CLS]`, one.cls, got.cls.subarray(b * tiny.hiddenSize, (b + 1) * tiny.hiddenSize), 1e-5)
        expectClose(`sequence ${b} alone vs batched: logit`, one.logits!, got.logits!.subarray(b, b + 1), 1e-5)
      }
    }).pipe(Effect.scoped))

  it.effect("splits the word table and the attention scores across bindings when they exceed one", () =>
    Effect.gen(function*() {
      const gpu = yield* Gpu
      // 400×40 f32 words = 64,000 bytes and 3 sequences' scores = 96,000 bytes, over a 40,000-byte binding limit.
      const config: BertConfig = { ...tiny, vocabSize: 400, numHiddenLayers: 1, numLabels: 3 }
      const weights = randomWeights(config, full, 4)
      const batch = [ids(40, 400, 5), ids(12, 400, 6), ids(29, 400, 7)]
      const want = bertReference(config, weights, batch)
      const model = yield* makeBertGpu(gpu, config, weights, { maxBatch: 3, maxSeq: 40, seqMultiple: 1, maxBindingBytes: 40_000 })
      const got = yield* model.forward(batch)
      expectClose("[CLS] states", got.cls, want.cls)
      expectClose("logits (3 labels)", got.logits!, want.logits!)
    }).pipe(Effect.scoped))

  it.effect("returns only the [CLS] states for a bare encoder, and refuses batches it cannot take", () =>
    Effect.gen(function*() {
      const gpu = yield* Gpu
      const weights = randomWeights(tiny, { pooler: false, classifier: false }, 5)
      const model = yield* makeBertGpu(gpu, tiny, weights, { maxBatch: 2, maxSeq: 16 })
      const got = yield* model.forward([ids(5, tiny.vocabSize, 8)])
      expect(got.pooled).toBeUndefined()
      expectClose("[CLS] state", got.cls, bertReference(tiny, weights, [ids(5, tiny.vocabSize, 8)]).cls)
      for (const [batch, why] of [
        [[], /1\.\.2/],
        [[[1], [2], [3]], /1\.\.2/],
        [[[]], /0 tokens/],
        [[ids(17, tiny.vocabSize, 1)], /17 tokens; 1\.\.16/],
        [[[1, 97]], /token id 97/]
      ] as const) {
        const error = yield* Effect.flip(model.forward(batch))
        expect(error._tag).toBe("BertInputError")
        expect(error.message).toMatch(why)
      }
    }).pipe(Effect.scoped))
})

describe("BERT checkpoints", () => {
  it.effect("saves a BertForSequenceClassification folder and loads it back", () =>
    Effect.gen(function*() {
      const dir = join(tempDir(), "classifier")
      const weights = randomWeights(tiny, full, 6)
      yield* saveBertClassifier(dir, tiny, weights, { extraFiles: new Map([["tokenizer.json", "{}"]]) })
      const json = JSON.parse(readFileSync(join(dir, "config.json"), "utf8")) as Record<string, unknown>
      expect(json["architectures"]).toEqual(["BertForSequenceClassification"])
      expect(json["problem_type"]).toBe("regression")
      expect(json["id2label"]).toEqual({ "0": "LABEL_0" })
      const loaded = yield* loadBertModel(dir)
      expect(loaded.config).toEqual(yield* bertConfigFromHf(bertConfigToHf(tiny)))
      expect(loaded.parts).toEqual(full)
      expect([...loaded.weights.keys()]).toEqual([...weights.keys()])
      for (const [name, data] of weights) expect(loaded.weights.get(name), name).toEqual(data)
    }).pipe(Effect.provide(NodeServices.layer)))

  it.effect("reads a BertModel folder: no prefix, old gamma/beta names, MLM head and position_ids skipped", () =>
    Effect.gen(function*() {
      const dir = tempDir()
      const weights = randomWeights(tiny, { pooler: true, classifier: false }, 7)
      const tensors = bertParameterSpecs(tiny, { pooler: true, classifier: false }).map((s) => ({
        name: s.name.replace(/LayerNorm\.weight$/, "LayerNorm.gamma").replace(/LayerNorm\.bias$/, "LayerNorm.beta"),
        shape: s.shape,
        data: weights.get(s.name)!
      }))
      tensors.push({ name: "cls.predictions.bias", shape: [tiny.vocabSize], data: new Float32Array(tiny.vocabSize) })
      // transformers before 4.31 saved this buffer (as int64; F32 here, since safetensors.ts reads float tensors only).
      tensors.push({ name: "embeddings.position_ids", shape: [1, 4], data: Float32Array.of(0, 1, 2, 3) })
      writeFileSync(join(dir, "model.safetensors"), encodeSafetensors(tensors, "F32"))
      writeFileSync(join(dir, "config.json"), JSON.stringify({ ...bertConfigToHf(tiny), architectures: ["BertModel"] }))
      const loaded = yield* loadBertModel(dir)
      expect(loaded.parts).toEqual({ pooler: true, classifier: false })
      for (const [name, data] of weights) expect(loaded.weights.get(name), name).toEqual(data)
    }).pipe(Effect.provide(NodeServices.layer)))

  it.effect("names a missing tensor, a wrong shape and an unknown tensor", () =>
    Effect.gen(function*() {
      const weights = randomWeights(tiny, full, 8)
      const write = (edit: (files: Map<string, Uint8Array | string>, tensors: Array<{ name: string; shape: ReadonlyArray<number>; data: Float32Array }>) => void) => {
        const dir = tempDir()
        const files = bertClassifierFiles(tiny, weights)
        const tensors = bertParameterSpecs(tiny, full).map((s) => ({ name: s.name.startsWith("classifier") ? s.name : `bert.${s.name}`, shape: s.shape, data: weights.get(s.name)! }))
        edit(files, tensors)
        files.set("model.safetensors", encodeSafetensors(tensors, "F32"))
        mkdirSync(dir, { recursive: true })
        for (const [name, content] of files) writeFileSync(join(dir, name), content)
        return dir
      }
      const missing = yield* Effect.flip(loadBertModel(write((_, t) => t.splice(t.findIndex((x) => x.name.includes("layer.1.output.dense.bias")), 1))))
      expect(missing._tag).toBe("BertWeightsError")
      expect(missing.message).toMatch(/"encoder\.layer\.1\.output\.dense\.bias" is missing/)
      const shape = yield* Effect.flip(loadBertModel(write((_, t) => {
        t[0] = { name: t[0]!.name, shape: [tiny.hiddenSize, tiny.vocabSize], data: t[0]!.data }
      })))
      expect(shape.message).toMatch(/"bert\.embeddings\.word_embeddings\.weight" has shape \[40,97\], expected \[97,40\]/)
      const unknown = yield* Effect.flip(loadBertModel(write((_, t) => t.push({ name: "bert.encoder.layer.0.attention.self.distance_embedding.weight", shape: [1], data: Float32Array.of(0) }))))
      expect(unknown.message).toMatch(/unexpected tensor "bert\.encoder\.layer\.0\.attention\.self\.distance_embedding\.weight"/)
      const config = yield* Effect.flip(loadBertModel(write((files) => files.set("config.json", JSON.stringify({ ...bertConfigToHf(tiny), hidden_act: "gelu_pytorch_tanh" })))))
      expect(config._tag).toBe("BertConfigError")
    }).pipe(Effect.provide(NodeServices.layer)))

  it("initialises weights as transformers does: biases 0, LayerNorm gains 1, the padding row 0", () => {
    const w = initBertWeights(tiny, full, 1)
    expect(w.get("classifier.bias")).toEqual(new Float32Array(1))
    expect(w.get("encoder.layer.0.output.LayerNorm.weight")).toEqual(new Float32Array(40).fill(1))
    expect(w.get("embeddings.word_embeddings.weight")!.subarray(0, 40)).toEqual(new Float32Array(40)) // pad row 0
    expect(bertClassifierFiles(tiny, w).has("model.safetensors")).toBe(true)
  })
})
