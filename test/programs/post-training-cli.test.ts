import { NodeServices } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { spawnSync } from "node:child_process"
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { loadChatTemplate } from "../../src/data/tokenizer/chat-template.ts"
import { loadTokenizer } from "../../src/data/tokenizer/Tokenizer.ts"
import { trainBpe, WordCounter } from "../../src/data/tokenizer/train.ts"
import { hfModelFiles, loadHfModel } from "../../src/model/checkpoint.ts"
import { presets } from "../../src/model/config.ts"
import { llamaReference } from "../../src/model/llama.cpu.ts"
import { initWeights } from "../../src/model/parameters.ts"
import { tokenizerFiles } from "../../src/model/tokenizer-files.ts"

/** Runs a program as a user would (Node with tsx as an import hook). */
const run = (program: string, args: ReadonlyArray<string>) => {
  const r = spawnSync(process.execPath, ["--import", "tsx", `programs/${program}`, ...args], { encoding: "utf8" })
  return { status: r.status, stdout: r.stdout, stderr: r.stderr, out: r.stdout + r.stderr }
}
const lines = (records: ReadonlyArray<unknown>) => records.map((r) => JSON.stringify(r)).join("\n") + "\n"
const newest = (run: string) => join(run, "checkpoints", readdirSync(join(run, "checkpoints")).sort().at(-1)!)

const answers = ["The cat sat on the mat.", "Hello world, said the program.", "The mat sat on the cat."]
const chats = Array.from({ length: 8 }, (_, i) => ({
  // A short system turn keeps each chat within a row of 64, assistant reply included.
  messages: [{ role: "system", content: "Be short." }, { role: "user", content: `Say something ${i}` }, { role: "assistant", content: answers[i % 3]! }]
}))
/** UltraFeedback-binarized pairs: the SFT answers preferred over a curt one. */
const pairs = Array.from({ length: 4 }, (_, i) => {
  const turns = [{ role: "system", content: "Be short." }, { role: "user", content: `Say something ${i}` }]
  return { prompt: turns[1]!.content, chosen: [...turns, { role: "assistant", content: answers[i % 3]! }], rejected: [...turns, { role: "assistant", content: "No." }] }
})

