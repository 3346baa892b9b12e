import { NodeServices } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { parquetWriteBuffer } from "hyparquet-writer"
import { mkdtempSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { defaultChatTemplate } from "../../src/data/tokenizer/chat-template.ts"
import { byteTokenizer } from "../../src/data/tokenizer/Tokenizer.ts"
import { readPreferencePairs } from "../../src/train/dpo-data.ts"

const lengths = { maxLength: 256, maxPromptLength: 128 }
const utf8 = (text: string) => Array.from(new TextEncoder().encode(text))

/** A message list as a Parquet column holds it: a LIST of {content, role} structs (UltraFeedback-binarized's). */
const messagesColumn = (name: string) => [
  { name, repetition_type: "OPTIONAL", converted_type: "LIST", num_children: 1 },
  { name: "list", repetition_type: "REPEATED", num_children: 1 },
  { name: "element", repetition_type: "OPTIONAL", num_children: 2 },
  { name: "content", repetition_type: "OPTIONAL", type: "BYTE_ARRAY", converted_type: "UTF8" },
  { name: "role", repetition_type: "OPTIONAL", type: "BYTE_ARRAY", converted_type: "UTF8" }
] as const

/** UltraFeedback-binarized's columns: prompt, prompt_id, chosen, rejected, messages, score_chosen, score_rejected. */
const ultraFeedbackParquet = (rows: ReadonlyArray<{ prompt: string; chosen: string; rejected: string; chosenRole?: string }>) => {
  const turn = (prompt: string, reply: string, role = "assistant") => [{ content: prompt, role: "user" }, { content: reply, role }]
  return new Uint8Array(parquetWriteBuffer({
    columnData: [
      { name: "prompt", data: rows.map((r) => r.prompt) },
      { name: "prompt_id", data: rows.map((_, i) => `id-${i}`) },
      { name: "chosen", data: rows.map((r) => turn(r.prompt, r.chosen, r.chosenRole)) },
      { name: "rejected", data: rows.map((r) => turn(r.prompt, r.rejected)) },
      { name: "messages", data: rows.map((r) => turn(r.prompt, r.chosen)) },
      { name: "score_chosen", data: rows.map(() => 8.5) },
      { name: "score_rejected", data: rows.map(() => 3) }
    ],
    schema: [
      { name: "root", num_children: 7 },
      { name: "prompt", repetition_type: "OPTIONAL", type: "BYTE_ARRAY", converted_type: "UTF8" },
      { name: "prompt_id", repetition_type: "OPTIONAL", type: "BYTE_ARRAY", converted_type: "UTF8" },
      ...messagesColumn("chosen"),
      ...messagesColumn("rejected"),
      ...messagesColumn("messages"),
      { name: "score_chosen", repetition_type: "OPTIONAL", type: "DOUBLE" },
      { name: "score_rejected", repetition_type: "OPTIONAL", type: "DOUBLE" }
    ],
    rowGroupSize: 2
  }))
}

describe("DPO preference pairs from files", () => {
  it.effect("reads UltraFeedback-binarized's Parquet layout as its JSONL, pair for pair", () =>
    Effect.gen(function*() {
      const template = yield* defaultChatTemplate()
      const dir = mkdtempSync(join(tmpdir(), "smol-dpo-parquet-"))
      const rows = [
        { prompt: "Name a color.", chosen: "Blue.", rejected: "No." },
        { prompt: "2+2?", chosen: "4", rejected: "5" },
        { prompt: "Say hi.", chosen: "Hi!", rejected: "Bye." }
      ]
      writeFileSync(join(dir, "train_prefs.parquet"), ultraFeedbackParquet(rows))
      const turn = (prompt: string, reply: string) => [{ role: "user", content: prompt }, { role: "assistant", content: reply }]
      writeFileSync(
        join(dir, "train_prefs.jsonl"),
        rows.map((r) => JSON.stringify({ prompt: r.prompt, chosen: turn(r.prompt, r.chosen), rejected: turn(r.prompt, r.rejected) })).join("\n") + "\n"
      )
      const fromParquet = yield* readPreferencePairs(join(dir, "train_prefs.parquet"), template, byteTokenizer, lengths)
      const fromJsonl = yield* readPreferencePairs(join(dir, "train_prefs.jsonl"), template, byteTokenizer, lengths)
      expect(fromParquet).toEqual(fromJsonl)
      // Across the row groups of 2, in file order: the third pair is "Say hi.", its replies "Hi!" and "Bye.".
      expect(fromParquet.map((p) => p.chosen)).toEqual(["Blue.", "4", "Hi!"].map((r) => utf8(`${r}<|im_end|>\n`)))
      expect(fromParquet[2]!.rejected).toEqual(utf8("Bye.<|im_end|>\n"))
    }).pipe(Effect.provide(NodeServices.layer)))

  it.effect("a bad Parquet record fails naming the file and its row", () =>
    Effect.gen(function*() {
      const template = yield* defaultChatTemplate()
      const file = join(mkdtempSync(join(tmpdir(), "smol-dpo-parquet-")), "prefs.parquet")
      writeFileSync(file, ultraFeedbackParquet([
        { prompt: "a", chosen: "b", rejected: "c" },
        { prompt: "d", chosen: "e", rejected: "f" },
        { prompt: "g", chosen: "h", rejected: "i", chosenRole: "user" }
      ]))
      const error = yield* Effect.flip(readPreferencePairs(file, template, byteTokenizer, lengths))
      expect(error._tag).toBe("DpoDataError")
      expect(error.message).toBe(`${file} (row 2): chosen: the last message is a "user" one, not the assistant reply`)
      // A record whose fields have the wrong shape is named the same way.
      writeFileSync(file, new Uint8Array(parquetWriteBuffer({ columnData: [{ name: "prompt", data: ["a"] }, { name: "chosen", data: [1] }, { name: "rejected", data: [2] }] })))
      const shape = yield* Effect.flip(readPreferencePairs(file, template, byteTokenizer, lengths))
      expect(shape.message).toMatch(new RegExp(`^${file.replaceAll(".", "\\.")} \\(row 0\\): .*chosen`))
      writeFileSync(file, "not parquet")
      expect((yield* Effect.flip(readPreferencePairs(file, template, byteTokenizer, lengths))).message).toMatch(/prefs\.parquet: not a readable Parquet file/)
    }).pipe(Effect.provide(NodeServices.layer)))

  it.effect("an input with no pairs is an error naming the file, whatever its format", () =>
    Effect.gen(function*() {
      const template = yield* defaultChatTemplate()
      const dir = mkdtempSync(join(tmpdir(), "smol-dpo-empty-"))
      writeFileSync(join(dir, "empty.jsonl"), "\n\n")
      writeFileSync(join(dir, "empty.json"), "[]")
      writeFileSync(join(dir, "empty.parquet"), new Uint8Array(parquetWriteBuffer({ columnData: [{ name: "prompt", data: [], type: "STRING" }] })))
      for (const name of ["empty.jsonl", "empty.json", "empty.parquet"]) {
        const error = yield* Effect.flip(readPreferencePairs(join(dir, name), template, byteTokenizer, lengths))
        expect(error._tag).toBe("DpoDataError")
        expect(error.message).toBe(`${join(dir, name)}: no preference pairs (an empty file, array or table, or only blank lines): nothing to train on`)
      }
    }).pipe(Effect.provide(NodeServices.layer)))
})
