import { NodeServices } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { mkdtempSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { defaultChatTemplate } from "../../src/data/tokenizer/chat-template.ts"
import { byteTokenizer } from "../../src/data/tokenizer/Tokenizer.ts"
import { makeDecontaminator } from "../../src/train/decontaminate.ts"
import { prepareSftData, type SftSource } from "../../src/train/sft-data.ts"

const prepare = (source: SftSource, evaluationTexts?: ReadonlyArray<string>) =>
  Effect.flatMap(defaultChatTemplate(), (template) =>
    prepareSftData({
      source, tokenizer: byteTokenizer, template, packing: "bfd", loss: "assistant", rowLength: 65, separator: 0, epochs: 1, seed: 1,
      ...(evaluationTexts === undefined ? {} : { decontaminator: makeDecontaminator(evaluationTexts) })
    }))

describe("SFT data from an input with nothing to train on", () => {
  it.effect("an empty file of conversations, JSON array or prepared rows is a ConversationError naming the file", () =>
    Effect.gen(function*() {
      const dir = mkdtempSync(join(tmpdir(), "smol-sft-empty-"))
      writeFileSync(join(dir, "empty.jsonl"), "")
      writeFileSync(join(dir, "empty.json"), "[]\n")
      writeFileSync(join(dir, "rows.jsonl"), "\n")
      for (const name of ["empty.jsonl", "empty.json"]) {
        const e = yield* Effect.flip(prepare({ _tag: "Conversations", path: join(dir, name), format: "auto" }))
        expect(e._tag).toBe("ConversationError")
        expect(e.message).toBe(`${join(dir, name)}: no conversations (an empty file, an empty array, or only blank lines): nothing to train on`)
      }
      const prepared = yield* Effect.flip(prepare({ _tag: "Prepared", path: join(dir, "rows.jsonl") }))
      expect(prepared.message).toBe(`${join(dir, "rows.jsonl")}: no prepared rows (an empty file, or only blank lines): nothing to train on`)
    }).pipe(Effect.provide(NodeServices.layer)))

  it.effect("conversations all dropped by decontamination are refused too; one left is enough", () =>
    Effect.gen(function*() {
      const file = join(mkdtempSync(join(tmpdir(), "smol-sft-clean-")), "chats.jsonl")
      const chat = (answer: string) => JSON.stringify({ messages: [{ role: "user", content: "Repeat it." }, { role: "assistant", content: answer }] })
      const leaked = "one two three four five six seven eight nine ten eleven"
      writeFileSync(file, [chat(leaked), chat(leaked)].join("\n") + "\n")
      const e = yield* Effect.flip(prepare({ _tag: "Conversations", path: file, format: "auto" }, [leaked]))
      expect(e.message).toBe(`${file}: all 2 conversations share a 10-gram with the evaluation texts: nothing left to train on`)
      writeFileSync(file, [chat(leaked), chat("Something else.")].join("\n") + "\n")
      const data = yield* prepare({ _tag: "Conversations", path: file, format: "auto" }, [leaked])
      expect([data.conversations, data.contaminated, data.rowsPerEpoch]).toEqual([2, 1, 1])
    }).pipe(Effect.provide(NodeServices.layer)))
})
