import { Effect } from "effect"
import { asyncBufferFromFile, parquetReadObjects } from "hyparquet"
import { compressors } from "hyparquet-compressors"
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs"
import * as path from "node:path"
import { gunzipSync } from "node:zlib"
import { dataError, type EvalDataError } from "./errors.ts"
import type { ChoicesRow, MmluRow } from "./prompts.ts"

/**
 * Benchmark files in the formats people have, turned into rows shaped like the Hugging Face dataset each
 * lighteval prompt was written for. Formats accepted per benchmark:
 *  - ARC: HF (`question` string, `choices: {text, label}`), original AI2 (`question: {stem, choices: [{text,
 *    label}]}`), llm-foundry (`query: "Question: …"`, `choices`, `gold`).
 *  - HellaSwag: HF / original jsonl (`activity_label, ctx_a, ctx_b, endings, label`).
 *  - PIQA: HF jsonl with `label`, or the original `X.jsonl` + `X-labels.lst`.
 *  - OpenBookQA: original TSV (`ID, Question Stem, Choices "(A) … (B) …", …, Answer Key`), HF jsonl
 *    (`question_stem, choices, answerKey`) or original jsonl (`question: {stem, choices}`).
 *  - CommonsenseQA: HF jsonl or original jsonl (`question: {stem, choices}`).
 *  - Winogrande: HF / original jsonl (`sentence, option1, option2, answer`, answer optionally from a `.lst`
 *    file), or llm-foundry (`context_options, continuation, gold`).
 *  - MMLU: a folder (or files) of per-subject CSVs, original (no header, letter answers, `<subject>_test.csv`)
 *    or with a `question,choice0..3,answer` header and 0–3 answers; or HF `cais/mmlu` rows (`question, subject,
 *    choices, answer`) from JSONL or Parquet.
 *  - GSM8K: jsonl `question, answer`.
 *  - MATH: rows `problem, solution` (plus `level, type`, `idx`, … ignored) from JSONL or Parquet: Hugging Face
 *    `hendrycks/competition_math` / `EleutherAI/hendrycks_math` files, HuggingFaceTB/math_tasks' `data/math/*.jsonl`.
 * Every JSONL reader above also reads the same rows from the Hugging Face Parquet files of the dataset
 * (`.parquet`, e.g. `allenai/ai2_arc` `ARC-Easy/test-00000-of-00001.parquet`): a Parquet row goes through the
 * same mapping as the JSONL record with the same columns (nested `choices: {text, label}` structs and lists
 * included; 64-bit integers become numbers).
 * Every malformed record fails with an `EvalDataError` naming the file and line (JSONL, CSV) or row (Parquet).
 */

export interface Located<A> {
  readonly file: string
  readonly location: string
  readonly value: A
}

const readText = (file: string): Effect.Effect<string, EvalDataError> =>
  Effect.try({
    try: () => {
      const raw = readFileSync(file)
      return (file.endsWith(".gz") ? gunzipSync(raw) : raw).toString("utf8")
    },
    catch: (e) => dataError(file, "file", unreadable(e), e)
  })

/** Node's message repeats the path, which the error already names; the common case reads plainly. */
const unreadable = (e: unknown): string => {
  const code = (e as NodeJS.ErrnoException).code
  if (code === "ENOENT") return "no such file"
  if (code === "EISDIR") return "is a folder, not a file"
  if (code === "EACCES") return "not readable (permission denied)"
  return `cannot read: ${(e as Error).message}`
}

export const readJsonl = (file: string): Effect.Effect<Array<Located<Record<string, unknown>>>, EvalDataError> =>
  Effect.flatMap(readText(file), (text) =>
    Effect.try({
      try: () => {
        const out: Array<Located<Record<string, unknown>>> = []
        const lines = text.split("\n")
        for (const [i, line] of lines.entries()) {
          if (line.trim() === "") continue
          let value: unknown
          try {
            value = JSON.parse(line)
          } catch (e) {
            throw dataError(file, `line ${i + 1}`, `not JSON: ${(e as Error).message}`)
          }
          if (typeof value !== "object" || value === null || Array.isArray(value)) {
            throw dataError(file, `line ${i + 1}`, "expected a JSON object")
          }
          out.push({ file, location: `line ${i + 1}`, value: value as Record<string, unknown> })
        }
        return out
      },
      catch: (e) => e as EvalDataError
    }))

