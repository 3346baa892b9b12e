import { NodeServices } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import { Effect, FileSystem, Schema, Stream } from "effect"
import { JsonlError, readJsonl, writeLinesAtomic } from "../../../src/data/io/jsonl.ts"

const TextLine = Schema.Struct({ text: Schema.String })

describe("JSONL input and output", () => {
  it.effect("reads lines in order with their numbers, and stops at a bad line naming the file and the line", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const dir = yield* fs.makeTempDirectoryScoped()
      yield* fs.writeFileString(`${dir}/good.jsonl`, '{"text":"a"}\n{"text":"b","extra":1}\n')
      const good = yield* Stream.runCollect(readJsonl(`${dir}/good.jsonl`, TextLine))
      expect(good).toEqual([{ line: 1, value: { text: "a" } }, { line: 2, value: { text: "b" } }])

      for (const [content, line, problem] of [
        ['{"text":"a"}\n{"text": 5}\n', 2, "Expected string"],
        ['{"text":"a"}\n{"text":"b"}\nnot json\n', 3, "not JSON"],
        ['{"text":"a"}\n\n{"text":"b"}\n', 2, "blank line"],
        ['{"txt":"a"}\n', 1, "text"]
      ] as const) {
        yield* fs.writeFileString(`${dir}/bad.jsonl`, content)
        const error = yield* Effect.flip(Stream.runCollect(readJsonl(`${dir}/bad.jsonl`, TextLine)))
        expect(error).toBeInstanceOf(JsonlError)
        expect(error.line).toBe(line)
        expect(error.message).toContain(`${dir}/bad.jsonl:${line}: `)
        expect(error.message).toContain(problem)
      }
    }).pipe(Effect.scoped, Effect.provide(NodeServices.layer)))

  it.effect("writes output through a temporary file: complete on success, absent on failure", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const dir = yield* fs.makeTempDirectoryScoped()
      expect(yield* writeLinesAtomic(`${dir}/out.jsonl`, Stream.make("1", "2"))).toBe(2)
      expect(yield* fs.readFileString(`${dir}/out.jsonl`)).toBe("1\n2\n")
      const failed = yield* Effect.flip(writeLinesAtomic(`${dir}/broken.jsonl`, Stream.concat(Stream.make("1"), Stream.fail("input broke"))))
      expect(failed).toBe("input broke")
      expect((yield* fs.readDirectory(dir)).sort()).toEqual(["out.jsonl"])
    }).pipe(Effect.scoped, Effect.provide(NodeServices.layer)))
})
