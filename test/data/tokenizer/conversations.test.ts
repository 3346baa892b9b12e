import { NodeServices } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import { Effect, FileSystem, Stream } from "effect"
import { parquetWriteBuffer } from "hyparquet-writer"
import {
  ConversationError,
  type ConversationFormat,
  detectFormat,
  readConversations,
  toConversation
} from "../../../src/data/tokenizer/conversations.ts"

const convert = (record: unknown, format: ConversationFormat) => toConversation(record, format, "f/0")

describe("conversation layouts", () => {
  it("reads SmolTalk's messages as they are, with the record's id", () => {
    const record = { id: 17, messages: [{ role: "system", content: "S" }, { role: "user", content: "Q" }, { role: "assistant", content: "A" }] }
    expect(detectFormat(record)).toBe("messages")
    expect(convert(record, "messages")).toEqual({ id: "17", messages: record.messages })
  })

  it("maps ShareGPT roles: human→user, gpt→assistant, system, function_call→assistant, observation→tool; tools are parsed", () => {
    const record = {
      system: "Be brief.",
      tools: "[{\"name\": \"search\"}]",
      conversations: [
        { from: "human", value: "Find X" },
        { from: "function_call", value: "{\"name\": \"search\"}" },
        { from: "observation", value: "{\"result\": 1}" },
        { from: "gpt", value: "Found it." }
      ]
    }
    expect(detectFormat(record)).toBe("sharegpt")
    expect(convert(record, "sharegpt")).toEqual({
      id: "f/0",
      tools: [{ name: "search" }],
      messages: [
        { role: "system", content: "Be brief." },
        { role: "user", content: "Find X" },
        { role: "assistant", content: "{\"name\": \"search\"}" },
        { role: "tool", content: "{\"result\": 1}" },
        { role: "assistant", content: "Found it." }
      ]
    })
    // A system turn in the list replaces the top-level one rather than doubling it.
    const both = { system: "top", conversations: [{ from: "system", value: "inner" }, { from: "human", value: "hi" }, { from: "gpt", value: "yo" }] }
    expect((convert(both, "sharegpt") as { messages: unknown }).messages).toEqual([
      { role: "system", content: "inner" },
      { role: "user", content: "hi" },
      { role: "assistant", content: "yo" }
    ])
  })

  it("joins an Alpaca instruction and a non-empty input with one newline (LLaMA-Factory), with system and history", () => {
    expect(detectFormat({ instruction: "x", output: "y" })).toBe("alpaca")
    expect(convert({ instruction: "Translate to French.", input: "Good morning", output: "Bonjour" }, "alpaca")).toEqual({
      id: "f/0",
      messages: [{ role: "user", content: "Translate to French.\nGood morning" }, { role: "assistant", content: "Bonjour" }]
    })
    expect(convert({ instruction: "Name a color.", input: "", output: "Blue" }, "alpaca")).toEqual({
      id: "f/0",
      messages: [{ role: "user", content: "Name a color." }, { role: "assistant", content: "Blue" }]
    })
    expect(convert({ instruction: "And 3?", output: "9", system: "Math.", history: [["Square 2?", "4"]] }, "alpaca")).toEqual({
      id: "f/0",
      messages: [
        { role: "system", content: "Math." },
        { role: "user", content: "Square 2?" },
        { role: "assistant", content: "4" },
        { role: "user", content: "And 3?" },
        { role: "assistant", content: "9" }
      ]
    })
  })

  it("says what is wrong with a bad record", () => {
    expect(convert({ messages: [{ role: "robot", content: "x" }] }, "messages")).toMatch(/message 0 has unknown role "robot"/)
    expect(convert({ messages: [] }, "messages")).toBe("empty conversation")
    expect(convert({ messages: [{ role: "user" }] }, "messages")).toMatch(/message 0 has no "content" field/)
    expect(convert({ messages: [{ role: "user", content: 3 }] }, "messages")).toMatch(/"content" is a number, not text/)
    expect(convert({ conversations: [{ from: "bot", value: "x" }] }, "sharegpt")).toMatch(/turn 0 has unknown "from" "bot"/)
    expect(convert({ instruction: "x" }, "alpaca")).toMatch(/no "output" field \(its fields: instruction\)/)
    expect(convert({ text: "x" }, "messages")).toMatch(/no "messages" field/)
  })
})

const lines = (records: ReadonlyArray<unknown>) => records.map((r) => JSON.stringify(r)).join("\n") + "\n"
const collect = (file: string, format?: ConversationFormat | "auto") =>
  Stream.runCollect(readConversations(file, format === undefined ? {} : { format }))
const errorOf = (file: string, format?: ConversationFormat | "auto") =>
  Effect.flip(collect(file, format)).pipe(Effect.map((e) => {
    expect(e).toBeInstanceOf(ConversationError)
    return e
  }))

