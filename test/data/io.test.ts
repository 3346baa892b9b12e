import { describe, expect, it } from "@effect/vitest"
import { Effect, Exit, Stream } from "effect"
import { mkdtempSync, readdirSync, readFileSync, writeFileSync, mkdirSync } from "node:fs"
import { tmpdir } from "node:os"
import * as path from "node:path"
import { gzipSync, gunzipSync } from "node:zlib"
import { makeDocument } from "../../src/data/Document.ts"
import { ReadError } from "../../src/data/errors.ts"
import { type Quarantined, readDocuments } from "../../src/data/io/readers.ts"
import { makeWriter } from "../../src/data/io/writers.ts"

const tmp = () => mkdtempSync(path.join(tmpdir(), "smol-io-"))
const jsonl = (rows: ReadonlyArray<unknown>) => rows.map((r) => JSON.stringify(r)).join("\n") + "\n"

const failure = <A>(exit: Exit.Exit<A, unknown>): ReadError => {
  if (!Exit.isFailure(exit)) throw new Error("expected a failure")
  const f = exit.cause.reasons.find((r) => r._tag === "Fail") as { error: unknown } | undefined
  expect(f?.error).toBeInstanceOf(ReadError)
  return f!.error as ReadError
}

describe("readers", () => {
  it.effect("reads JSONL and gzipped JSONL with text_key, id_key, default metadata and limit", () =>
    Effect.gen(function*() {
      const dir = tmp()
      writeFileSync(path.join(dir, "a.jsonl"), jsonl([{ content: "one", uid: 1, url: "u1" }, { content: "two", uid: 2 }]))
      writeFileSync(path.join(dir, "b.jsonl.gz"), gzipSync(jsonl([{ content: "three" }])))
      const docs = yield* Stream.runCollect(
        readDocuments([dir], { textKey: "content", idKey: "uid", defaultMetadata: { dump: "CC-1" } })
      )
      expect(docs.map((d) => [d.id, d.text])).toEqual([["1", "one"], ["2", "two"], [`${path.join(dir, "b.jsonl.gz")}/0`, "three"]])
      expect(docs[0]!.metadata).toEqual({ dump: "CC-1", url: "u1" })
      const limited = yield* Stream.runCollect(readDocuments([dir], { textKey: "content", limit: 2 }))
      expect(limited.length).toBe(2)
    }))

  it.effect("a malformed line is a ReadError naming the file and line", () =>
    Effect.gen(function*() {
      const dir = tmp()
      const file = path.join(dir, "bad.jsonl")
      writeFileSync(file, `${JSON.stringify({ text: "ok" })}\n\n{"text": "broken"\n`)
      const e = failure(yield* Effect.exit(Stream.runCollect(readDocuments([file]))))
      expect(e.file).toBe(file)
      expect(e.location).toBe("line 3")
      // The message alone says where (it is printed far from here): FILE:LINE, and the column within the line.
      expect(e.message).toBe(`${file}:3: malformed JSON at column 18: Expected ',' or '}' after property value`)
    }))

  it.effect("a record without the text field names the file, the line and the fields it has", () =>
    Effect.gen(function*() {
      const file = path.join(tmp(), "notext.jsonl")
      writeFileSync(file, jsonl([{ text: "ok" }, { id: "b", body: "the text is here" }]))
      const e = failure(yield* Effect.exit(Stream.runCollect(readDocuments([file]))))
      expect(e.location).toBe("line 2")
      expect(e.message).toBe(`${file}:2: no "text" field (its fields: id, body)`)
    }))

  it.effect("a truncated .gz file is a ReadError naming the file and the line where the data ends", () =>
    Effect.gen(function*() {
      const file = path.join(tmp(), "cut.jsonl.gz")
      const rows = Array.from({ length: 2000 }, (_, i) => ({ id: `d${i}`, text: `document ${i} `.repeat(20) }))
      const whole = gzipSync(jsonl(rows))
      writeFileSync(file, whole.subarray(0, whole.length >> 1))
      const e = failure(yield* Effect.exit(Stream.runCollect(readDocuments([file]))))
      expect(e.file).toBe(file)
      const line = Number(/^line (\d+)$/.exec(e.location)?.[1])
      expect(line).toBeGreaterThan(1)
      expect(line).toBeLessThan(2000)
      expect(e.message).toBe(
        `${file}:${line}: gzip data ends or breaks after line ${line - 1} (is the file truncated or corrupt?): unexpected end of file`
      )
    }))

  it.effect("with quarantine, bad records are handed over and counted, good ones still flow", () =>
    Effect.gen(function*() {
      const dir = tmp()
      const file = path.join(dir, "mixed.jsonl")
      writeFileSync(file, [JSON.stringify({ text: "a" }), "not json", JSON.stringify({ nope: 1 }), JSON.stringify({ text: "b" })].join("\n"))
      const q: Array<Quarantined> = []
      const docs = yield* Stream.runCollect(readDocuments([file], { quarantine: (x) => q.push(x) }))
      expect(docs.map((d) => d.text)).toEqual(["a", "b"])
      expect(q.map((x) => x.location)).toEqual(["line 2", "line 3"])
      expect(q[1]!.message).toContain("no \"text\" field")
    }))

  it.effect("globs and recursion select files, sorted, and rank/worldSize shard them", () =>
    Effect.gen(function*() {
      const dir = tmp()
      mkdirSync(path.join(dir, "sub"))
      for (const [name, text] of [["x1.jsonl", "1"], ["x2.jsonl", "2"], ["sub/x3.jsonl", "3"], ["skip.txt", "?"]]) {
        writeFileSync(path.join(dir, name), jsonl([{ text }]))
      }
      const all = yield* Stream.runCollect(readDocuments([dir]))
      expect(all.map((d) => d.text)).toEqual(["3", "1", "2"])
      const top = yield* Stream.runCollect(readDocuments([dir], { recursive: false }))
      expect(top.map((d) => d.text)).toEqual(["1", "2"])
      const globbed = yield* Stream.runCollect(readDocuments([dir], { glob: "**/x3.jsonl" }))
      expect(globbed.map((d) => d.text)).toEqual(["3"])
      const r0 = yield* Stream.runCollect(readDocuments([dir], { rank: 0, worldSize: 2 }))
      const r1 = yield* Stream.runCollect(readDocuments([dir], { rank: 1, worldSize: 2 }))
      expect([...r0, ...r1].map((d) => d.text).sort()).toEqual(["1", "2", "3"])
    }))

  it.effect("a corrupt Parquet file is a ReadError, not a crash", () =>
    Effect.gen(function*() {
      const file = path.join(tmp(), "broken.parquet")
      writeFileSync(file, "PAR1 this is not parquet")
      const e = failure(yield* Effect.exit(Stream.runCollect(readDocuments([file]))))
      expect(e.file).toBe(file)
      expect(e.location).toBe("file")
      expect(e.message).toMatch(new RegExp(`^${file}: not a readable Parquet file \\(truncated or corrupt\\?\\): `))
    }))

  it.effect("a truncated Parquet file and one with a corrupt row group name the file (and the row group)", () =>
    Effect.gen(function*() {
      const dir = tmp()
      yield* Effect.scoped(Effect.gen(function*() {
        const w = yield* makeWriter({ folder: dir, format: "parquet", rank: 0 })
        yield* w.write(Array.from({ length: 500 }, (_, i) => makeDocument(`d${i}`, `document ${i} `.repeat(30), {})))
      }))
      const whole = readFileSync(path.join(dir, "00000.parquet"))
      const truncated = path.join(dir, "truncated.parquet")
      writeFileSync(truncated, whole.subarray(0, whole.length >> 1))
      const cut = failure(yield* Effect.exit(Stream.runCollect(readDocuments([truncated]))))
      expect(cut.message).toBe(`${truncated}: not a readable Parquet file (truncated or corrupt?): parquet file invalid (footer != PAR1)`)
      // The footer intact, the column data overwritten.
      const corrupt = path.join(dir, "corrupt.parquet")
      const bytes = Buffer.from(whole)
      for (let i = 100; i < bytes.length - 2000; i += 7) bytes[i] = 0x55
      writeFileSync(corrupt, bytes)
      const bad = failure(yield* Effect.exit(Stream.runCollect(readDocuments([corrupt]))))
      expect(bad.location).toBe("row group 0")
      expect(bad.message).toMatch(new RegExp(`^${corrupt} \\(row group 0\\): corrupt row group: `))
    }))
})

