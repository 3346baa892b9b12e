import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { parquetWriteBuffer } from "hyparquet-writer"
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import * as path from "node:path"
import { buildInstances, generationRequests, logLikelihoodRequests } from "../../src/eval/evaluate.ts"
import { loadMmlu, loadPiqa, readParquetRows } from "../../src/eval/loaders.ts"
import { builtinTasks, loadTask, type TaskSpec } from "../../src/eval/tasks.ts"

/**
 * Hugging Face dataset Parquet files (as `datasets` / pyarrow write them: optional columns, `choices` a struct of
 * two string lists, lists in the 3-level LIST layout, integer columns INT64) must give the same documents and the
 * same requests, character for character, as the equivalent HF JSONL rows.
 */

const tmp = () => mkdtempSync(path.join(tmpdir(), "smol-evalpq-"))
const jsonl = (rows: ReadonlyArray<unknown>) => rows.map((r) => JSON.stringify(r)).join("\n") + "\n"

type Column = "string" | "int64" | "strings" | { readonly [field: string]: Column }

// Minimal SchemaElement shape (hyparquet's type), spelled out to keep the fixture helper self-contained.
interface Element {
  name: string
  type?: "BYTE_ARRAY" | "INT64"
  converted_type?: "UTF8" | "LIST"
  repetition_type: "OPTIONAL" | "REPEATED" | "REQUIRED"
  num_children?: number
}

/** Arrow's Parquet schema for one column: strings are UTF8, lists are `name (LIST) / list / element`. */
const elements = (name: string, col: Column): Array<Element> => {
  if (col === "string") return [{ name, type: "BYTE_ARRAY", converted_type: "UTF8", repetition_type: "OPTIONAL" }]
  if (col === "int64") return [{ name, type: "INT64", repetition_type: "OPTIONAL" }]
  if (col === "strings") {
    return [
      { name, converted_type: "LIST", repetition_type: "OPTIONAL", num_children: 1 },
      { name: "list", repetition_type: "REPEATED", num_children: 1 },
      { name: "element", type: "BYTE_ARRAY", converted_type: "UTF8", repetition_type: "OPTIONAL" }
    ]
  }
  const fields = Object.entries(col)
  return [{ name, repetition_type: "OPTIONAL", num_children: fields.length }, ...fields.flatMap(([f, c]) => elements(f, c))]
}

const toParquetValue = (col: Column, v: unknown): unknown => (col === "int64" && typeof v === "number" ? BigInt(v) : v)

/** Writes `rows` as a Parquet file with HF's column layout; values missing from a row are written as nulls. */
const writeParquet = (file: string, columns: Record<string, Column>, rows: ReadonlyArray<Record<string, unknown>>) => {
  const names = Object.keys(columns)
  const buf = parquetWriteBuffer({
    columnData: names.map((name) => ({ name, data: rows.map((r) => toParquetValue(columns[name]!, r[name] ?? null)) })),
    schema: [{ name: "schema", repetition_type: "REQUIRED", num_children: names.length }, ...names.flatMap((n) => elements(n, columns[n]!))] as never
  })
  writeFileSync(file, new Uint8Array(buf))
}

const spec = (name: string) => builtinTasks.find((t) => t.name === name)!

/** Every request the task sends (log-likelihood or generation) for `files`, after lighteval's shuffle. */
const requestsOf = (s: TaskSpec, dir: string, files: Array<string>, fewshotFiles?: Array<string>) =>
  Effect.gen(function*() {
    const task = yield* loadTask({ ...s, files, ...(fewshotFiles === undefined ? {} : { fewshotFiles }) }, dir)
    const instances = yield* buildInstances(task, {})
    return {
      docs: task.docs,
      contexts: instances.map((i) => i.context),
      requests: s.generation === undefined ? logLikelihoodRequests(instances) : generationRequests(s, instances)
    }
  })

