/**
 * Throughput of the quality classifiers: the BERT encoder's forward (what scoring a corpus, and the training cache
 * pass, cost) on the current Gpu adapter, and the n-gram classifier on the CPU.
 *
 *   npx tsx bench/classify.ts [--layers 2 | --full] [--seq 512] [--batch 4] [--batches 3] [--reference-seq 128]
 *
 * The encoder is BERT-base wide (hidden 768, 12 heads, intermediate 3072, vocabulary 30,522: arctic-embed-m's
 * shape) with random weights, the pooler and a one-label head; by default only 2 layers deep so that a software
 * adapter (llvmpipe) finishes in seconds — `--full` runs all 12. Each forward is a batch of `--batch` sequences of
 * `--seq` tokens; tokens/s and documents/s are over `--batches` forwards after one warm-up.
 *
 * Reference, in the same run: PyTorch's CPU forward of the same shape (`BertModel`, eval, no_grad, all cores)
 * when the Python of `--python` (default `$SMOL_PYTHON` or python3) has torch; otherwise our own f64 CPU reference forward (src/model/bert.cpu.ts,
 * one sequence of `--reference-seq` tokens, single-threaded), named as such in `reference_name` — it is the
 * correctness reference, not a fast CPU implementation. Its [CLS] state is compared with the Gpu's.
 */
import { Effect } from "effect"
import { spawnSync } from "node:child_process"
import { parseArgs } from "node:util"
import { NgramClassifier, type NgramConfig, outputsOf } from "../src/classify/ngram/NgramClassifier.ts"
import { gpuOptionsConfig, makeGpu } from "../src/gpu/Gpu.ts"
import { bertPresets } from "../src/model/bert-config.ts"
import { initBertWeights } from "../src/model/bert-parameters.ts"
import { bertReference } from "../src/model/bert.cpu.ts"
import { makeBertGpu } from "../src/model/bert.gpu.ts"
import { generatedEnglish } from "./corpus.ts"
import { bestSecondsPerCall } from "./timing.ts"

const { values } = parseArgs({
  options: {
    layers: { type: "string", default: "2" },
    full: { type: "boolean", default: false },
    seq: { type: "string", default: "512" },
    batch: { type: "string", default: "4" },
    batches: { type: "string", default: "3" },
    "reference-seq": { type: "string", default: "128" },
    // A Python with torch (e.g. Debian's python3-torch lives in /usr/bin/python3, not in a pyenv one).
    python: { type: "string", default: process.env["SMOL_PYTHON"] ?? "python3" }
  }
})
const python = values.python
const layers = values.full ? 12 : Number(values.layers)
const seq = Number(values.seq)
const batch = Number(values.batch)
const batches = Number(values.batches)
const referenceSeq = Math.min(seq, Number(values["reference-seq"]))
const config = { ...bertPresets["bert-base"], numHiddenLayers: layers }
const weights = initBertWeights(config, { pooler: true, classifier: true }, 1)
const idsOf = (length: number, salt: number) => Array.from({ length }, (_, i) => 1000 + ((i * 7919 + salt * 104729) % 28000))

const torchPlain = `
import json, math, sys, time, torch
layers, seq, batch, batches = map(int, sys.argv[1:5])
torch.manual_seed(0)
C, H, F = 768, 12, 3072
class Layer(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.qkv = torch.nn.Linear(C, 3 * C); self.o = torch.nn.Linear(C, C); self.ln1 = torch.nn.LayerNorm(C, eps=1e-12)
        self.f1 = torch.nn.Linear(C, F); self.f2 = torch.nn.Linear(F, C); self.ln2 = torch.nn.LayerNorm(C, eps=1e-12)
    def forward(self, x):
        B, T, _ = x.shape
        q, k, v = self.qkv(x).view(B, T, 3, H, C // H).permute(2, 0, 3, 1, 4)
        a = (torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(C // H), -1) @ v).transpose(1, 2).reshape(B, T, C)
        x = self.ln1(x + self.o(a))
        return self.ln2(x + self.f2(torch.nn.functional.gelu(self.f1(x))))
try:
    from transformers import BertConfig, BertModel
    model = BertModel(BertConfig(num_hidden_layers=layers, attn_implementation="eager")).eval()
    name = "transformers BertModel"
    run = lambda ids: model(input_ids=ids).pooler_output
except Exception:
    emb = torch.nn.Embedding(30522, C); blocks = torch.nn.Sequential(*[Layer() for _ in range(layers)]).eval()
    name = "a plain torch BERT stack (transformers missing)"
    run = lambda ids: blocks(emb(ids))
ids = torch.randint(1000, 29000, (batch, seq))
with torch.no_grad():
    run(ids)
    t = time.perf_counter()
    for _ in range(batches): run(ids)
    s = (time.perf_counter() - t) / batches
print(json.dumps({"tokens_per_s": batch * seq / s, "name": name, "threads": torch.get_num_threads(), "version": torch.__version__}))
`
const hasTorch = spawnSync(python, ["-c", "import torch"], { encoding: "utf8" }).status === 0

