import { describe, expect, it } from "@effect/vitest"
import { execFileSync, spawnSync } from "node:child_process"
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Tokenizer as HfTokenizer } from "tokenizers"
import { trainedTokenizerJson } from "../data/tokenizer/reference.ts"

/** Runs `programs/sft.ts` as a user would (Node with tsx as an import hook), returning stderr (the summary). */
const sft = (args: ReadonlyArray<string>) => {
  const r = spawnSync(process.execPath, ["--import", "tsx", "programs/sft.ts", ...args], { encoding: "utf8" })
  return { status: r.status, out: r.stdout + r.stderr }
}

interface Row {
  readonly id: string
  readonly text: string
  readonly ids: ReadonlyArray<number>
  readonly mask: ReadonlyArray<number>
}
const rowsOf = (path: string): Array<Row> => readFileSync(path, "utf8").trim().split("\n").map((l) => JSON.parse(l) as Row)
const lines = (records: ReadonlyArray<unknown>) => records.map((r) => JSON.stringify(r)).join("\n") + "\n"

/** Text of each run of target tokens, decoded by the HF reference. */
const targetRuns = async (hf: HfTokenizer, row: Row): Promise<Array<string>> => {
  const runs: number[][] = []
  row.ids.forEach((id, i) => {
    if (row.mask[i] !== 1) return
    if (i > 0 && row.mask[i - 1] === 1) runs[runs.length - 1]!.push(id)
    else runs.push([id])
  })
  return Promise.all(runs.map((r) => hf.decode(r, false)))
}

const sameIdsAsHf = async (hf: HfTokenizer, rows: ReadonlyArray<Row>) => {
  const encodings = await hf.encodeBatch(rows.map((r) => r.text), { addSpecialTokens: false })
  rows.forEach((r, i) => expect(r.ids, `row ${i} (${r.id})`).toEqual(encodings[i]!.getIds()))
}

describe("sft.ts prepare", () => {
  const dir = mkdtempSync(join(tmpdir(), "smol-sft-"))
  const tokenizer = join(dir, "tokenizer.json")
  writeFileSync(tokenizer, trainedTokenizerJson())
  const hf = HfTokenizer.fromString(trainedTokenizerJson())

  it("writes {id, text, ids, mask} per SmolTalk conversation, in order, with HF's ids and assistant-only targets", async () => {
    const conversations = [
      { messages: [{ role: "user", content: "Name a prime." }, { role: "assistant", content: "Seven." }] },
      {
        id: "two-turns",
        messages: [
          { role: "system", content: "Answer with one word." },
          { role: "user", content: "Sky colour?" },
          { role: "assistant", content: "Blue." },
          { role: "user", content: "Grass?" },
          { role: "assistant", content: "Green." }
        ]
      }
    ]
    writeFileSync(join(dir, "chats.jsonl"), lines(conversations))
    const r = sft(["prepare", "--tokenizer", tokenizer, "--input", join(dir, "chats.jsonl"), "--output", join(dir, "rows.jsonl")])
    expect(r.status, r.out).toBe(0)
    expect(r.out).toMatch(/2 conversations, \d+ tokens, \d+ targets \(\d+\.\d%\) with SmolLM2-Instruct \(default\)/)
    const rows = rowsOf(join(dir, "rows.jsonl"))
    expect(rows.map((x) => x.id)).toEqual([`${join(dir, "chats.jsonl")}/0`, "two-turns"])
    expect(rows[0]!.text).toBe(
      "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n" +
        "<|im_start|>user\nName a prime.<|im_end|>\n<|im_start|>assistant\nSeven.<|im_end|>\n"
    )
    expect(rows[1]!.text).toBe(
      "<|im_start|>system\nAnswer with one word.<|im_end|>\n<|im_start|>user\nSky colour?<|im_end|>\n" +
        "<|im_start|>assistant\nBlue.<|im_end|>\n<|im_start|>user\nGrass?<|im_end|>\n<|im_start|>assistant\nGreen.<|im_end|>\n"
    )
    await sameIdsAsHf(hf, rows)
    for (const row of rows) expect(row.mask.length).toBe(row.ids.length)
    expect(await targetRuns(hf, rows[0]!)).toEqual(["Seven.<|im_end|>"])
    expect(await targetRuns(hf, rows[1]!)).toEqual(["Blue.<|im_end|>", "Green.<|im_end|>"])
  }, 60_000)

  it("reads ShareGPT (a JSON array) and Alpaca, and renders with a template from a tokenizer_config.json", async () => {
    writeFileSync(join(dir, "sharegpt.json"), JSON.stringify([{ conversations: [{ from: "human", value: "Hi" }, { from: "gpt", value: "Hello!" }] }], null, 2))
    writeFileSync(join(dir, "alpaca.jsonl"), lines([{ instruction: "Add the numbers.", input: "2 and 3", output: "5" }]))
    const config = join(dir, "tokenizer_config.json")
    writeFileSync(config, JSON.stringify({
      chat_template: "{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n{% endfor %}",
      eos_token: "<|im_end|>"
    }))
    const a = sft(["prepare", "--tokenizer", tokenizer, "--input", join(dir, "sharegpt.json"), "--output", join(dir, "sharegpt.out.jsonl"), "--template", config])
    expect(a.status, a.out).toBe(0)
    const b = sft(["prepare", "--tokenizer", tokenizer, "--input", join(dir, "alpaca.jsonl"), "--output", join(dir, "alpaca.out.jsonl"), "--template", config, "--format", "alpaca"])
    expect(b.status, b.out).toBe(0)
    const [sharegpt] = rowsOf(join(dir, "sharegpt.out.jsonl"))
    const [alpaca] = rowsOf(join(dir, "alpaca.out.jsonl"))
    expect(sharegpt!.text).toBe("<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\nHello!<|im_end|>\n")
    expect(alpaca!.text).toBe("<|im_start|>user\nAdd the numbers.\n2 and 3<|im_end|>\n<|im_start|>assistant\n5<|im_end|>\n")
    await sameIdsAsHf(hf, [sharegpt!, alpaca!])
    expect(await targetRuns(hf, sharegpt!)).toEqual(["Hello!<|im_end|>"])
    expect(await targetRuns(hf, alpaca!)).toEqual(["5<|im_end|>"])
  }, 60_000)

  it("stops at a bad record with its file and line, and leaves no output", () => {
    writeFileSync(join(dir, "bad.jsonl"), lines([
      { messages: [{ role: "user", content: "ok" }, { role: "assistant", content: "ok" }] },
      { messages: [{ role: "moderator", content: "?" }] }
    ]))
    const r = sft(["prepare", "--tokenizer", tokenizer, "--input", join(dir, "bad.jsonl"), "--output", join(dir, "bad.out.jsonl")])
    expect(r.status).not.toBe(0)
    expect(r.out).toContain(`${join(dir, "bad.jsonl")}:2: message 0 has unknown role "moderator"`)
    expect(existsSync(join(dir, "bad.out.jsonl"))).toBe(false)
  }, 60_000)
})

// The program's own help names every flag (the CLI style of the other programs).
describe("sft.ts", () => {
  it("lists prepare's flags with their descriptions", () => {
    const help = execFileSync(process.execPath, ["--import", "tsx", "programs/sft.ts", "prepare", "--help"], { encoding: "utf8" })
    for (const flag of ["--tokenizer", "--input", "--output", "--template", "--format", "--end-of-turn"]) expect(help).toContain(flag)
  }, 60_000)
})
