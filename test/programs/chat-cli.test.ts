import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { spawnSync } from "node:child_process"
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { defaultChatTemplate } from "../../src/data/tokenizer/chat-template.ts"
import { BpeTokenizer } from "../../src/data/tokenizer/core.ts"
import { llamaReference } from "../../src/model/llama.cpu.ts"
import { initWeights } from "../../src/model/parameters.ts"
import { chatConfig, scriptedWeights, writeChatModel } from "../support/chat-model.ts"
import { trainedTokenizerJson } from "../data/tokenizer/reference.ts"

/** Runs a program as a user would (Node with tsx as an import hook), with `input` on stdin. */
const run = (program: string, args: ReadonlyArray<string>, input = "") => {
  const r = spawnSync(process.execPath, ["--import", "tsx", program, ...args], { encoding: "utf8", input })
  return { status: r.status, stdout: r.stdout, stderr: r.stderr }
}

const tokenizerJson = trainedTokenizerJson()
const tokenizer = BpeTokenizer.fromJson(tokenizerJson)
const encode = (text: string) => Array.from(tokenizer.encode(text, { addSpecialTokens: false }))
const IM_END = tokenizer.tokenToId("<|im_end|>")!
const config = chatConfig(tokenizer.vocabSize)
const rendered = (messages: Array<{ role: string; content: string }>) =>
  Effect.runSync(Effect.flatMap(defaultChatTemplate(), (t) => t.render(messages, { addGenerationPrompt: true })))

describe("programs/chat.ts", () => {
  const dir = mkdtempSync(join(tmpdir(), "smol-chat-"))
  // Greedy decoding after the assistant header's last token writes "Sure" + " thing", then <|im_end|>.
  const header = encode(rendered([{ role: "user", content: "x" }])).at(-1)!
  const [a, b] = [encode("Sure")[0]!, encode(" thing")[0]!]
  const reply = tokenizer.decode([a, b])
  const scripted = join(dir, "scripted")
  writeChatModel(scripted, config, scriptedWeights(config, header, [a, b, IM_END]), tokenizerJson)

  it("--prompt prints the reply and stops at <|im_end|>, or at --max-new-tokens", () => {
    expect(new Set([header, a, b, IM_END]).size).toBe(4)
    const r = run("programs/chat.ts", ["--model", scripted, "--prompt", "Hello!", "--temperature", "0"])
    expect(r.status, r.stderr).toBe(0)
    expect(r.stdout).toBe(`${reply}\n`)
    expect(r.stderr).toMatch(/Chat template: the chat_template of .*tokenizer_config\.json; stops at <\|im_end\|>; greedy/)
    expect(r.stderr).toMatch(/\[2 tokens, [\d.]+ tokens\/s, end of turn; prompt: 0 positions from the cache, \d+ computed\]/)
    const short = run("programs/chat.ts", ["--model", scripted, "--prompt", "Hello!", "--max-new-tokens", "1", "--temperature", "0"])
    expect(short.stdout).toBe(`${tokenizer.decode([a])}\n`)
    expect(short.stderr).toMatch(/\[1 tokens, .*--max-new-tokens reached/)
  }, 60_000)

  it("--prompt on random weights, greedy: the reply is the CPU reference's argmax continuation of the rendered chat", () => {
    const weights = initWeights(config, 5)
    const folder = join(dir, "random")
    writeChatModel(folder, config, weights, tokenizerJson)
    const prompt = encode(rendered([{ role: "system", content: "Be kind." }, { role: "user", content: "Tell me a story." }]))
    const tokens = [...prompt]
    while (tokens.length < prompt.length + 6) {
      const { logits } = llamaReference(config, weights, tokens, tokens.map(() => 0), 1, tokens.length, false)
      const row = logits.subarray((tokens.length - 1) * config.vocabSize, tokens.length * config.vocabSize)
      const next = row.reduce((best, v, i) => (v > row[best]! ? i : best), 0)
      if (next === IM_END) break
      tokens.push(next)
    }
    const r = run("programs/chat.ts", ["--model", folder, "--system", "Be kind.", "--prompt", "Tell me a story.", "--temperature", "0", "--max-new-tokens", "6"])
    expect(r.status, r.stderr).toBe(0)
    expect(r.stdout).toBe(`${tokenizer.decode(tokens.slice(prompt.length))}\n`)
    // Sampling is reproducible from its seed.
    const sampled = ["--model", folder, "--prompt", "Hi", "--temperature", "1", "--top-k", "0", "--top-p", "1", "--seed", "7", "--max-new-tokens", "8"]
    expect(run("programs/chat.ts", sampled).stdout).toBe(run("programs/chat.ts", sampled).stdout)
  }, 120_000)

  it("an interactive session over stdin: two turns sharing the KV cache, /reset, then end of input", () => {
    // --max-new-tokens 8 keeps the reply's room small enough for both turns to fit the 128-token context.
    const r = run("programs/chat.ts", ["--model", scripted, "--temperature", "0", "--max-new-tokens", "8"], "Hi there\nAnd more?\n/reset\n\nAgain\n")
    expect(r.status, r.stderr).toBe(0)
    expect(r.stdout).toBe(`${reply}\n${reply}\n${reply}\n`)
    const summaries = [...r.stderr.matchAll(/prompt: (\d+) positions from the cache, (\d+) computed/g)].map((m) => [Number(m[1]), Number(m[2])])
    expect(summaries.length).toBe(3)
    // Turn 2 keeps turn 1's prompt and the two reply tokens fed back (the <|im_end|> after them never was), and
    // computes only the rest: <|im_end|>, the new user turn, the header.
    const first = encode(rendered([{ role: "user", content: "Hi there" }]))
    const second = encode(rendered([{ role: "user", content: "Hi there" }, { role: "assistant", content: reply }, { role: "user", content: "And more?" }]))
    expect(summaries[0]).toEqual([0, first.length])
    expect(summaries[1]).toEqual([first.length + 2, second.length - first.length - 2])
    expect(r.stderr).not.toContain("left out")
    expect(r.stderr).toContain("(conversation forgotten)")
    // /exit ends the session before the lines after it.
    const ended = run("programs/chat.ts", ["--model", scripted, "--temperature", "0"], "Hi\n/exit\nNever read\n")
    expect(ended.status).toBe(0)
    expect(ended.stdout).toBe(`${reply}\n`)
  }, 120_000)

  it("eval.ts --chat-template writes chat prompts (SmolLM2's template without a model)", () => {
    mkdirSync(join(dir, "eval", "llm-foundry"), { recursive: true })
    writeFileSync(join(dir, "eval", "llm-foundry", "arc_easy.jsonl"), JSON.stringify({ query: "Question: What does ice melt into?", choices: ["water", "stone"], gold: 0 }) + "\n")
    const r = run("programs/eval.ts", ["--tasks", "arc:easy", "--data-dir", join(dir, "eval"), "--chat-template", "--dump-requests", join(dir, "requests.jsonl")])
    expect(r.status, r.stderr).toBe(0)
    expect(r.stderr).toContain("Chat template: SmolLM2-Instruct's ChatML (no --model to take one from)")
    const lines = readFileSync(join(dir, "requests.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l) as { context: string; continuation: string })
    expect(lines.map((l) => l.continuation)).toEqual([" water", " stone"])
    expect(lines[0]!.context).toBe(rendered([{ role: "user", content: "Question: What does ice melt into?\nAnswer:" }]))
  }, 60_000)
})