/** Writes `rows` as `name.jsonl` and `name.parquet` in `dir` and returns both paths. */
const both = (dir: string, name: string, columns: Record<string, Column>, rows: ReadonlyArray<Record<string, unknown>>) => {
  const j = path.join(dir, `${name}.jsonl`)
  const p = path.join(dir, `${name}.parquet`)
  writeFileSync(j, jsonl(rows))
  writeParquet(p, columns, rows)
  return [j, p] as const
}

const sameRequests = (names: ReadonlyArray<string>, j: string, p: string, dir: string, fewshot?: readonly [string, string]) =>
  Effect.gen(function*() {
    for (const name of names) {
      const fromJsonl = yield* requestsOf(spec(name), dir, [j], fewshot && [fewshot[0]])
      const fromParquet = yield* requestsOf(spec(name), dir, [p], fewshot && [fewshot[1]])
      expect(fromParquet, name).toEqual(fromJsonl)
      expect(fromJsonl.requests.length, name).toBeGreaterThan(0)
    }
  })

const choicesStruct: Column = { text: "strings", label: "strings" }

describe("Hugging Face Parquet files give the same prompts as the HF JSONL rows", () => {
  it.effect("ARC (allenai/ai2_arc): arc:easy and arc:challenge", () =>
    Effect.gen(function*() {
      const dir = tmp()
      const rows = [
        { id: "Mercury_1", question: "Which gas do plants take in?", choices: { text: ["oxygen", "carbon dioxide", "helium"], label: ["A", "B", "C"] }, answerKey: "B" },
        { id: "NYSEDREGENTS_2", question: "What is 2 + 2?", choices: { text: ["3", "4", "5", "6"], label: ["1", "2", "3", "4"] }, answerKey: "2" }
      ]
      const [j, p] = both(dir, "test", { id: "string", question: "string", choices: choicesStruct, answerKey: "string" }, rows)
      yield* sameRequests(["arc:easy", "arc:challenge"], j, p, dir)
      const { requests } = yield* requestsOf(spec("arc:easy"), dir, [p])
      expect(requests).toContainEqual({ context: "Question: What is 2 + 2?\nAnswer:", continuation: " 4" })
    }))

  it.effect("OpenBookQA (allenai/openbookqa)", () =>
    Effect.gen(function*() {
      const dir = tmp()
      const rows = [
        { id: "7-980", question_stem: "The sun is responsible for", choices: { text: ["puppies learning new tricks", "plants sprouting, blooming and wilting"], label: ["A", "B"] }, answerKey: "B" },
        { id: "7-584", question_stem: "When standing miles away from Mount Rushmore", choices: { text: ["the mountains seem very close", "the mountains seem smaller"], label: ["A", "B"] }, answerKey: "B" }
      ]
      const [j, p] = both(dir, "test", { id: "string", question_stem: "string", choices: choicesStruct, answerKey: "string" }, rows)
      yield* sameRequests(["openbook_qa"], j, p, dir)
    }))

  it.effect("HellaSwag (Rowan/hellaswag, string labels, WikiHow markers), and a folder of Parquet shards", () =>
    Effect.gen(function*() {
      const dir = tmp()
      const row = (i: number, label: string) => ({
        ind: 24 + i,
        activity_label: "Roof shingle removal",
        ctx_a: "A man is sitting on a roof.",
        ctx_b: "he",
        ctx: "A man is sitting on a roof. he",
        endings: [`is using wrap to wrap a pair of skis. [title] ${i}`, "is ripping level tiles off.", "is holding a rubik's cube.", "starts pulling up roofing on a roof."],
        source_id: "activitynet~v_-JhWjGDPHMY",
        split: "val",
        split_type: "indomain",
        label
      })
      const rows = [row(0, "3"), row(1, "0")]
      const columns: Record<string, Column> = {
        ind: "int64", activity_label: "string", ctx_a: "string", ctx_b: "string", ctx: "string", endings: "strings",
        source_id: "string", split: "string", split_type: "string", label: "string"
      }
      const [j, p] = both(dir, "validation", columns, rows)
      yield* sameRequests(["hellaswag"], j, p, dir)
      // The default layout (a `hellaswag` folder) picks up HF shards.
      mkdirSync(path.join(dir, "hellaswag"))
      writeParquet(path.join(dir, "hellaswag", "validation-00000-of-00001.parquet"), columns, rows)
      const task = yield* loadTask(spec("hellaswag"), dir)
      expect(task.docs).toEqual((yield* requestsOf(spec("hellaswag"), dir, [j])).docs)
    }))

  it.effect("PIQA (ybisk/piqa, INT64 labels); a bad row names the file and row", () =>
    Effect.gen(function*() {
      const dir = tmp()
      const rows = [
        { goal: "How do I ready a guinea pig cage for it's new occupants?", sol1: "Provide the guinea pig with a cage full of a few inches of bedding.", sol2: "Provide the guinea pig with a cage full of a few inches of dirt.", label: 0 },
        { goal: "dresser", sol1: "replace drawer with bobby pin", sol2: "finish, woodwork", label: 1 }
      ]
      const columns: Record<string, Column> = { goal: "string", sol1: "string", sol2: "string", label: "int64" }
      const [j, p] = both(dir, "validation", columns, rows)
      yield* sameRequests(["piqa"], j, p, dir)
      expect((yield* loadPiqa([p])).map((r) => r.label)).toEqual([0, 1])
      const bad = path.join(dir, "bad.parquet")
      writeParquet(bad, columns, [rows[0]!, { goal: "g", sol1: "a", label: 1 }])
      const e = yield* Effect.flip(loadPiqa([bad]))
      expect([e._tag, e.file, e.location]).toEqual(["EvalDataError", bad, "row 2"])
      expect(e.message).toContain(`"sol2" must be a string, got null`)
      const notParquet = path.join(dir, "broken.parquet")
      writeFileSync(notParquet, "not parquet at all")
      const e2 = yield* Effect.flip(readParquetRows(notParquet))
      expect([e2.file, e2.location]).toEqual([notParquet, "file"])
    }))

  it.effect("CommonsenseQA (tau/commonsense_qa)", () =>
    Effect.gen(function*() {
      const dir = tmp()
      const rows = [
        { id: "1afa02df02c908a558b4036e80242fac", question: "A revolving door is convenient for two direction travel, but it also serves as a security measure at a what?", question_concept: "revolving door", choices: { label: ["A", "B", "C", "D", "E"], text: ["bank", "library", "department store", "mall", "new york"] }, answerKey: "A" },
        { id: "a7ab086045575bb497933726e4e6ad28", question: "What do people aim to do at work?", question_concept: "people", choices: { label: ["A", "B", "C", "D", "E"], text: ["complete job", "learn from each other", "kill animals", "wear hats", "talk to each other"] }, answerKey: "A" }
      ]
      const [j, p] = both(dir, "validation", { id: "string", question: "string", question_concept: "string", choices: { label: "strings", text: "strings" }, answerKey: "string" }, rows)
      yield* sameRequests(["commonsense_qa"], j, p, dir)
    }))

  it.effect("Winogrande (allenai/winogrande): winogrande and winogrande:partial", () =>
    Effect.gen(function*() {
      const dir = tmp()
      const rows = [
        { sentence: "Sarah was a much better surgeon than Maria so _ always got the harder cases.", option1: "Sarah", option2: "Maria", answer: "1" },
        { sentence: "The trophy doesn't fit into the brown suitcase because the _ is too large.", option1: "trophy", option2: "suitcase", answer: "1" }
      ]
      const [j, p] = both(dir, "validation", { sentence: "string", option1: "string", option2: "string", answer: "string" }, rows)
      yield* sameRequests(["winogrande", "winogrande:partial"], j, p, dir)
    }))

  it.effect("MMLU (cais/mmlu, INT64 answers): cloze and MCF, equal to the per-subject CSVs too", () =>
    Effect.gen(function*() {
      const dir = tmp()
      const q = (subject: string, i: number, answer: number) => ({ question: `${subject} question ${i}, "quoted"?`, subject, choices: [`a${i}`, `b${i}`, `c${i}`, `d${i}`], answer })
      const test = [q("abstract_algebra", 1, 2), q("anatomy", 2, 0), q("abstract_algebra", 3, 3)]
      const dev = [q("abstract_algebra", 10, 1), q("anatomy", 11, 3), q("abstract_algebra", 12, 0)]
      const columns: Record<string, Column> = { question: "string", subject: "string", choices: "strings", answer: "int64" }
      const [j, p] = both(dir, "test", columns, test)
      const fewshot = both(dir, "dev", columns, dev)
      yield* sameRequests(["mmlu", "mmlu_mcf"], j, p, dir, fewshot)
      // The same questions as original per-subject CSVs (letter answers, no header).
      const csv = (rows: typeof test, split: string) => {
        const folder = path.join(dir, `csv-${split}`)
        mkdirSync(folder)
        for (const subject of new Set(rows.map((r) => r.subject))) {
          const lines = rows.filter((r) => r.subject === subject).map((r) =>
            [r.question, ...r.choices].map((f) => `"${f.replaceAll("\"", "\"\"")}"`).join(",") + "," + "ABCD"[r.answer]
          )
          writeFileSync(path.join(folder, `${subject}_${split}.csv`), lines.join("\n") + "\n")
        }
        return folder
      }
      const fromCsv = yield* requestsOf(spec("mmlu_mcf"), dir, [csv(test, "test")], [csv(dev, "dev")])
      const fromParquet = yield* requestsOf(spec("mmlu_mcf"), dir, [p], [fewshot[1]])
      // CSV folders are read subject by subject, so the documents come in another order; the set is the same.
      const sorted = (xs: ReadonlyArray<{ context: string; continuation: string }>) => [...xs].map((r) => JSON.stringify(r)).sort()
      expect(sorted(fromParquet.requests as Array<{ context: string; continuation: string }>)).toEqual(sorted(fromCsv.requests as Array<{ context: string; continuation: string }>))
      // HF per-subject shards without a subject column take the folder's name.
      mkdirSync(path.join(dir, "anatomy"))
      const shard = path.join(dir, "anatomy", "test-00000-of-00001.parquet")
      writeParquet(shard, { question: "string", choices: "strings", answer: "int64" }, [{ question: "Q", choices: ["w", "x", "y", "z"], answer: 1 }])
      expect(yield* loadMmlu([shard])).toEqual([{ subject: "anatomy", question: "Q", choices: ["w", "x", "y", "z"], answer: 1 }])
      const bad = path.join(dir, "bad.parquet")
      writeParquet(bad, columns, [q("anatomy", 1, 0), q("anatomy", 2, 7)])
      const e = yield* Effect.flip(loadMmlu([bad]))
      expect([e.file, e.location, e.message]).toEqual([bad, "row 2", "answer must be 0-3 or A-D, got 7"])
    }))

  it.effect("GSM8K (openai/gsm8k): 5-shot generation requests, few-shot pool from train Parquet", () =>
    Effect.gen(function*() {
      const dir = tmp()
      const q = (i: number) => ({ question: `Natalia sold ${i} clips. How many?`, answer: `She sold ${i}.\n#### ${i}` })
      const [j, p] = both(dir, "test", { question: "string", answer: "string" }, [1, 2, 3].map(q))
      const fewshot = both(dir, "train", { question: "string", answer: "string" }, [10, 11, 12, 13, 14, 15, 16, 17].map(q))
      yield* sameRequests(["gsm8k"], j, p, dir, fewshot)
      const { contexts } = yield* requestsOf(spec("gsm8k"), dir, [p], [fewshot[1]])
      expect(contexts[0]!.split("\n\n").length).toBe(6)
    }))
})