describe("readConversations", () => {
  it.effect("reads JSONL, a JSON array and JSON Lines named .json, in order, telling the format from the first record", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const dir = yield* fs.makeTempDirectoryScoped()
      const records = [
        { messages: [{ role: "user", content: "a" }, { role: "assistant", content: "b" }] },
        { messages: [{ role: "user", content: "c" }, { role: "assistant", content: "d" }] }
      ]
      yield* fs.writeFileString(`${dir}/m.jsonl`, lines(records))
      yield* fs.writeFileString(`${dir}/m.json`, JSON.stringify(records, null, 2))
      yield* fs.writeFileString(`${dir}/lines.json`, lines(records))
      for (const file of ["m.jsonl", "m.json", "lines.json"]) {
        const got = yield* collect(`${dir}/${file}`)
        expect(got.map((c) => c.conversation.messages)).toEqual(records.map((r) => r.messages))
        expect(got.map((c) => c.conversation.id)).toEqual([`${dir}/${file}/0`, `${dir}/${file}/1`])
      }
      // The pretty-printed array's records start on lines 2 and 14.
      expect((yield* collect(`${dir}/m.json`)).map((c) => c.location)).toEqual(["line 2", "line 14"])
    }).pipe(Effect.scoped, Effect.provide(NodeServices.layer)))

  it.effect("reads SmolTalk's Parquet layout (messages as a list of structs)", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const dir = yield* fs.makeTempDirectoryScoped()
      const messages = [
        [{ content: "Hi", role: "user" }, { content: "Hello", role: "assistant" }],
        [{ content: "2+2?", role: "user" }, { content: "4", role: "assistant" }],
        [{ content: "x", role: "narrator" }]
      ]
      const buffer = parquetWriteBuffer({
        columnData: [{ name: "messages", data: messages }, { name: "source", data: ["a", "b", "c"] }],
        schema: [
          { name: "root", num_children: 2 },
          { name: "messages", repetition_type: "OPTIONAL", converted_type: "LIST", num_children: 1 },
          { name: "list", repetition_type: "REPEATED", num_children: 1 },
          { name: "element", repetition_type: "OPTIONAL", num_children: 2 },
          { name: "content", repetition_type: "OPTIONAL", type: "BYTE_ARRAY", converted_type: "UTF8" },
          { name: "role", repetition_type: "OPTIONAL", type: "BYTE_ARRAY", converted_type: "UTF8" },
          { name: "source", repetition_type: "OPTIONAL", type: "BYTE_ARRAY", converted_type: "UTF8" }
        ],
        rowGroupSize: 2
      })
      yield* fs.writeFile(`${dir}/smoltalk.parquet`, new Uint8Array(buffer))
      const first = yield* Stream.runCollect(readConversations(`${dir}/smoltalk.parquet`).pipe(Stream.take(2)))
      expect(first.map((c) => c.conversation.messages)).toEqual([
        [{ role: "user", content: "Hi" }, { role: "assistant", content: "Hello" }],
        [{ role: "user", content: "2+2?" }, { role: "assistant", content: "4" }]
      ])
      expect(first.map((c) => c.location)).toEqual(["row 0", "row 1"])
      const e = yield* errorOf(`${dir}/smoltalk.parquet`)
      expect(e.message).toBe(`${dir}/smoltalk.parquet (row 2): message 0 has unknown role "narrator" (expected system, user, assistant, tool)`)
    }).pipe(Effect.scoped, Effect.provide(NodeServices.layer)))

  it.effect("a bad record fails the read with the file and its line", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const dir = yield* fs.makeTempDirectoryScoped()
      const good = { messages: [{ role: "user", content: "a" }, { role: "assistant", content: "b" }] }
      yield* fs.writeFileString(`${dir}/role.jsonl`, lines([good, good, { messages: [{ role: "wizard", content: "x" }] }]))
      expect((yield* errorOf(`${dir}/role.jsonl`)).message).toMatch(new RegExp(`^${dir}/role\\.jsonl:3: message 0 has unknown role "wizard"`))
      yield* fs.writeFileString(`${dir}/empty.jsonl`, lines([good, { messages: [] }]))
      expect((yield* errorOf(`${dir}/empty.jsonl`)).message).toBe(`${dir}/empty.jsonl:2: empty conversation`)
      yield* fs.writeFileString(`${dir}/alpaca.json`, JSON.stringify([{ instruction: "a", output: "b" }, { instruction: "c" }], null, 2))
      expect((yield* errorOf(`${dir}/alpaca.json`)).message).toBe(`${dir}/alpaca.json:6: the record has no "output" field (its fields: instruction)`)
      // A record of another layout in a file whose first record set the format is a missing field, at its line.
      yield* fs.writeFileString(`${dir}/mixed.jsonl`, lines([good, { conversations: [{ from: "human", value: "x" }] }]))
      expect((yield* errorOf(`${dir}/mixed.jsonl`)).message).toMatch(new RegExp(`^${dir}/mixed\\.jsonl:2: no "messages" field`))
      yield* fs.writeFileString(`${dir}/json.jsonl`, `${JSON.stringify(good)}\n{"messages": [\n`)
      expect((yield* errorOf(`${dir}/json.jsonl`)).message).toMatch(new RegExp(`^${dir}/json\\.jsonl:2: not JSON`))
      yield* fs.writeFileString(`${dir}/unknown.jsonl`, lines([{ text: "plain" }]))
      expect((yield* errorOf(`${dir}/unknown.jsonl`)).message).toMatch(/unknown\.jsonl:1: no "messages", "conversations" or "instruction" field .*fields: text.*--format/)
      // With the format given, the same record is a missing field.
      expect((yield* errorOf(`${dir}/unknown.jsonl`, "alpaca")).message).toMatch(/unknown\.jsonl:1: the record has no "instruction" field/)
    }).pipe(Effect.scoped, Effect.provide(NodeServices.layer)))
})
