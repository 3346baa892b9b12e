import { NodeServices } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer, Stream } from "effect"
import { writeTokenShards } from "../../src/data/shards/writer.ts"
import { spawn } from "node:child_process"
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Gpu } from "../../src/gpu/Gpu.ts"
import { adamwCpu } from "../../src/gpu/kernels/adamw.cpu.ts"
import { loadHfModel, saveHfModel } from "../../src/model/checkpoint.ts"
import { presets } from "../../src/model/config.ts"
import { llamaReference } from "../../src/model/llama.cpu.ts"
import { initWeights, parameterSpecs } from "../../src/model/parameters.ts"
import { smollm2AdamW } from "../../src/train/optimizer.ts"
import { learningRate, type ScheduleOptions } from "../../src/train/schedule.ts"
import { type TrainOptions, train } from "../../src/train/trainer.ts"
import { trainBpe, WordCounter } from "../../src/data/tokenizer/train.ts"
import { expectClose } from "../support/compare.ts"
import { microConfig, tokenIds } from "../support/models.ts"

const services = Layer.mergeAll(Gpu.layer, NodeServices.layer)
const temp = () => mkdtempSync(join(tmpdir(), "smol-train-"))

const writeIds = (path: string, lines: number, seqLen: number, vocab: number, seed: number) =>
  writeFileSync(path, Array.from({ length: lines }, (_, i) => JSON.stringify({ ids: tokenIds(seqLen + 1, vocab, seed + i) }) + "\n").join(""))

const runTrain = (o: TrainOptions) => Stream.runCollect(train(o))

/** A small tokenizer.json with SmolLM2's first special tokens (id 0 is <|endoftext|>, the tiny preset's BOS/EOS). */
const writeTokenizer = (path: string, vocabSize = 400) => {
  const counter = new WordCounter()
  for (let i = 0; i < 40; i++) counter.add(`The cat sat on the mat, ${i} times. Hello world, said the program.`)
  writeFileSync(path, JSON.stringify(trainBpe(counter, { vocabSize, specialTokens: ["<|endoftext|>", "<|im_start|>", "<|im_end|>"] }), null, 2))
}
const tokenizerFileNames = ["special_tokens_map.json", "tokenizer.json", "tokenizer_config.json"]