const encoderBench = Effect.scoped(Effect.gen(function*() {
  const gpu = yield* makeGpu(yield* gpuOptionsConfig)
  const bert = yield* makeBertGpu(gpu, config, weights, { maxBatch: batch, maxSeq: seq })
  const sequences = Array.from({ length: batch }, (_, b) => idsOf(seq, b))
  yield* bert.forward(sequences)
  const t0 = performance.now()
  for (let i = 0; i < batches; i++) yield* bert.forward(sequences)
  const seconds = (performance.now() - t0) / 1000 / batches
  const one = yield* bert.forward([idsOf(referenceSeq, 0)])
  return { adapter: `${gpu.adapter.backend} ${gpu.adapter.kind} ${gpu.adapter.device || gpu.adapter.description}`, seconds, cls: one.cls }
}))

const encoder = await Effect.runPromise(encoderBench)
const oursTokens = (batch * seq) / encoder.seconds
console.log(`encoder (BERT-base width, ${layers} layers, ${batch} × ${seq} tokens) on ${encoder.adapter}: ` +
  `${oursTokens.toFixed(0)} tokens/s, ${(batch / encoder.seconds).toFixed(2)} documents/s of ${seq} tokens`)

let reference: { tokensPerS: number; name: string }
if (hasTorch) {
  const r = spawnSync(python, ["-c", torchPlain, String(layers), String(seq), String(batch), String(batches)], { encoding: "utf8", maxBuffer: 1 << 24 })
  if (r.status !== 0) throw new Error(`the PyTorch reference failed: ${r.stderr.slice(-2000)}`)
  const out = JSON.parse(r.stdout.trim().split("\n").pop()!) as { tokens_per_s: number; name: string; threads: number; version: string }
  reference = { tokensPerS: out.tokens_per_s, name: `PyTorch ${out.version} CPU forward (${out.name}, f32, ${out.threads} threads, same shape and batch), measured in this run` }
} else {
  const t0 = performance.now()
  const ref = bertReference(config, weights, [idsOf(referenceSeq, 0)])
  const seconds = (performance.now() - t0) / 1000
  let worst = 0
  let scale = 0
  for (let i = 0; i < ref.cls.length; i++) {
    worst = Math.max(worst, Math.abs(ref.cls[i]! - encoder.cls[i]!))
    scale = Math.max(scale, Math.abs(ref.cls[i]!))
  }
  console.log(`f64 CPU reference: ${(referenceSeq / seconds).toFixed(0)} tokens/s (1 sequence of ${referenceSeq}); [CLS] max relative error of the Gpu ${(worst / scale).toExponential(2)}`)
  reference = {
    tokensPerS: referenceSeq / seconds,
    name: `our f64 CPU reference forward (src/model/bert.cpu.ts, single-threaded, 1 sequence of ${referenceSeq} tokens; ` +
      "PyTorch is not installed here), measured in this run — a correctness reference, not a tuned CPU implementation"
  }
}

// The n-gram classifier at its default shape (2^20 buckets × 16, unigrams + bigrams) on 2 KB documents.
const ngramConfig: NgramConfig = { mode: "regression", buckets: 1 << 20, dim: 16, wordNgrams: 2 }
let seed = 12345
const rnd = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31 - 0.5)
const ngram = new NgramClassifier(ngramConfig, {
  embedding: Float32Array.from({ length: ngramConfig.buckets * ngramConfig.dim }, () => rnd() / 8),
  outputWeight: Float32Array.from({ length: outputsOf("regression") * ngramConfig.dim }, rnd),
  outputBias: Float32Array.of(2.5)
})
const pieces = generatedEnglish(3000)
const docs = Array.from({ length: 1000 }, (_, i) => {
  let text = ""
  for (let at = i; text.length < 2048; at += 7) text += pieces[at % pieces.length] + "\n"
  return text.slice(0, 2048)
})
const ngramDocs = docs.length / (await bestSecondsPerCall(async () => void ngram.predict(docs), 1.5))
console.log(`n-gram classifier: ${ngramDocs.toFixed(0)} documents/s on one core (2 KB documents)`)

console.log(JSON.stringify({
  metric: "encoder_forward_throughput",
  unit: `tokens/s (BERT-base width, ${layers} layers, batch ${batch} × seq ${seq}, f32, ${encoder.adapter})`,
  ours: +oursTokens.toFixed(0),
  reference: +reference.tokensPerS.toFixed(0),
  reference_name: reference.name,
  ratio: +(oursTokens / reference.tokensPerS).toFixed(2),
  ours_documents_per_s: +(batch / encoder.seconds).toFixed(3),
  layers,
  ngram_documents_per_s: +ngramDocs.toFixed(0)
}))
