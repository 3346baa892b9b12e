import { NodeServices } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer, Stream } from "effect"
import { spawnSync } from "node:child_process"
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { trainBpe, WordCounter } from "../../src/data/tokenizer/train.ts"
import { Gpu } from "../../src/gpu/Gpu.ts"
import { loadHfModel } from "../../src/model/checkpoint.ts"
import { presets } from "../../src/model/config.ts"
import { llamaReference } from "../../src/model/llama.cpu.ts"
import type { Weights } from "../../src/model/parameters.ts"
import { smollm2AdamW } from "../../src/train/optimizer.ts"
import { type PackedRowLine, packedTokenBatch } from "../../src/train/packed-rows.ts"
import { train } from "../../src/train/trainer.ts"
import { tokenIds } from "../support/models.ts"

const services = Layer.mergeAll(Gpu.layer, NodeServices.layer)

const sft = (args: ReadonlyArray<string>) => {
  const r = spawnSync(process.execPath, ["--import", "tsx", "programs/sft.ts", "train", ...args], { encoding: "utf8" })
  return { status: r.status, out: r.stdout + r.stderr }
}

const answers = ["The cat sat on the mat.", "Hello world, said the program.", "The mat sat on the cat."]
const chats = Array.from({ length: 12 }, (_, i) => ({
  messages: [
    { role: "system", content: "Be short." },
    { role: "user", content: i === 5 ? "Please repeat after me the words that the cat sat on the mat today" : `Say something ${i}` },
    { role: "assistant", content: answers[i % 3]! }
  ]
}))

/** The mean loss over the counted targets of `rows` (assistant tokens, per-document attention), on the CPU reference. */
const assistantLoss = (config: typeof presets.tiny, weights: Weights, rows: ReadonlyArray<PackedRowLine>, seq: number) => {
  const b = packedTokenBatch(rows, rows.length, seq)
  return llamaReference(config, weights, b.inputs, b.targets, rows.length, seq, false, b).loss
}

describe("sft.ts train", () => {
  it.effect("fine-tunes a tiny base into a chat model whose assistant-token loss on its chats is lower, and resumes exactly", () =>
    Effect.gen(function*() {
      const dir = mkdtempSync(join(tmpdir(), "smol-sft-"))
      const counter = new WordCounter()
      for (let i = 0; i < 40; i++) counter.add(`The cat sat on the mat, ${i} times. Hello world, said the program. Be short. Say something`)
      writeFileSync(join(dir, "tokenizer.json"), JSON.stringify(trainBpe(counter, { vocabSize: 400, specialTokens: ["<|endoftext|>", "<|im_start|>", "<|im_end|>"] })))
      // A base model: a few pretraining steps of the tiny preset, checkpointed with its tokenizer.
      const seq = 32
      writeFileSync(join(dir, "ids.jsonl"), Array.from({ length: 8 }, (_, i) => JSON.stringify({ ids: tokenIds(seq + 1, 400, i) })).join("\n") + "\n")
      yield* Stream.runDrain(train({
        out: join(dir, "base"), init: { _tag: "Config", config: presets.tiny, seed: 1 }, data: { _tag: "IdsJsonl", path: join(dir, "ids.jsonl") },
        seqLen: seq, batchSize: 2, gradAccum: 1, steps: 4, schedule: { kind: "cosine", peak: 1e-3, warmup: 1, totalSteps: 4, decayFraction: 0 },
        optimizer: smollm2AdamW, saveEvery: 0, saveDtype: "float32", resume: false, tokenizer: join(dir, "tokenizer.json")
      }))
      const base = join(dir, "base", "checkpoints", "step-00000004")
      writeFileSync(join(dir, "chats.jsonl"), chats.map((c) => JSON.stringify(c)).join("\n") + "\n")
      // One conversation shares a 10-gram with an evaluation text (case and spacing aside): decontamination drops it.
      writeFileSync(join(dir, "eval.jsonl"), JSON.stringify({ question: "Now REPEAT after me  the words that the cat sat on the mat.", answer: "x" }) + "\n")
      const args = (out: string, epochs = 6) => [
        "--init", base, "--input", join(dir, "chats.jsonl"), "--out", out, "--packing", "bfd", "--seq-len", "63",
        "--batch-size", "2", "--grad-accum", "1", "--epochs", String(epochs), "--lr", "3e-3", "--save-every", "3"
      ]
      const whole = sft(args(join(dir, "sft")))
      expect(whole.status, whole.out).toBe(0)
      expect(whole.out).toMatch(/12 conversations, \d+ tokens → \d+ rows of 64 \(bfd, loss on assistant tokens/)

      const rows = readFileSync(join(dir, "sft", "sft-rows.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l) as PackedRowLine)
      const final = readdirSync(join(dir, "sft", "checkpoints")).sort().at(-1)!
      const before = yield* loadHfModel(base)
      const after = yield* loadHfModel(join(dir, "sft", "checkpoints", final))
      const firstEpoch = rows.slice(0, rows.length / 6)
      const lossBefore = assistantLoss(presets.tiny, before.weights, firstEpoch, 63)
      const lossAfter = assistantLoss(presets.tiny, after.weights, firstEpoch, 63)
      expect(lossAfter, `assistant-token loss ${lossBefore} → ${lossAfter}`).toBeLessThan(lossBefore * 0.8)

      // A chat model's files: BOS/EOS are ChatML's, and the template travels with the tokenizer.
      expect(after.config.bosTokenId).toBe(1)
      expect(after.config.eosTokenId).toBe(2)
      const tokenizerConfig = JSON.parse(readFileSync(join(dir, "sft", "checkpoints", final, "tokenizer_config.json"), "utf8")) as Record<string, unknown>
      expect(tokenizerConfig["eos_token"]).toBe("<|im_end|>")
      expect(tokenizerConfig["bos_token"]).toBe("<|im_start|>")
      expect(tokenizerConfig["additional_special_tokens"]).toEqual(["<|im_start|>", "<|im_end|>"])
      expect(tokenizerConfig["chat_template"]).toMatch(/<\|im_start\|>/)
      expect(JSON.parse(readFileSync(join(dir, "sft", "checkpoints", final, "generation_config.json"), "utf8"))).toEqual({ bos_token_id: 1, eos_token_id: 2 })

      // Resume: the same run with its later checkpoints removed continues from step 3 to the same bytes.
      cpSync(join(dir, "sft"), join(dir, "resumed"), { recursive: true })
      for (const name of readdirSync(join(dir, "resumed", "checkpoints"))) {
        if (name !== "step-00000003") rmSync(join(dir, "resumed", "checkpoints", name), { recursive: true })
      }
      const resumed = sft([...args(join(dir, "resumed")), "--resume"])
      expect(resumed.status, resumed.out).toBe(0)
      for (const file of ["model.safetensors", "trainer_state.safetensors", "tokenizer_config.json"]) {
        const a = readFileSync(join(dir, "sft", "checkpoints", final, file))
        const b = readFileSync(join(dir, "resumed", "checkpoints", final, file))
        expect(a.equals(b), `${file} differs between the resumed and the uninterrupted run`).toBe(true)
      }

      const decontaminated = sft([...args(join(dir, "clean"), 1), "--decontaminate", join(dir, "eval.jsonl")])
      expect(decontaminated.status, decontaminated.out).toBe(0)
      expect(decontaminated.out).toMatch(/dropped 1 of 12 conversations sharing a 10-gram/)
      expect(decontaminated.out).toMatch(/\n11 conversations/)
    }).pipe(Effect.provide(services)), 300_000)
})
