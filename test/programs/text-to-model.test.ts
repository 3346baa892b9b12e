import { describe, expect, it } from "@effect/vitest"
import { execFileSync, spawnSync } from "node:child_process"
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"

/** Runs a program as a user would (Node with tsx as an import hook), returning stdout. */
const run = (program: string, args: ReadonlyArray<string>) =>
  execFileSync(process.execPath, ["--import", "tsx", program, ...args], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] })

const sentences = [
  "The cat sat on the mat while the dog slept by the door.",
  "Numbers like 1234 and 56.78 appear in tables, lists and code.",
  "def add(a, b):\n    return a + b\n",
  "Photosynthesis turns light, water and carbon dioxide into sugar.",
  "Ünïcödé text, emoji 🙂 and CJK 漢字 must survive a round trip."
]

describe("from text to a trained model, through the command-line programs", () => {
  it("trains a tokenizer, round-trips text, shards it, trains on the shards and scores", () => {
    const dir = mkdtempSync(join(tmpdir(), "smol-e2e-"))
    const docs = Array.from({ length: 120 }, (_, i) => `${sentences[i % sentences.length]} Document ${i}.`)
    writeFileSync(join(dir, "docs.jsonl"), docs.map((text) => JSON.stringify({ text })).join("\n") + "\n")

    run("programs/tokenizer.ts", ["train", "--input", join(dir, "docs.jsonl"), "--vocab-size", "400", "--output", join(dir, "tokenizer.json")])
    const vocab = Object.keys((JSON.parse(readFileSync(join(dir, "tokenizer.json"), "utf8")) as { model: { vocab: object } }).model.vocab).length
    expect(vocab).toBeLessThanOrEqual(400)

    run("programs/tokenizer.ts", ["encode", "--tokenizer", join(dir, "tokenizer.json"), "--input", join(dir, "docs.jsonl"), "--output", join(dir, "ids.jsonl")])
    run("programs/tokenizer.ts", ["decode", "--tokenizer", join(dir, "tokenizer.json"), "--input", join(dir, "ids.jsonl"), "--output", join(dir, "back.jsonl")])
    const back = readFileSync(join(dir, "back.jsonl"), "utf8").trim().split("\n").map((l) => (JSON.parse(l) as { text: string }).text)
    expect(back).toEqual(docs)

    // A malformed line stops the program with the file and line, and leaves no output behind.
    writeFileSync(join(dir, "bad.jsonl"), `{"text": "fine"}\n{"txt": "wrong key"}\n`)
    const bad = spawnSync(process.execPath, ["--import", "tsx", "programs/tokenizer.ts", "encode", "--tokenizer", join(dir, "tokenizer.json"), "--input", join(dir, "bad.jsonl"), "--output", join(dir, "bad-out.jsonl")], { encoding: "utf8" })
    expect(bad.status).not.toBe(0)
    expect(bad.stderr + bad.stdout).toMatch(/bad\.jsonl:2/)
    expect(existsSync(join(dir, "bad-out.jsonl"))).toBe(false)

    run("programs/tokenizer.ts", ["shard", "--tokenizer", join(dir, "tokenizer.json"), "--input", join(dir, "docs.jsonl"), "--output", join(dir, "shards"), "--seed", "3"])
    expect(readdirSync(join(dir, "shards")).some((f) => f.endsWith(".ds"))).toBe(true)

    const out = run("programs/train.ts", [
      "--preset", "tiny", "--data", join(dir, "shards"), "--seq-len", "24", "--batch-size", "2", "--steps", "4",
      "--lr", "3e-3", "--warmup", "1", "--out", join(dir, "run")
    ])
    expect(out).toMatch(/Done: step 4/)
    const metrics = readFileSync(join(dir, "run", "metrics.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l) as { step: number; loss: number })
    expect(metrics.map((m) => m.step)).toEqual([1, 2, 3, 4])
    expect(metrics.every((m) => Number.isFinite(m.loss))).toBe(true)

    const scored = run("programs/score.ts", ["--model", join(dir, "run", "checkpoints", "step-00000004"), "--input", join(dir, "ids.jsonl"), "--output", join(dir, "logprobs.jsonl")])
    expect(scored).toMatch(/120 sequences, \d+ tokens scored, perplexity/)
  }, 120_000)
})