/** RFC 4180 CSV (quoted fields, doubled quotes, newlines inside quotes); rows carry their starting line. */
export const parseCsv = (text: string, separator = ","): Array<{ line: number; fields: Array<string> }> => {
  const rows: Array<{ line: number; fields: Array<string> }> = []
  let fields: Array<string> = []
  let field = ""
  let quoted = false
  let line = 1
  let rowLine = 1
  let i = 0
  const endRow = () => {
    fields.push(field)
    if (!(fields.length === 1 && fields[0] === "")) rows.push({ line: rowLine, fields })
    fields = []
    field = ""
  }
  while (i < text.length) {
    const c = text[i]!
    if (quoted) {
      if (c === "\"") {
        if (text[i + 1] === "\"") {
          field += "\""
          i += 2
          continue
        }
        quoted = false
      } else {
        if (c === "\n") line++
        field += c
      }
      i++
      continue
    }
    if (c === "\"" && field === "") quoted = true
    else if (c === separator) {
      fields.push(field)
      field = ""
    } else if (c === "\n") {
      endRow()
      line++
      rowLine = line
    } else if (c !== "\r" || text[i + 1] !== "\n") field += c
    i++
  }
  if (field !== "" || fields.length > 0) endRow()
  return rows
}

// ---- record access with errors that say where --------------------------------------------------------------

class FieldError extends Error {}

const str = (r: Record<string, unknown>, key: string): string => {
  const v = r[key]
  if (typeof v !== "string") throw new FieldError(`field "${key}" must be a string, got ${JSON.stringify(v) ?? "nothing"}`)
  return v
}
const strOrNum = (r: Record<string, unknown>, key: string): string | number => {
  const v = r[key]
  if (typeof v !== "string" && typeof v !== "number") throw new FieldError(`field "${key}" must be a string or number`)
  return v
}
const int = (r: Record<string, unknown>, key: string): number => {
  const v = r[key]
  const n = typeof v === "string" && /^-?\d+$/.test(v.trim()) ? Number(v) : v
  if (typeof n !== "number" || !Number.isInteger(n)) throw new FieldError(`field "${key}" must be an integer, got ${JSON.stringify(v) ?? "nothing"}`)
  return n
}
const strings = (v: unknown, what: string): Array<string> => {
  if (!Array.isArray(v) || !v.every((x) => typeof x === "string")) throw new FieldError(`${what} must be an array of strings`)
  return v as Array<string>
}
const obj = (v: unknown, what: string): Record<string, unknown> => {
  if (typeof v !== "object" || v === null || Array.isArray(v)) throw new FieldError(`${what} must be an object`)
  return v as Record<string, unknown>
}

/** `{text: [...], label: [...]}` (HF) or `[{text, label}, ...]` (original AI2 releases). */
const choicesOf = (v: unknown): ChoicesRow => {
  if (Array.isArray(v)) {
    const items = v.map((c, i) => obj(c, `choices[${i}]`))
    return { text: items.map((c) => str(c, "text")), label: items.map((c) => str(c, "label")) }
  }
  const o = obj(v, "choices")
  const text = strings(o.text, "choices.text")
  const label = strings(o.label, "choices.label")
  if (text.length !== label.length) throw new FieldError("choices.text and choices.label differ in length")
  return { text, label }
}

const convert = <A>(records: ReadonlyArray<Located<Record<string, unknown>>>, f: (r: Record<string, unknown>, index: number) => A) =>
  Effect.try({
    try: () =>
      records.map((rec, i) => {
        try {
          return f(rec.value, i)
        } catch (e) {
          throw dataError(rec.file, rec.location, (e as Error).message)
        }
      }),
    catch: (e) => e as EvalDataError
  })

/** Records of a `.parquet` file (by row) or a `.jsonl[.gz]` file (by line). */
export const readRecords = (file: string): Effect.Effect<Array<Located<Record<string, unknown>>>, EvalDataError> =>
  isParquet(file) ? readParquetRows(file) : readJsonl(file)

const isParquet = (file: string) => /\.parquet$/i.test(file)

