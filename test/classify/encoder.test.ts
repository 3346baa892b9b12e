/**
 * The paper's classifier end to end on a tiny random BERT (hidden 32, 2 layers) with a WordPiece tokenizer built
 * here: the frozen encoder's [CLS] states are computed once and cached (forwards counted on the device), the pooler
 * and the regression head learn a planted signal, the head's gradients match finite differences, and the saved
 * folder is a BertForSequenceClassification folder that loads back to the same scores.
 */
import { NodeServices } from "@effect/platform-node"
import { describe, expect, it, layer } from "@effect/vitest"
import { Effect, Exit } from "effect"
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { ClassifierLoadError, loadQualityClassifier } from "../../src/classify/classifier-folder.ts"
import type { EncoderClassifier } from "../../src/classify/encoder/EncoderClassifier.ts"
import { copyHead, gradientTensors, headForward, headLossAndGradients, headTensors, initHead } from "../../src/classify/encoder/head.ts"
import { trainEncoderClassifier, type LabelledText } from "../../src/classify/encoder/train-encoder.ts"
import { trainHead } from "../../src/classify/encoder/train-head.ts"
import { evaluateScores } from "../../src/classify/metrics.ts"
import { stratifiedSplit } from "../../src/classify/split.ts"
import { defaultRng } from "../../src/data/random/numpy-rng.ts"
import { Gpu, type GpuShape } from "../../src/gpu/Gpu.ts"
import { adamwCpu } from "../../src/gpu/kernels/adamw.cpu.ts"
import { type BertConfig, bertConfigFromHf, bertConfigToHf, bertPresets } from "../../src/model/bert-config.ts"
import { bertParameterSpecs } from "../../src/model/bert-parameters.ts"
import { elementCount } from "../../src/model/parameters.ts"
import { encodeSafetensors, parseSafetensors } from "../../src/model/safetensors.ts"
import { expectClose, randomArray, rng } from "../support/compare.ts"

const specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
const signalWords = Array.from({ length: 6 }, (_, i) => `lesson${i}`)
const noiseWords = Array.from({ length: 20 }, (_, i) => `noise${i}`)
const vocabList = [...specials, ...signalWords, ...noiseWords, "."]
const vocab = Object.fromEntries(vocabList.map((t, i) => [t, i]))

/** tokenizer.json as HF writes bert-base-uncased's (see test/data/tokenizer/wordpiece.test.ts). */
const tokenizerJson = {
  version: "1.0",
  truncation: null,
  padding: null,
  added_tokens: specials.map((content) => ({ id: vocab[content], content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true })),
  normalizer: { type: "BertNormalizer", clean_text: true, handle_chinese_chars: true, strip_accents: null, lowercase: true },
  pre_tokenizer: { type: "BertPreTokenizer" },
  post_processor: {
    type: "TemplateProcessing",
    single: [{ SpecialToken: { id: "[CLS]", type_id: 0 } }, { Sequence: { id: "A", type_id: 0 } }, { SpecialToken: { id: "[SEP]", type_id: 0 } }],
    pair: [
      { SpecialToken: { id: "[CLS]", type_id: 0 } }, { Sequence: { id: "A", type_id: 0 } }, { SpecialToken: { id: "[SEP]", type_id: 0 } },
      { Sequence: { id: "B", type_id: 1 } }, { SpecialToken: { id: "[SEP]", type_id: 1 } }
    ],
    special_tokens: {
      "[CLS]": { id: "[CLS]", ids: [vocab["[CLS]"]], tokens: ["[CLS]"] },
      "[SEP]": { id: "[SEP]", ids: [vocab["[SEP]"]], tokens: ["[SEP]"] }
    }
  },
  decoder: { type: "WordPiece", prefix: "##", cleanup: true },
  model: { type: "WordPiece", unk_token: "[UNK]", continuing_subword_prefix: "##", max_input_chars_per_word: 100, vocab }
}

const tiny: BertConfig = {
  ...bertPresets.tiny,
  vocabSize: vocabList.length,
  hiddenSize: 32,
  numAttentionHeads: 4,
  intermediateSize: 64,
  numHiddenLayers: 2,
  maxPositionEmbeddings: 64
}