describe("base → SFT → DPO → chat from the command line", () => {
  const dir = mkdtempSync(join(tmpdir(), "smol-post-training-"))
  // A base model: the tiny preset's random weights with a SmolLM2-style tokenizer (no chat template, EOS <|endoftext|>).
  const counter = new WordCounter()
  for (let i = 0; i < 40; i++) counter.add(`The cat sat on the mat, ${i} times. Hello world, said the program. Say something. No. Be short. system user assistant`)
  const tokenizerJson = JSON.stringify(trainBpe(counter, { vocabSize: 400, specialTokens: ["<|endoftext|>", "<|im_start|>", "<|im_end|>"] }))
  const base = join(dir, "base")
  const baseConfig = presets.tiny
  mkdirSync(base)
  const baseTokenizer = Effect.runSync(tokenizerFiles("tokenizer.json", new TextEncoder().encode(tokenizerJson), baseConfig))
  for (const [name, content] of hfModelFiles({ config: baseConfig, weights: initWeights(baseConfig, 11) }, { extraFiles: baseTokenizer })) {
    writeFileSync(join(base, name), content)
  }
  writeFileSync(join(dir, "chats.jsonl"), lines(chats))
  writeFileSync(join(dir, "pairs.jsonl"), lines(pairs))

  it.effect("each step's checkpoint loads as a chat model, DPO logs TRL's rewards, and chat answers from the DPO model", () =>
    Effect.gen(function*() {
      const sft = run("sft.ts", [
        "train", "--init", base, "--input", join(dir, "chats.jsonl"), "--out", join(dir, "sft"), "--packing", "bfd",
        "--seq-len", "63", "--batch-size", "2", "--grad-accum", "1", "--epochs", "3", "--lr", "3e-3"
      ])
      expect(sft.status, sft.out).toBe(0)
      expect(sft.out).toMatch(/8 conversations, \d+ tokens → 8 rows of 64 \(bfd, loss on assistant tokens/)
      // Every step saw assistant tokens (no chat was cut before its reply), and the loss on them fell.
      const sftMetrics = readFileSync(join(dir, "sft", "metrics.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l) as { loss: number; targets: number })
      expect(sftMetrics).toHaveLength(12)
      for (const m of sftMetrics) expect(m.targets).toBeGreaterThan(0)
      expect(sftMetrics.at(-1)!.loss).toBeLessThan(sftMetrics[0]!.loss)
      const sftModel = newest(join(dir, "sft"))
      const sftLoaded = yield* loadHfModel(sftModel)
      expect([sftLoaded.config.bosTokenId, sftLoaded.config.eosTokenId]).toEqual([1, 2])
      const sftTokenizerConfig = JSON.parse(readFileSync(join(sftModel, "tokenizer_config.json"), "utf8")) as Record<string, unknown>
      expect(sftTokenizerConfig["eos_token"]).toBe("<|im_end|>")
      expect((yield* loadChatTemplate(join(sftModel, "tokenizer_config.json"))).source).toBe(sftTokenizerConfig["chat_template"])
      expect(sftTokenizerConfig["chat_template"]).toMatch(/<\|im_start\|>/)

      const dpo = run("dpo.ts", [
        "--init", sftModel, "--input", join(dir, "pairs.jsonl"), "--out", join(dir, "dpo"),
        "--batch-size", "2", "--grad-accum", "1", "--epochs", "2", "--lr", "1e-3"
      ])
      expect(dpo.status, dpo.out).toBe(0)
      expect(dpo.out).toMatch(/4 pairs \(\d+ tokens\) with .*; 4 steps of 2×1 pairs, β 0\.5/)
      expect(dpo.stdout).toMatch(/^Done: step 4, loss [\d.]+, margin -?[\d.]+, accuracy [\d.]+\./)
      const metrics = readFileSync(join(dir, "dpo", "metrics.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l) as Record<string, number>)
      expect(metrics).toHaveLength(4)
      for (const m of metrics) {
        for (const key of ["loss", "rewards/chosen", "rewards/rejected", "rewards/accuracies", "rewards/margins"]) expect(Number.isFinite(m[key]), key).toBe(true)
      }
      // Step 1's policy is the reference: no margin yet, loss log 2; by the last step the SFT answer is preferred.
      expect(metrics[0]!["loss"]).toBeCloseTo(Math.log(2), 4)
      expect(metrics.at(-1)!["rewards/margins"]).toBeGreaterThan(0)
      const dpoModel = newest(join(dir, "dpo"))
      const dpoLoaded = yield* loadHfModel(dpoModel)
      expect([dpoLoaded.config.bosTokenId, dpoLoaded.config.eosTokenId]).toEqual([1, 2])
      expect(JSON.parse(readFileSync(join(dpoModel, "tokenizer_config.json"), "utf8"))).toEqual(sftTokenizerConfig)

      // chat.ts, greedy, one shot: the reply is the f64 reference's argmax continuation of the rendered chat.
      const tokenizer = yield* loadTokenizer(join(dpoModel, "tokenizer.json"))
      const template = yield* loadChatTemplate(join(dpoModel, "tokenizer_config.json"))
      const asked = [{ role: "system", content: "Be short." }, { role: "user", content: "Say something 1" }]
      const prompt = Array.from(yield* tokenizer.encode(yield* template.render(asked, { addGenerationPrompt: true }), { addSpecialTokens: false }))
      const maxNew = 12
      const tokens = [...prompt]
      let ended = false
      while (tokens.length < prompt.length + maxNew) {
        const { logits } = llamaReference(dpoLoaded.config, dpoLoaded.weights, tokens, tokens.map(() => 0), 1, tokens.length, false)
        const row = logits.subarray((tokens.length - 1) * dpoLoaded.config.vocabSize, tokens.length * dpoLoaded.config.vocabSize)
        const next = row.reduce((best, v, i) => (v > row[best]! ? i : best), 0)
        if (next === 2) {
          ended = true
          break
        }
        tokens.push(next)
      }
      const reply = tokens.slice(prompt.length)
      expect(reply.length, "the trained model answers before its <|im_end|>").toBeGreaterThan(0)
      const chat = run("chat.ts", ["--model", dpoModel, "--system", "Be short.", "--prompt", "Say something 1", "--temperature", "0", "--max-new-tokens", String(maxNew)])
      expect(chat.status, chat.stderr).toBe(0)
      expect(chat.stdout).toBe(`${yield* tokenizer.decode(reply)}\n`)
      expect(chat.stderr).toMatch(new RegExp(`\\[${reply.length} tokens, [\\d.]+ tokens/s, ${ended ? "end of turn" : "--max-new-tokens reached"}`))
    }).pipe(Effect.scoped, Effect.provide(NodeServices.layer)), 180_000)

  it("an input with no conversations or pairs is an error naming the file, and leaves no output", () => {
    writeFileSync(join(dir, "empty.jsonl"), "\n")
    writeFileSync(join(dir, "tokenizer.json"), tokenizerJson)
    const prepare = run("sft.ts", ["prepare", "--tokenizer", join(dir, "tokenizer.json"), "--input", join(dir, "empty.jsonl"), "--output", join(dir, "rows.jsonl")])
    expect(prepare.status).toBe(1)
    expect(prepare.stderr).toContain(`${join(dir, "empty.jsonl")}: no conversations (an empty file, an empty array, or only blank lines): nothing to train on`)
    expect(prepare.out).not.toContain("0 conversations")
    expect(existsSync(join(dir, "rows.jsonl"))).toBe(false)

    const train = run("sft.ts", ["train", "--init", base, "--input", join(dir, "empty.jsonl"), "--out", join(dir, "empty-sft")])
    expect(train.status).toBe(1)
    expect(train.stderr).toContain(`${join(dir, "empty.jsonl")}: no conversations`)
    expect(existsSync(join(dir, "empty-sft", "sft-rows.jsonl"))).toBe(false)

    const dpo = run("dpo.ts", ["--init", base, "--input", join(dir, "empty.jsonl"), "--out", join(dir, "empty-dpo")])
    expect(dpo.status).toBe(1)
    expect(dpo.stderr).toContain(`${join(dir, "empty.jsonl")}: no preference pairs`)
    expect(existsSync(join(dir, "empty-dpo", "metrics.jsonl"))).toBe(false)
  }, 60_000)
})