const jsonlRows = <A>(files: ReadonlyArray<string>, f: (r: Record<string, unknown>, index: number) => A) =>
  Effect.map(
    Effect.forEach(files, (file) => Effect.flatMap(readRecords(file), (recs) => convert(recs, f))),
    (xs) => xs.flat()
  )

// ---- benchmarks ----------------------------------------------------------------------------------------------

export interface ArcRow {
  readonly question: string
  readonly choices: ChoicesRow
  readonly answerKey: string
}

export const arcRow = (r: Record<string, unknown>): ArcRow => {
  if (typeof r.query === "string" && "gold" in r) {
    // llm-foundry's conversion: "Question: " prefixed, gold an index; labels rebuilt as letters.
    const text = strings(r.choices, "choices")
    const gold = int(r, "gold")
    if (gold < 0 || gold >= text.length) throw new FieldError(`gold ${gold} is out of range for ${text.length} choices`)
    const label = text.map((_, i) => String.fromCharCode(65 + i))
    return { question: r.query.replace(/^Question: /, ""), choices: { text, label }, answerKey: label[gold]! }
  }
  if (typeof r.question === "object") {
    const q = obj(r.question, "question")
    return { question: str(q, "stem"), choices: choicesOf(q.choices), answerKey: str(r, "answerKey") }
  }
  return { question: str(r, "question"), choices: choicesOf(r.choices), answerKey: str(r, "answerKey") }
}

export const loadArc = (files: ReadonlyArray<string>) => jsonlRows(files, arcRow)

export const loadHellaswag = (files: ReadonlyArray<string>) =>
  jsonlRows(files, (r) => ({
    activity_label: str(r, "activity_label"),
    ctx_a: str(r, "ctx_a"),
    ctx_b: str(r, "ctx_b"),
    endings: strings(r.endings, "endings"),
    label: strOrNum(r, "label")
  }))

/** `X-labels.lst` next to `X.jsonl` (PIQA and Winogrande releases), one label per line. */
const labelsBeside = (file: string): Effect.Effect<Array<string> | undefined, EvalDataError> => {
  const candidate = file.replace(/\.jsonl(\.gz)?$/, "-labels.lst")
  if (candidate === file || !existsSync(candidate)) return Effect.succeed(undefined)
  return Effect.map(readText(candidate), (t) => t.split("\n").map((l) => l.trim()).filter((l) => l !== ""))
}

const withLabels = <A>(
  file: string,
  key: string,
  f: (r: Record<string, unknown>) => A
): Effect.Effect<Array<A>, EvalDataError> =>
  Effect.gen(function*() {
    const recs = yield* readRecords(file)
    const labels = isParquet(file) ? undefined : yield* labelsBeside(file)
    if (labels !== undefined && labels.length !== recs.length) {
      return yield* Effect.fail(
        dataError(file, "file", `${recs.length} records but ${labels.length} labels in the -labels.lst file beside it`)
      )
    }
    return yield* convert(recs, (r, i) => f(labels === undefined ? r : { ...r, [key]: labels[i] }))
  })

export const loadPiqa = (files: ReadonlyArray<string>) =>
  Effect.map(
    Effect.forEach(files, (file) =>
      withLabels(file, "label", (r) => ({ goal: str(r, "goal"), sol1: str(r, "sol1"), sol2: str(r, "sol2"), label: int(r, "label") }))),
    (x) => x.flat()
  )

const obqaChoices = (s: string): ChoicesRow => {
  const parts = s.split(/\(([A-E])\) /).slice(1)
  const text: Array<string> = []
  const label: Array<string> = []
  for (let i = 0; i < parts.length; i += 2) {
    label.push(parts[i]!)
    text.push(parts[i + 1]!.trim())
  }
  if (text.length < 2) throw new FieldError(`cannot read choices from ${JSON.stringify(s)}`)
  return { text, label }
}

export interface ObqaRow {
  readonly question_stem: string
  readonly choices: ChoicesRow
  readonly answerKey: string
}