/** A base encoder folder as arctic-embed-m ships (BertModel names, a pooler, no head), with random weights. */
const writeBaseFolder = (dir: string) => {
  const next = rng(5)
  const tensors = bertParameterSpecs(tiny, { pooler: true, classifier: false }).map((s) => {
    const n = elementCount(s.shape)
    const data = s.name.endsWith("LayerNorm.weight") ? randomArray(next, n, 0.8, 1.2) : randomArray(next, n, -0.2, 0.2)
    return { name: s.name, shape: s.shape, data }
  })
  mkdirSync(dir, { recursive: true })
  writeFileSync(join(dir, "model.safetensors"), encodeSafetensors(tensors, "F32"))
  writeFileSync(join(dir, "config.json"), JSON.stringify({ ...bertConfigToHf(tiny), architectures: ["BertModel"] }))
  writeFileSync(join(dir, "tokenizer.json"), JSON.stringify(tokenizerJson))
}

/** Positive documents (label 4) carry lesson words in about 60% of their places; negatives (label 1) none. */
const plantedCorpus = (n: number, seed: number): Array<LabelledText> => {
  const random = defaultRng(seed)
  return Array.from({ length: n }, () => {
    const positive = random.random() < 0.5
    const length = 6 + random.integers(0, 15)
    const words: Array<string> = []
    for (let i = 0; i < length; i++) {
      words.push(positive && random.random() < 0.6 ? signalWords[random.integers(0, signalWords.length)]! : noiseWords[random.integers(0, noiseWords.length)]!)
    }
    return { text: words.join(" ") + " .", label: positive ? 4 : 1 }
  })
}

/** The device with its forwards counted: each encoder forward is one `run` (one command buffer). */
const counting = (gpu: GpuShape) => {
  const counter = { runs: 0 }
  const device: GpuShape = { ...gpu, run: (steps) => Effect.suspend(() => (counter.runs++, gpu.run(steps))) }
  return { counter, device }
}