describe("the training loop", () => {
  for (const maxBindingBytes of [undefined, 1024]) it.effect(`3 AdamW steps with accumulation and clipping match an independent f64 implementation${maxBindingBytes === undefined ? "" : " (tensors split across 1 KiB bindings)"}`, () =>
    Effect.gen(function*() {
      const dir = temp()
      const config = microConfig(true)
      const [batch, seq, accum] = [2, 5, 2]
      writeIds(join(dir, "ids.jsonl"), 12, seq, config.vocabSize, 1)
      const schedule: ScheduleOptions = { kind: "wsd", peak: 2e-2, warmup: 2, totalSteps: 3, decayFraction: 0 }
      const optimizer = { ...smollm2AdamW, clip: 0.5 }
      const metrics = yield* runTrain({
        out: join(dir, "run"), init: { _tag: "Config", config, seed: 4 }, data: { _tag: "IdsJsonl", path: join(dir, "ids.jsonl") },
        seqLen: seq, batchSize: batch, gradAccum: accum, steps: 3, schedule, optimizer,
        saveEvery: 0, saveDtype: "float32", resume: false, ...(maxBindingBytes === undefined ? {} : { maxBindingBytes })
      })
      expect(metrics.map((m) => m.step)).toEqual([1, 2, 3])

      // The same three steps, written out plainly: mean gradient over the step's tokens, global-norm clip,
      // torch-style AdamW with decay on matrices only.
      const specs = parameterSpecs(config)
      let weights = new Map(initWeights(config, 4))
      const m = new Map(specs.map((s) => [s.name, new Float32Array(weights.get(s.name)!.length)]))
      const v = new Map(specs.map((s) => [s.name, new Float32Array(weights.get(s.name)!.length)]))
      const lines = readFileSync(join(dir, "ids.jsonl"), "utf8").trim().split("\n").map((l) => (JSON.parse(l) as { ids: Array<number> }).ids)
      for (let step = 0; step < 3; step++) {
        const grads = new Map(specs.map((s) => [s.name, new Float64Array(weights.get(s.name)!.length)]))
        let lossSum = 0
        for (let a = 0; a < accum; a++) {
          const rows = lines.slice((step * accum + a) * batch, (step * accum + a + 1) * batch)
          const inputs = rows.flatMap((r) => r.slice(0, seq))
          const targets = rows.flatMap((r) => r.slice(1))
          const ref = llamaReference(config, weights, inputs, targets, batch, seq)
          lossSum += ref.loss / accum
          for (const s of specs) grads.get(s.name)!.forEach((_, i, g) => { g[i]! += ref.grads!.get(s.name)![i]! / accum })
        }
        expect(metrics[step]!.loss).toBeCloseTo(lossSum, 4)
        const norm = Math.sqrt([...grads.values()].reduce((t, g) => t + g.reduce((u, x) => u + x * x, 0), 0))
        expectClose(`step ${step + 1} gradient norm`, [metrics[step]!.gradNorm], [norm])
        const coefficient = Math.min(1, optimizer.clip / (norm + 1e-6))
        const next = new Map<string, Float32Array>()
        for (const s of specs) {
          const r = adamwCpu(
            { ...optimizer, weightDecay: s.decay ? optimizer.weightDecay : 0 },
            weights.get(s.name)!, Float32Array.from(grads.get(s.name)!), m.get(s.name)!, v.get(s.name)!,
            learningRate(schedule, step), step + 1, coefficient
          )
          next.set(s.name, r.p)
          m.set(s.name, r.m)
          v.set(s.name, r.v)
        }
        weights = next
      }
      const saved = yield* loadHfModel(join(dir, "run", "checkpoints", "step-00000003"))
      for (const s of specs) expectClose(`${s.name} after 3 steps`, saved.weights.get(s.name)!, weights.get(s.name)!)
    }).pipe(Effect.provide(services)))

  it.live("a run killed midway and resumed ends with bitwise the weights of an uninterrupted run", () =>
    Effect.gen(function*() {
      const dir = temp()
      const [seq, steps] = [16, 160]
      writeIds(join(dir, "ids.jsonl"), steps * 2, seq, presets.tiny.vocabSize, 7)
      writeTokenizer(join(dir, "tokenizer.json"))
      const args = (out: string) => [
        "programs/train.ts", "--preset", "tiny", "--data", join(dir, "ids.jsonl"), "--seq-len", String(seq), "--batch-size", "2",
        "--steps", String(steps), "--lr", "3e-3", "--warmup", "10", "--save-every", "8", "--seed", "3", "--out", out,
        "--tokenizer", join(dir, "tokenizer.json")
      ]
      // Node itself with tsx as an import hook: one process, so SIGKILL hits the trainer (the tsx CLI would
      // run it in a child that outlives the kill).
      const node = (extra: ReadonlyArray<string>) => spawn(process.execPath, ["--import", "tsx", ...extra], { stdio: "ignore" })
      // A real process, killed with SIGKILL as soon as its second checkpoint is on disk.
      const killedAt = yield* Effect.promise(() =>
        new Promise<number>((resolve, reject) => {
          const child = node(args(join(dir, "killed")))
          const poll = setInterval(() => {
            const ckpts = join(dir, "killed", "checkpoints")
            const done = existsSync(ckpts) ? readdirSync(ckpts).filter((n) => /^step-\d{8}$/.test(n)).length : 0
            if (done >= 2) {
              clearInterval(poll)
              child.kill("SIGKILL")
            }
          }, 5)
          child.on("exit", (code, signal) => {
            clearInterval(poll)
            if (signal === "SIGKILL") resolve(readdirSync(join(dir, "killed", "checkpoints")).filter((n) => /^step-\d{8}$/.test(n)).length)
            else reject(new Error(`training finished (code ${code}) before it could be killed`))
          })
        })
      )
      expect(killedAt).toBeGreaterThanOrEqual(2)
      const resumed = yield* Effect.promise(() =>
        new Promise<number | null>((resolve) => node([...args(join(dir, "killed")), "--resume"]).on("exit", resolve))
      )
      expect(resumed).toBe(0)
      const whole = yield* Effect.promise(() =>
        new Promise<number | null>((resolve) => node(args(join(dir, "whole"))).on("exit", resolve))
      )
      expect(whole).toBe(0)
      const final = `step-${String(steps).padStart(8, "0")}`
      for (const file of ["model.safetensors", "trainer_state.safetensors", "generation_config.json", ...tokenizerFileNames]) {
        const a = readFileSync(join(dir, "killed", "checkpoints", final, file))
        const b = readFileSync(join(dir, "whole", "checkpoints", final, file))
        expect(a.equals(b), `${file} differs between the resumed and the uninterrupted run`).toBe(true)
      }
      expect(readFileSync(join(dir, "whole", "checkpoints", final, "tokenizer.json")).equals(readFileSync(join(dir, "tokenizer.json")))).toBe(true)
      // Every step's metrics appear exactly once, in order, despite the kill.
      const stepsLogged = readFileSync(join(dir, "killed", "metrics.jsonl"), "utf8").trim().split("\n").map((l) => (JSON.parse(l) as { step: number }).step)
      expect(stepsLogged).toEqual(Array.from({ length: steps }, (_, i) => i + 1))
      // Folders half-written when the kill landed are gone.
      expect(readdirSync(join(dir, "killed", "checkpoints")).every((n) => /^step-\d{8}$/.test(n))).toBe(true)
    }), 180_000)

  it.effect("a non-finite loss stops the run with a clear error and leaves the weights untouched", () =>
    Effect.gen(function*() {
      const dir = temp()
      const config = presets.tiny
      const weights = initWeights(config, 1)
      weights.get("model.layers.0.mlp.up_proj.weight")![5] = NaN
      yield* saveHfModel(join(dir, "init"), { config, weights })
      writeIds(join(dir, "ids.jsonl"), 4, 8, config.vocabSize, 1)
      const error = yield* Effect.flip(runTrain({
        out: join(dir, "run"), init: { _tag: "HfFolder", dir: join(dir, "init") }, data: { _tag: "IdsJsonl", path: join(dir, "ids.jsonl") },
        seqLen: 8, batchSize: 2, gradAccum: 1, steps: 2,
        schedule: { kind: "wsd", peak: 1e-3, warmup: 0, totalSteps: 2, decayFraction: 0 }, optimizer: smollm2AdamW,
        saveEvery: 1, saveDtype: "float32", resume: false
      }))
      expect(error._tag).toBe("TrainingDiverged")
      expect(error.message).toMatch(/non-finite .* at step 1/)
      expect(existsSync(join(dir, "run", "checkpoints", "step-00000001"))).toBe(false)
    }).pipe(Effect.provide(services)))

  it.effect("a malformed data line is an error naming the file and line", () =>
    Effect.gen(function*() {
      const dir = temp()
      const config = presets.tiny
      writeFileSync(join(dir, "ids.jsonl"), `${JSON.stringify({ ids: tokenIds(9, 512, 1) })}\n{"ids": [1, 2]}\n`)
      const error = yield* Effect.flip(runTrain({
        out: join(dir, "run"), init: { _tag: "Config", config, seed: 1 }, data: { _tag: "IdsJsonl", path: join(dir, "ids.jsonl") },
        seqLen: 8, batchSize: 2, gradAccum: 1, steps: 1,
        schedule: { kind: "wsd", peak: 1e-3, warmup: 0, totalSteps: 1, decayFraction: 0 }, optimizer: smollm2AdamW,
        saveEvery: 0, saveDtype: "float32", resume: false
      }))
      expect(error.message).toMatch(/ids\.jsonl:2: 2 ids, expected seq_len \+ 1 = 9/)
    }).pipe(Effect.provide(services)))

  it.effect("trains from a two-source mixture of token shards and resumes it exactly from the sampler's position", () =>
    Effect.gen(function*() {
      const dir = temp()
      const config = presets.tiny
      for (const [name, seed] of [["web", 1], ["code", 2]] as const) {
        const docs = Array.from({ length: 30 }, (_, i) => tokenIds(5 + ((i * 7) % 23), config.vocabSize, seed * 100 + i))
        yield* writeTokenShards(Stream.fromIterable(docs), { outputDir: join(dir, name), tokenizerName: "test", vocabSize: config.vocabSize, eosId: 0 })
      }
      const shards = (name: string) => readdirSync(join(dir, name)).filter((f) => f.endsWith(".ds")).map((f) => join(dir, name, f))
      const options = (out: string, resume: boolean): TrainOptions => ({
        out, init: { _tag: "Config", config, seed: 5 },
        data: { _tag: "Mixture", seed: 7, sources: [{ name: "web", weight: 0.75, shards: shards("web") }, { name: "code", weight: 0.25, shards: shards("code") }] },
        seqLen: 12, batchSize: 2, gradAccum: 2, steps: 6,
        schedule: { kind: "wsd", peak: 3e-3, warmup: 2, totalSteps: 6, decayFraction: 0.5 }, optimizer: smollm2AdamW,
        saveEvery: 3, saveDtype: "bfloat16", resume
      })
      const whole = yield* runTrain(options(join(dir, "whole"), false))
      expect(whole.map((m) => m.step)).toEqual([1, 2, 3, 4, 5, 6])
      // Stop the consumer after step 3 (its checkpoint is written before the step is emitted), then resume.
      yield* Stream.runCollect(Stream.take(train(options(join(dir, "split"), false)), 3))
      const rest = yield* runTrain(options(join(dir, "split"), true))
      expect(rest.map((m) => m.step)).toEqual([4, 5, 6])
      rest.forEach((m, i) => expect(m.loss).toBe(whole[i + 3]!.loss))
      for (const file of ["model.safetensors", "trainer_state.safetensors", "trainer_state.json"]) {
        const a = readFileSync(join(dir, "split", "checkpoints", "step-00000006", file))
        const b = readFileSync(join(dir, "whole", "checkpoints", "step-00000006", file))
        expect(a.equals(b), file).toBe(true)
      }
      const state = JSON.parse(readFileSync(join(dir, "whole", "checkpoints", "step-00000006", "trainer_state.json"), "utf8")) as { data_position: { batches: number } }
      expect(state.data_position.batches).toBe(12)
    }).pipe(Effect.provide(services)))

  it.effect("data that runs out before --steps ends the run with a final checkpoint", () =>
    Effect.gen(function*() {
      const dir = temp()
      const config = presets.tiny
      writeIds(join(dir, "ids.jsonl"), 5, 8, config.vocabSize, 3)
      const metrics = yield* runTrain({
        out: join(dir, "run"), init: { _tag: "Config", config, seed: 1 }, data: { _tag: "IdsJsonl", path: join(dir, "ids.jsonl") },
        seqLen: 8, batchSize: 2, gradAccum: 1, steps: 10,
        schedule: { kind: "wsd", peak: 1e-3, warmup: 0, totalSteps: 10, decayFraction: 0 }, optimizer: smollm2AdamW,
        saveEvery: 0, saveDtype: "float32", resume: false
      })
      expect(metrics.map((m) => m.step)).toEqual([1, 2])
      expect(readdirSync(join(dir, "run", "checkpoints"))).toEqual(["step-00000002"])
    }).pipe(Effect.provide(services)))

  it.effect("every checkpoint holds the tokenizer when given one (a resumed run keeps it); without one only generation_config.json is added", () =>
    Effect.gen(function*() {
      const dir = temp()
      const config = presets.tiny
      writeIds(join(dir, "ids.jsonl"), 8, 8, config.vocabSize, 5)
      writeTokenizer(join(dir, "tokenizer.json"))
      const options = (out: string, steps: number, resume: boolean, tokenizer?: string): TrainOptions => ({
        out, init: { _tag: "Config", config, seed: 1 }, data: { _tag: "IdsJsonl", path: join(dir, "ids.jsonl") },
        seqLen: 8, batchSize: 2, gradAccum: 1, steps,
        schedule: { kind: "wsd", peak: 1e-3, warmup: 0, totalSteps: 3, decayFraction: 0 }, optimizer: smollm2AdamW,
        saveEvery: 1, saveDtype: "float32", resume, ...(tokenizer === undefined ? {} : { tokenizer })
      })
      const source = readFileSync(join(dir, "tokenizer.json"))
      const base = ["config.json", "generation_config.json", "model.safetensors", "trainer_state.json", "trainer_state.safetensors"]
      yield* runTrain(options(join(dir, "with"), 2, false, join(dir, "tokenizer.json")))
      // Resumed without the option: the tokenizer of the checkpoint it resumes from goes on into the next ones.
      yield* runTrain(options(join(dir, "with"), 3, true))
      for (const step of ["step-00000001", "step-00000002", "step-00000003"]) {
        const ckpt = join(dir, "with", "checkpoints", step)
        expect(readdirSync(ckpt).sort(), step).toEqual([...base, ...tokenizerFileNames].sort())
        expect(readFileSync(join(ckpt, "tokenizer.json")).equals(source), step).toBe(true)
        const tc = JSON.parse(readFileSync(join(ckpt, "tokenizer_config.json"), "utf8")) as Record<string, unknown>
        expect(tc).toMatchObject({
          tokenizer_class: "PreTrainedTokenizerFast", model_max_length: config.maxPositionEmbeddings, bos_token: "<|endoftext|>",
          eos_token: "<|endoftext|>", add_bos_token: false, add_eos_token: false, clean_up_tokenization_spaces: false
        })
        expect(JSON.parse(readFileSync(join(ckpt, "generation_config.json"), "utf8"))).toEqual({ bos_token_id: 0, eos_token_id: 0 })
      }

      yield* runTrain(options(join(dir, "without"), 2, false))
      for (const step of ["step-00000001", "step-00000002"]) {
        expect(readdirSync(join(dir, "without", "checkpoints", step)).sort()).toEqual(base)
      }
      // The same weights either way: the tokenizer only adds files.
      for (const file of ["model.safetensors", "trainer_state.safetensors", "trainer_state.json"]) {
        const a = readFileSync(join(dir, "with", "checkpoints", "step-00000002", file))
        const b = readFileSync(join(dir, "without", "checkpoints", "step-00000002", file))
        expect(a.equals(b), file).toBe(true)
      }

      // A tokenizer that does not fit the model (3 special tokens, 256 bytes and its merges in a vocabulary of 260)
      // stops the run before its first step.
      const misfit = yield* Effect.flip(runTrain({
        ...options(join(dir, "misfit"), 2, false, join(dir, "tokenizer.json")), init: { _tag: "Config", config: { ...config, vocabSize: 260 }, seed: 1 }
      }))
      expect(misfit._tag).toBe("TokenizerFilesError")
      expect(misfit.message).toMatch(/tokenizer\.json: the tokenizer has ids up to \d+, past the model's vocabulary of 260/)
      expect(readdirSync(join(dir, "misfit", "checkpoints"))).toEqual([])
      expect(existsSync(join(dir, "misfit", "metrics.jsonl"))).toBe(false)
    }).pipe(Effect.provide(services)))

  it.effect("training into a folder that holds a run is refused without resume; overwrite starts it again", () =>
    Effect.gen(function*() {
      const dir = temp()
      const config = presets.tiny
      writeIds(join(dir, "ids.jsonl"), 8, 8, config.vocabSize, 3)
      const options: TrainOptions = {
        out: join(dir, "run"), init: { _tag: "Config", config, seed: 1 }, data: { _tag: "IdsJsonl", path: join(dir, "ids.jsonl") },
        seqLen: 8, batchSize: 2, gradAccum: 1, steps: 2,
        schedule: { kind: "wsd", peak: 1e-3, warmup: 0, totalSteps: 2, decayFraction: 0 }, optimizer: smollm2AdamW,
        saveEvery: 1, saveDtype: "float32", resume: false
      }
      const first = yield* runTrain(options)
      const metricsBefore = readFileSync(join(dir, "run", "metrics.jsonl"))
      const refused = yield* Effect.flip(runTrain(options))
      expect(refused._tag).toBe("RunFolderInUseError")
      expect(refused.message).toMatch(/already holds a training run \(checkpoints step-00000001 … step-00000002 and metrics\.jsonl\); pass --resume .* or --overwrite/)
      expect(readFileSync(join(dir, "run", "metrics.jsonl")).equals(metricsBefore)).toBe(true)
      const again = yield* runTrain({ ...options, steps: 1, overwrite: true })
      expect(again.map((m) => m.step)).toEqual([1])
      expect(again[0]!.loss).toBe(first[0]!.loss)
      expect(readdirSync(join(dir, "run", "checkpoints"))).toEqual(["step-00000001"])
      expect(readFileSync(join(dir, "run", "metrics.jsonl"), "utf8").trim().split("\n").map((l) => (JSON.parse(l) as { step: number }).step)).toEqual([1])
    }).pipe(Effect.provide(services)))

  it.effect("a damaged checkpoint is a ResumeError naming the file, not a crash", () =>
    Effect.gen(function*() {
      const dir = temp()
      const config = presets.tiny
      writeIds(join(dir, "ids.jsonl"), 8, 8, config.vocabSize, 3)
      const options = (resume: boolean): TrainOptions => ({
        out: join(dir, "run"), init: { _tag: "Config", config, seed: 1 }, data: { _tag: "IdsJsonl", path: join(dir, "ids.jsonl") },
        seqLen: 8, batchSize: 2, gradAccum: 1, steps: 2,
        schedule: { kind: "wsd", peak: 1e-3, warmup: 0, totalSteps: 2, decayFraction: 0 }, optimizer: smollm2AdamW,
        saveEvery: 1, saveDtype: "float32", resume
      })
      yield* runTrain({ ...options(false), steps: 1 })
      const ckpt = join(dir, "run", "checkpoints", "step-00000001")
      writeFileSync(join(ckpt, "trainer_state.safetensors"), readFileSync(join(ckpt, "trainer_state.safetensors")).subarray(0, 100))
      const broken = yield* Effect.flip(runTrain(options(true)))
      expect(broken._tag).toBe("ResumeError")
      expect(broken.message).toMatch(/trainer_state\.safetensors/)
      writeFileSync(join(ckpt, "trainer_state.json"), "{ not json")
      const notJson = yield* Effect.flip(runTrain(options(true)))
      expect(notJson.message).toMatch(/trainer_state\.json/)
    }).pipe(Effect.provide(services)))
})