export const loadOpenbookqa = (files: ReadonlyArray<string>): Effect.Effect<Array<ObqaRow>, EvalDataError> =>
  Effect.map(
    Effect.forEach(files, (file) => {
      if (!/\.tsv$/.test(file)) {
        return jsonlRows([file], (r): ObqaRow => {
          if (typeof r.question === "object") {
            const q = obj(r.question, "question")
            return { question_stem: str(q, "stem"), choices: choicesOf(q.choices), answerKey: str(r, "answerKey") }
          }
          return { question_stem: str(r, "question_stem"), choices: choicesOf(r.choices), answerKey: str(r, "answerKey") }
        })
      }
      return Effect.flatMap(readText(file), (text) =>
        Effect.try({
          try: () => {
            const rows = parseCsv(text, "\t")
            const header = rows[0]?.fields ?? []
            const at = (name: string) => {
              const i = header.indexOf(name)
              if (i === -1) throw dataError(file, "line 1", `header has no "${name}" column`)
              return i
            }
            const [stem, choices, key] = [at("Question Stem"), at("Choices"), at("Answer Key")]
            return rows.slice(1).map((row) => {
              try {
                return { question_stem: row.fields[stem]!, choices: obqaChoices(row.fields[choices] ?? ""), answerKey: row.fields[key] ?? "" }
              } catch (e) {
                throw dataError(file, `line ${row.line}`, (e as Error).message)
              }
            })
          },
          catch: (e) => e as EvalDataError
        }))
    }),
    (x) => x.flat()
  )

export const loadCommonsenseQa = (files: ReadonlyArray<string>) =>
  jsonlRows(files, (r) => {
    if (typeof r.question === "object") {
      const q = obj(r.question, "question")
      return { question: str(q, "stem"), choices: choicesOf(q.choices), answerKey: str(r, "answerKey") }
    }
    return { question: str(r, "question"), choices: choicesOf(r.choices), answerKey: str(r, "answerKey") }
  })

export interface WinograndeRow {
  readonly sentence: string
  readonly option1: string
  readonly option2: string
  readonly answer: string
}

/**
 * llm-foundry's conversion keeps only the two filled-in prefixes and the rest of the sentence; the blank is
 * where they start to differ, moved back to a word boundary (options are whole words). Options that begin
 * with the same word(s) ("the old man" / "the young man") are split after the shared words, which changes the
 * scored text; use the original jsonl for exact lighteval numbers.
 */
const fromFoundryWinogrande = (r: Record<string, unknown>): WinograndeRow => {
  const [a, b] = strings(r.context_options, "context_options")
  if (a === undefined || b === undefined) throw new FieldError("context_options must hold two contexts")
  let k = 0
  while (k < a.length && k < b.length && a[k] === b[k]) k++
  while (k > 0 && !/\s/.test(a[k - 1]!)) k--
  const gold = int(r, "gold")
  return {
    sentence: a.slice(0, k) + "_ " + str(r, "continuation"),
    option1: a.slice(k),
    option2: b.slice(k),
    answer: String(gold + 1)
  }
}

export const loadWinogrande = (files: ReadonlyArray<string>) =>
  Effect.map(
    Effect.forEach(files, (file) =>
      withLabels(file, "answer", (r): WinograndeRow =>
        "context_options" in r
          ? fromFoundryWinogrande(r)
          : { sentence: str(r, "sentence"), option1: str(r, "option1"), option2: str(r, "option2"), answer: String(strOrNum(r, "answer")) })),
    (x) => x.flat()
  )

/** `<subject>_test.csv` → `subject`; HF shards (`abstract_algebra/test-00000-of-00001.parquet`) → the folder. */
const subjectOfFile = (file: string): string => {
  const base = path.basename(file).replace(/\.(csv|jsonl|jsonl\.gz|parquet)$/i, "")
  if (/^(test|dev|validation|val|train|auxiliary_train)(-\d+-of-\d+)?$/.test(base)) return path.basename(path.dirname(file))
  return base.replace(/_(test|dev|val)$/, "")
}

/** An HF `cais/mmlu` record: `answer` a 0–3 index (the ClassLabel), or a letter; `subject` from the row or the file. */
const mmluRecord = (file: string) => (r: Record<string, unknown>): MmluRow => {
  const choices = strings(r.choices, "choices")
  if (choices.length !== 4) throw new FieldError(`choices must hold 4 answers, got ${choices.length}`)
  const raw = r.answer
  const answer = typeof raw === "string" && /^[A-D]$/.test(raw.trim()) ? raw.trim() : int(r, "answer")
  if (typeof answer === "number" && (answer < 0 || answer > 3)) throw new FieldError(`answer must be 0-3 or A-D, got ${answer}`)
  const subject = typeof r.subject === "string" && r.subject !== "" ? r.subject : subjectOfFile(file)
  return { subject, question: str(r, "question"), choices, answer }
}