layer(Gpu.layer, { timeout: 120_000 })("the encoder classifier", (it) => {
  const root = mkdtempSync(join(tmpdir(), "smol-encoder-cls-"))
  const base = join(root, "base")
  writeBaseFolder(base)
  const corpus = plantedCorpus(640, 3)
  const { train, test } = stratifiedSplit(corpus, (d) => d.label, { testFraction: 0.25, seed: 42 })
  const settings = { base, cacheDir: join(root, "cache"), seed: 42, epochs: 20, batchSize: 32, learningRate: 3e-2, chunkDocuments: 128 }

  it.effect("learns a planted signal to binary F1 ≥ 0.9 on held-out documents, running the encoder once across epochs and reruns", () =>
    Effect.gen(function*() {
      const { counter, device } = counting(yield* Gpu)
      const first = yield* trainEncoderClassifier(train, test, { ...settings, device: Effect.succeed(device) })
      const batches = counter.runs
      expect(first.encoded).toBe(train.length + test.length)
      // 20 epochs and an evaluation per epoch, yet no more forwards than one pass over the documents in batches.
      expect(batches).toBeGreaterThan(0)
      expect(batches).toBeLessThanOrEqual(Math.ceil((train.length + test.length) / 4) + 4)
      expect(readdirSync(first.cache).filter((f) => f.endsWith(".f32")).length).toBe(Math.ceil((train.length + test.length) / 128))

      const heldOut = evaluateScores(test.map((d) => d.label), first.validationScores)
      expect(heldOut.binary.f1, `held-out binary F1, best epoch ${first.training.bestEpoch}`).toBeGreaterThanOrEqual(0.9)
      expect(first.training.history).toHaveLength(21)
      expect(first.training.bestEpoch).toBeGreaterThan(0)
      expect(first.training.history[first.training.bestEpoch]!.validationMacroF1).toBe(Math.max(...first.training.history.slice(1).map((h) => h.validationMacroF1)))

      // The classifier scores on the Gpu (encoder + pooler + head) what the CPU head gave from the cached states.
      const scored = yield* first.classifier.predict(test.map((d) => d.text))
      expectClose("Gpu scores vs CPU head on cached states", scored, first.validationScores, 1e-4)
      yield* first.classifier.close

      // A rerun (another seed, fewer epochs) reads every state from the cache: not one forward.
      counter.runs = 0
      const again = yield* trainEncoderClassifier(train, test, { ...settings, seed: 7, epochs: 3, device: Effect.succeed(device) })
      expect(again.encoded).toBe(0)
      expect(counter.runs).toBe(0)
      expect(again.training.history).toHaveLength(4)
      // A killed run loses only unfinished chunks: with one chunk gone, only its documents are encoded again.
      const chunks = readdirSync(first.cache).filter((f) => f.endsWith(".f32")).sort()
      const lost = join(first.cache, chunks[1]!)
      writeFileSync(lost, "")
      const resumed = yield* trainEncoderClassifier(train, test, { ...settings, epochs: 1, device: Effect.succeed(device) })
      expect(resumed.encoded).toBe(128)
      expect(readFileSync(lost).byteLength).toBe(128 * tiny.hiddenSize * 4)
    }).pipe(Effect.provide(NodeServices.layer)))

  it.effect("saves a BertForSequenceClassification folder with its tokenizer that loads back to identical scores", () =>
    Effect.gen(function*() {
      const trained = yield* trainEncoderClassifier(train, test, { ...settings, epochs: 2, maxLength: 24, device: Effect.succeed(yield* Gpu) })
      const dir = join(root, "classifier")
      yield* trained.classifier.save(dir, { training: { note: "test" } })
      const config = JSON.parse(readFileSync(join(dir, "config.json"), "utf8")) as Record<string, unknown>
      expect(config).toMatchObject({
        architectures: ["BertForSequenceClassification"],
        model_type: "bert",
        hidden_size: 32,
        num_hidden_layers: 2,
        problem_type: "regression",
        id2label: { "0": "LABEL_0" },
        label2id: { LABEL_0: 0 },
        classifier_dropout: 0,
        training: { note: "test" }
      })
      const parsed = yield* bertConfigFromHf(config)
      expect(parsed.numLabels).toBe(1)
      const { tensors } = parseSafetensors(readFileSync(join(dir, "model.safetensors")), "model.safetensors")
      expect(tensors.get("classifier.weight")!.shape).toEqual([1, 32])
      expect(tensors.get("bert.pooler.dense.weight")!.shape).toEqual([32, 32])
      // The encoder is copied unchanged; the pooler trained away from the base's.
      const baseTensors = parseSafetensors(readFileSync(join(base, "model.safetensors")), "base").tensors
      expect(tensors.get("bert.encoder.layer.1.output.dense.weight")!.data).toEqual(baseTensors.get("encoder.layer.1.output.dense.weight")!.data)
      expect(tensors.get("bert.pooler.dense.weight")!.data).not.toEqual(baseTensors.get("pooler.dense.weight")!.data)
      expect(readFileSync(join(dir, "tokenizer.json"), "utf8")).toBe(JSON.stringify(tokenizerJson))
      expect(JSON.parse(readFileSync(join(dir, "tokenizer_config.json"), "utf8"))).toMatchObject({ model_max_length: 24, do_lower_case: true, tokenizer_class: "BertTokenizer" })

      const loaded = (yield* loadQualityClassifier(dir)) as EncoderClassifier
      expect(loaded.kind).toBe("encoder")
      expect(loaded.model.maxLength).toBe(24)
      const texts = [...test.slice(0, 30).map((d) => d.text), "", "lesson1 " + "noise3 ".repeat(80)]
      const before = yield* trained.classifier.predict(texts)
      const after = yield* loaded.predict(texts)
      expect(Array.from(after)).toEqual(Array.from(before))
      yield* loaded.close
      yield* trained.classifier.close
    }).pipe(Effect.provide(NodeServices.layer)))
})