describe("writers", () => {
  const docs = [
    makeDocument("a", "alpha", { language: "en", n: 1 }),
    makeDocument("b", "beta", { language: "fr" }),
    makeDocument("c", "gamma\nwith ünïcode", { language: "en" })
  ]
  for (const format of ["jsonl", "parquet", "arrow"] as const) {
    it.effect(`${format}: what is written reads back identically`, () =>
      Effect.gen(function*() {
        const dir = tmp()
        yield* Effect.scoped(Effect.gen(function*() {
          const w = yield* makeWriter({ folder: dir, format, rank: 3 })
          yield* w.write(docs)
        }))
        const files = readdirSync(dir)
        expect(files).toEqual([format === "jsonl" ? "00003.jsonl" : `00003.${format}`])
        const back = yield* Stream.runCollect(readDocuments([dir]))
        expect(back).toEqual(docs)
      }))
  }

  it.effect("names files from ${rank} and metadata keys, gzips, and rolls over by size", () =>
    Effect.gen(function*() {
      const dir = tmp()
      yield* Effect.scoped(Effect.gen(function*() {
        const w = yield* makeWriter({ folder: dir, template: "${language}/${rank}.jsonl.gz", compression: "gzip", rank: 1, maxFileSize: 1 })
        yield* w.write(docs)
      }))
      expect(readdirSync(path.join(dir, "en")).sort()).toEqual(["000_00001.jsonl.gz", "001_00001.jsonl.gz"])
      expect(readdirSync(path.join(dir, "fr"))).toEqual(["000_00001.jsonl.gz"])
      const line = JSON.parse(gunzipSync(readFileSync(path.join(dir, "fr", "000_00001.jsonl.gz"))).toString())
      expect(line).toEqual({ text: "beta", id: "b", metadata: { language: "fr" } })
    }))

  it.effect("a failed task leaves no output file, not even a partial one", () =>
    Effect.gen(function*() {
      const dir = tmp()
      const exit = yield* Effect.exit(Effect.scoped(Effect.gen(function*() {
        const w = yield* makeWriter({ folder: dir })
        yield* w.write(docs)
        return yield* Effect.fail("boom")
      })))
      expect(Exit.isFailure(exit)).toBe(true)
      expect(readdirSync(dir)).toEqual([])
    }))
})