/**
 * Per-subject CSVs (the subject is the file name without `_test`/`_dev`/`_val`), or HF JSONL / Parquet rows
 * (the subject is the row's `subject` column).
 */
export const loadMmlu = (files: ReadonlyArray<string>): Effect.Effect<Array<MmluRow>, EvalDataError> =>
  Effect.map(
    Effect.forEach(files, (file) =>
      !/\.csv$/i.test(file) ? Effect.flatMap(readRecords(file), (recs) => convert(recs, mmluRecord(file))) :
      Effect.flatMap(readText(file), (text) =>
        Effect.try({
          try: () => {
            const subject = subjectOfFile(file)
            const rows = parseCsv(text)
            const headed = rows[0]?.fields[0] === "question" && rows[0]?.fields.at(-1) === "answer"
            return rows.slice(headed ? 1 : 0).map((row): MmluRow => {
              const f = row.fields
              if (f.length !== 6) throw dataError(file, `line ${row.line}`, `expected 6 columns (question, 4 choices, answer), got ${f.length}`)
              const raw = f[5]!.trim()
              const answer = /^[0-3]$/.test(raw) ? Number(raw) : /^[A-D]$/.test(raw) ? raw : undefined
              if (answer === undefined) throw dataError(file, `line ${row.line}`, `answer must be 0-3 or A-D, got ${JSON.stringify(raw)}`)
              return { subject, question: f[0]!, choices: f.slice(1, 5), answer }
            })
          },
          catch: (e) => e as EvalDataError
        }))),
    (x) => x.flat()
  )

export const loadGsm8k = (files: ReadonlyArray<string>) =>
  jsonlRows(files, (r) => ({ question: str(r, "question"), answer: str(r, "answer") }))

/**
 * Parquet values as JSON would hold them: INT64 columns (Arrow's default for HF integer columns) arrive as
 * bigints, which become numbers (strings if beyond 2^53, so they fail a field check instead of losing digits).
 */
const plainValues = (v: unknown): unknown => {
  if (typeof v === "bigint") return Number.isSafeInteger(Number(v)) ? Number(v) : String(v)
  if (Array.isArray(v)) return v.map(plainValues)
  if (typeof v === "object" && v !== null && Object.getPrototypeOf(v) === Object.prototype) {
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, plainValues(x)]))
  }
  return v
}

/** Every row of a Parquet file as a record, each located by its row number. */
export const readParquetRows = (file: string): Effect.Effect<Array<Located<Record<string, unknown>>>, EvalDataError> =>
  Effect.tryPromise({
    try: async () => {
      const rows = await parquetReadObjects({ file: await asyncBufferFromFile(file), compressors })
      return rows.map((value, i) => ({ file, location: `row ${i + 1}`, value: plainValues(value) as Record<string, unknown> }))
    },
    catch: (e) => dataError(file, "file", `not a readable Parquet file: ${(e as Error).message}`, e)
  })

export interface MathRow {
  readonly problem: string
  readonly solution: string
}

/** MATH problems from `.jsonl[.gz]` or `.parquet` files. */
export const loadMath = (files: ReadonlyArray<string>): Effect.Effect<Array<MathRow>, EvalDataError> =>
  Effect.map(
    Effect.forEach(files, (file) =>
      Effect.flatMap(readRecords(file), (recs) =>
        convert(recs, (r): MathRow => ({ problem: str(r, "problem"), solution: str(r, "solution") })))),
    (x) => x.flat()
  )

/** A path that is a folder stands for its files with one of `extensions`, sorted; missing paths fail. */
export const expandFiles = (
  paths: ReadonlyArray<string>,
  extensions: ReadonlyArray<string>
): Effect.Effect<Array<string>, EvalDataError> =>
  Effect.try({
    try: () =>
      paths.flatMap((p) => {
        if (!existsSync(p)) throw dataError(p, "file", "no such file or folder")
        if (!statSync(p).isDirectory()) return [p]
        return readdirSync(p)
          .filter((f) => extensions.some((e) => f.endsWith(e)))
          .sort()
          .map((f) => path.join(p, f))
      }),
    catch: (e) => e as EvalDataError
  })