describe("encoder classifier folders", () => {
  it.effect("refuses an encoder it cannot run as unavailable, and a base encoder without a head as not a classifier", () =>
    Effect.gen(function*() {
      const root = mkdtempSync(join(tmpdir(), "smol-encoder-folder-"))
      const base = join(root, "base")
      writeBaseFolder(base)
      const headless = yield* Effect.flip(loadQualityClassifier(base))
      expect(headless).toBeInstanceOf(ClassifierLoadError)
      expect(headless.message).toContain("without a classifier head")
      const roberta = join(root, "roberta")
      mkdirSync(roberta)
      writeFileSync(join(roberta, "config.json"), JSON.stringify({ ...bertConfigToHf(tiny), model_type: "roberta" }))
      const exit = yield* Effect.exit(loadQualityClassifier(roberta))
      expect(Exit.isFailure(exit) && String(exit.cause)).toContain("ClassifierUnavailableError")
      expect(existsSync(join(root, "cache"))).toBe(false)
    }).pipe(Effect.provide(NodeServices.layer)))
})

describe("the trainable head (pooler + regression head)", () => {
  const H = 5
  const next = rng(11)
  const states = randomArray(next, 7 * H, -2, 2)
  const rows = [0, 3, 6, 2]
  const targets = [0, 5, 2.5, 4]
  const head = initHead(H, 0.5, 3)

  it("has gradients equal to central finite differences of the MSE loss", () => {
    const g = headLossAndGradients(head, states, H, rows, targets)
    const loss = (w: typeof head) => headLossAndGradients(w, states, H, rows, targets).loss
    const grads = gradientTensors(g)
    headTensors(head).forEach(([name, tensor], k) => {
      const numeric = new Float64Array(tensor.length)
      for (let i = 0; i < tensor.length; i++) {
        const w = copyHead(head)
        const t = headTensors(w)[k]![1]
        const x = tensor[i]!
        t[i] = x + 1e-2
        const up = loss(w)
        const hi = t[i]!
        t[i] = x - 1e-2
        const down = loss(w)
        numeric[i] = (up - down) / (hi - t[i]!)
      }
      expectClose(`d loss / d ${name}`, grads[k]!, numeric, 1e-3)
    })
    // The loss is the mean squared error of the forward's scores.
    const scores = headForward(head, states, H, rows)
    expect(g.loss).toBeCloseTo(scores.reduce((s, y, b) => s + (y - targets[b]!) ** 2, 0) / rows.length, 12)
  })

  it("takes AdamW steps with a linearly decaying learning rate and clipped gradients, keeping the best epoch", () => {
    const labels = [0, 5, 2, 4, 1, 3, 5]
    const data = { states, labels }
    // Without validation documents the last epoch is kept.
    const none = { states: new Float32Array(0), labels: [] }
    const one = trainHead(data, none, H, head, { seed: 1, epochs: 1, batchSize: 7, learningRate: 0.1, maxGradNorm: 0.5 })
    expect(one.bestEpoch).toBe(1)
    // One full batch, one step at the full rate: AdamW from zero moments, the gradient scaled to norm 0.5.
    const g = headLossAndGradients(head, states, H, Array.from({ length: 7 }, (_, i) => i), labels)
    const norm = Math.sqrt(gradientTensors(g).reduce((s, t) => s + t.reduce((a, x) => a + x * x, 0), 0))
    const settings = { beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0 }
    headTensors(head).forEach(([name, tensor], k) => {
      const grad = Float32Array.from(gradientTensors(g)[k]!)
      const expected = adamwCpu(settings, tensor, grad, new Float32Array(tensor.length), new Float32Array(tensor.length), 0.1, 1, Math.min(1, 0.5 / (norm + 1e-6)))
      expectClose(name, headTensors(one.head)[k]![1], expected.p, 1e-6)
    })
    const many = trainHead(data, data, H, head, { seed: 1, epochs: 30, batchSize: 2, learningRate: 0.05 })
    expect(many.history.at(-1)!.loss).toBeLessThan(many.history[1]!.loss)
    expect(many.history.length).toBe(31)
  })
})
