/**
 * Conversations for SFT, from the three layouts SFT data comes in, as one `{role, content}` list:
 *
 * - **messages** (SmolTalk, TRL, OpenAI): `{"messages": [{"role", "content"}, ...]}`, roles system / user /
 *   assistant / tool.
 * - **sharegpt** (ShareGPT, LLaMA-Factory, axolotl): `{"conversations": [{"from", "value"}, ...]}`, with an optional
 *   top-level `system` string and `tools`. `human` and `user` become user, `gpt` and `assistant` become assistant,
 *   `system` stays; LLaMA-Factory's tool layout (its `glaive_toolcall` demo) maps `function_call` to assistant (the
 *   model writes the call, so it is trained on it) and `observation` (or `tool`) to tool.
 * - **alpaca** (Stanford Alpaca, LLaMA-Factory): `{"instruction", "input", "output"}` with optional `system` and
 *   `history` (`[[question, answer], ...]`, earlier turns). The user turn is the instruction and the input joined by
 *   one newline, leaving out an empty one: LLaMA-Factory's `AlpacaDatasetConverter` (`"\n".join(query)`), whose
 *   demo files are the Alpaca samples this toolkit is checked on.
 *
 * Files: JSONL (`.jsonl`, `.ndjson`, and a `.json` that does not start with `[`, as `datasets.to_json` writes it), a
 * JSON array (`.json`), or Parquet (SmolTalk's `messages` is a list of structs). A record that does not fit (unknown
 * role, empty conversation, missing or non-text field) fails the read with the file and line, or Parquet row.
 */
import { asyncBufferFromFile, parquetMetadataAsync, parquetReadObjects } from "hyparquet"
import { compressors } from "hyparquet-compressors"
import { Effect, FileSystem, Schema, Stream } from "effect"
import { readJsonl } from "../io/jsonl.ts"
import type { ChatMessage } from "./chat-template.ts"

export const ConversationFormat = Schema.Literals(["messages", "sharegpt", "alpaca"])
export type ConversationFormat = typeof ConversationFormat.Type

/** The roles a conversation may hold after mapping; templates get them as written here. */
export const chatRoles: ReadonlySet<string> = new Set(["system", "user", "assistant", "tool"])

/** ShareGPT `from` values and the role each becomes (see the file comment for the sources). */
export const sharegptRoles: Readonly<Record<string, string>> = {
  human: "user",
  user: "user",
  gpt: "assistant",
  assistant: "assistant",
  system: "system",
  function_call: "assistant",
  observation: "tool",
  tool: "tool"
}

/** Joins an Alpaca instruction and its non-empty input (LLaMA-Factory's convention, see the file comment). */
export const ALPACA_INPUT_SEPARATOR = "\n"

export interface Conversation {
  /** The record's `id` when it has one, else `<file>/<index>` (as the document readers name records). */
  readonly id: string
  readonly messages: ReadonlyArray<ChatMessage>
  /** The record's `tools`, passed to the template as transformers does; JSON text is parsed. */
  readonly tools?: unknown
}

/** A conversation and where it came from, for messages about it. */
export interface LocatedConversation {
  readonly conversation: Conversation
  /** "line 12" (JSONL, JSON array: the line where the record starts) or "row 7" (Parquet, 0-based). */
  readonly location: string
}

export class ConversationError extends Schema.TaggedError<ConversationError>()("ConversationError", {
  file: Schema.String,
  /** "line 12", "row 7", or "file" when the file as a whole is the problem. */
  location: Schema.String,
  /** "FILE:LINE: problem" or "FILE (row 7): problem", so the printed error alone says where to look. */
  message: Schema.String,
  cause: Schema.optional(Schema.Defect())
}) {}

/** A record's place as messages print it: "FILE:12" (line 12), "FILE (row 7)", or FILE for the whole file. */
export const placeOf = (file: string, location: string): string => {
  const line = /^line (\d+)$/.exec(location)
  return line !== null ? `${file}:${line[1]}` : location === "file" ? file : `${file} (${location})`
}

/** The error for a record (or the whole file, location "file"), worded as the document readers word theirs. */
export const conversationError = (file: string, location: string, problem: string, cause?: unknown): ConversationError => {
  const fields = { file, location, message: `${placeOf(file, location)}: ${problem}` }
  return new ConversationError(cause === undefined ? fields : { ...fields, cause })
}

/** The error for a file that holds no conversation at all: an SFT run on it would train on nothing. */
export const noConversations = (file: string): ConversationError =>
  conversationError(file, "file", "no conversations (an empty file, an empty array, or only blank lines): nothing to train on")

type JsonRecord = Record<string, unknown>
const isRecord = (v: unknown): v is JsonRecord => typeof v === "object" && v !== null && !Array.isArray(v)

/** The layout of a record by its fields, or undefined when it has none of them. */
export const detectFormat = (record: unknown): ConversationFormat | undefined => {
  if (!isRecord(record)) return undefined
  if ("messages" in record) return "messages"
  if ("conversations" in record) return "sharegpt"
  if ("instruction" in record) return "alpaca"
  return undefined
}

/** A record as a conversation, or a sentence saying what is wrong with it. */
export const toConversation = (record: unknown, format: ConversationFormat, fallbackId: string): Conversation | string => {
  if (!isRecord(record)) return "not a JSON object"
  const messages = format === "messages" ? fromMessages(record) : format === "sharegpt" ? fromShareGpt(record) : fromAlpaca(record)
  if (typeof messages === "string") return messages
  if (messages.length === 0) return "empty conversation"
  const rawId = record["id"]
  const id = typeof rawId === "string" || typeof rawId === "number" || typeof rawId === "bigint" ? String(rawId) : fallbackId
  const tools = toolsOf(record["tools"])
  return tools === undefined ? { id, messages } : { id, messages, tools }
}

const fieldsOf = (record: JsonRecord): string => Object.keys(record).slice(0, 8).join(", ") || "none"

/** A required text field, or the sentence for its absence. */
const text = (record: JsonRecord, key: string, where: string): string | { readonly problem: string } => {
  const v = record[key]
  if (typeof v === "string") return v
  return {
    problem: v === undefined || v === null
      ? `${where} has no "${key}" field (its fields: ${fieldsOf(record)})`
      : `${where}: "${key}" is ${Array.isArray(v) ? "an array" : `a ${typeof v}`}, not text`
  }
}

const listOf = (record: JsonRecord, key: string, format: ConversationFormat): ReadonlyArray<unknown> | string => {
  const list = record[key]
  if (Array.isArray(list)) return list
  return list === undefined || list === null
    ? `no "${key}" field (${format} format; the record's fields: ${fieldsOf(record)})`
    : `"${key}" is not a list`
}

const fromMessages = (record: JsonRecord): Array<ChatMessage> | string => {
  const list = listOf(record, "messages", "messages")
  if (typeof list === "string") return list
  const out: ChatMessage[] = []
  for (let k = 0; k < list.length; k++) {
    const m = list[k]
    if (!isRecord(m)) return `message ${k} is not an object`
    const role = text(m, "role", `message ${k}`)
    if (typeof role !== "string") return role.problem
    if (!chatRoles.has(role)) return `message ${k} has unknown role ${JSON.stringify(role)} (expected ${[...chatRoles].join(", ")})`
    const content = text(m, "content", `message ${k}`)
    if (typeof content !== "string") return content.problem
    out.push({ role, content })
  }
  return out
}

const fromShareGpt = (record: JsonRecord): Array<ChatMessage> | string => {
  const list = listOf(record, "conversations", "sharegpt")
  if (typeof list === "string") return list
  const out: ChatMessage[] = []
  const system = record["system"]
  if (typeof system === "string" && system.length > 0) out.push({ role: "system", content: system })
  for (let k = 0; k < list.length; k++) {
    const m = list[k]
    if (!isRecord(m)) return `turn ${k} is not an object`
    const from = text(m, "from", `turn ${k}`)
    if (typeof from !== "string") return from.problem
    const role = sharegptRoles[from]
    if (role === undefined) return `turn ${k} has unknown "from" ${JSON.stringify(from)} (expected ${Object.keys(sharegptRoles).join(", ")})`
    const value = text(m, "value", `turn ${k}`)
    if (typeof value !== "string") return value.problem
    // A system turn in the list wins over the top-level field (LLaMA-Factory reads the list's first).
    if (role === "system" && k === 0 && out.length === 1 && out[0]!.role === "system") out.pop()
    out.push({ role, content: value })
  }
  return out
}

const fromAlpaca = (record: JsonRecord): Array<ChatMessage> | string => {
  const instruction = text(record, "instruction", "the record")
  if (typeof instruction !== "string") return instruction.problem
  const output = text(record, "output", "the record")
  if (typeof output !== "string") return output.problem
  const input = record["input"]
  if (input !== undefined && input !== null && typeof input !== "string") return `"input" is a ${typeof input}, not text`
  const out: ChatMessage[] = []
  const system = record["system"]
  if (typeof system === "string" && system.length > 0) out.push({ role: "system", content: system })
  const history = record["history"]
  if (Array.isArray(history)) {
    for (let k = 0; k < history.length; k++) {
      const pair = history[k]
      if (!Array.isArray(pair) || pair.length !== 2 || typeof pair[0] !== "string" || typeof pair[1] !== "string") {
        return `history entry ${k} is not a [question, answer] pair of texts`
      }
      out.push({ role: "user", content: pair[0] }, { role: "assistant", content: pair[1] })
    }
  }
  const query = [instruction, typeof input === "string" ? input : ""].filter((s) => s.length > 0)
  out.push({ role: "user", content: query.join(ALPACA_INPUT_SEPARATOR) }, { role: "assistant", content: output })
  return out
}

const toolsOf = (tools: unknown): unknown => {
  if (tools === undefined || tools === null || tools === "") return undefined
  if (typeof tools !== "string") return tools
  try {
    return JSON.parse(tools) as unknown
  } catch {
    return tools
  }
}

export interface ReadConversationsOptions {
  /** "auto" (default): the layout of the file's first record decides for the whole file. */
  readonly format?: ConversationFormat | "auto"
}

/** A raw record and its place, before it becomes a conversation (or a preference pair). */
export interface RawRecord {
  readonly value: unknown
  /** "line 12" or "row 7", as in `LocatedConversation`. */
  readonly location: string
  /** 0-based, in file order. */
  readonly index: number
}

/** The conversations of a file, in file order. */
export const readConversations = (
  file: string,
  options: ReadConversationsOptions = {}
): Stream.Stream<LocatedConversation, ConversationError, FileSystem.FileSystem> =>
  // Suspended so that each run of the stream detects the format afresh.
  Stream.suspend(() => {
    let format: ConversationFormat | undefined = options.format === "auto" ? undefined : options.format
    const convert = (r: RawRecord): Effect.Effect<LocatedConversation, ConversationError> => {
      if (format === undefined) {
        format = detectFormat(r.value)
        if (format === undefined) {
          const fields = isRecord(r.value) ? fieldsOf(r.value) : "not an object"
          return Effect.fail(conversationError(file, r.location, `no "messages", "conversations" or "instruction" field to tell the format by (fields: ${fields}); pass --format`))
        }
      }
      const conversation = toConversation(r.value, format, `${file}/${r.index}`)
      return typeof conversation === "string"
        ? Effect.fail(conversationError(file, r.location, conversation))
        : Effect.succeed({ conversation, location: r.location })
    }
    return readRecords(file).pipe(Stream.mapEffect(convert))
  })

/**
 * Every record of a JSONL, JSON-array or Parquet file (chosen by the name, as for conversations), undecoded, in file
 * order: what other record readers (DPO's preference pairs) share with this one. An unreadable file or a line that is
 * not JSON fails with the file and line.
 */
export const readRecords = (file: string): Stream.Stream<RawRecord, ConversationError, FileSystem.FileSystem> => {
  if (file.endsWith(".parquet")) return parquetRecords(file)
  if (file.endsWith(".json")) {
    return Stream.unwrap(Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const text = yield* fs.readFileString(file).pipe(Effect.mapError((e) => conversationError(file, "file", e.message, e)))
      return text.trimStart().startsWith("[") ? Stream.fromIterable(yield* arrayRecords(file, text)) : jsonlRecords(file)
    }))
  }
  return jsonlRecords(file)
}

const jsonlRecords = (file: string): Stream.Stream<RawRecord, ConversationError, FileSystem.FileSystem> => {
  let index = 0
  return readJsonl(file, Schema.Unknown, { blankLines: "skip" }).pipe(
    Stream.mapError((e) => new ConversationError({ file, location: e.line > 0 ? `line ${e.line}` : "file", message: e.message, cause: e })),
    Stream.map((l) => ({ value: l.value, location: `line ${l.line}`, index: index++ }))
  )
}

/** A JSON array file: its elements, each with the line its text starts on. */
const arrayRecords = (file: string, text: string): Effect.Effect<Array<RawRecord>, ConversationError> =>
  Effect.try({
    try: () => JSON.parse(text) as unknown,
    catch: (e) => conversationError(file, "file", `not valid JSON: ${e instanceof Error ? e.message : String(e)}`, e)
  }).pipe(Effect.flatMap((value) => {
    if (!Array.isArray(value)) return Effect.fail(conversationError(file, "file", "a .json file must hold an array of records (or be JSON Lines)"))
    const lines = elementLines(text)
    return Effect.succeed(value.map((v, i) => ({ value: v, location: `line ${lines[i] ?? 1}`, index: i })))
  }))

/** The 1-based line on which each element of a top-level JSON array starts (the text is known to parse). */
const elementLines = (text: string): Array<number> => {
  const lines: number[] = []
  let depth = 0
  let line = 1
  let inString = false
  let escaped = false
  let expecting = false
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (c === 10) line++
    if (inString) {
      if (escaped) escaped = false
      else if (c === 92) escaped = true
      else if (c === 34) inString = false
      continue
    }
    const space = c === 32 || c === 9 || c === 10 || c === 13
    if (depth === 1 && expecting && !space && c !== 44 && c !== 93) {
      lines.push(line)
      expecting = false
    }
    if (c === 34) inString = true
    else if (c === 91 || c === 123) {
      depth++
      if (depth === 1) expecting = true
    } else if (c === 93 || c === 125) depth--
    else if (c === 44 && depth === 1) expecting = true
  }
  return lines
}

/** Parquet rows, one row group in memory at a time. */
const parquetRecords = (file: string): Stream.Stream<RawRecord, ConversationError> =>
  Stream.fromAsyncIterable(
    (async function*() {
      let buffer
      let metadata
      try {
        buffer = await asyncBufferFromFile(file)
        metadata = await parquetMetadataAsync(buffer)
      } catch (e) {
        throw conversationError(file, "file", `not a readable Parquet file: ${(e as Error).message}`, e)
      }
      let rowStart = 0
      for (let g = 0; g < metadata.row_groups.length; g++) {
        const n = Number(metadata.row_groups[g]!.num_rows)
        let rows: Array<Record<string, unknown>>
        try {
          rows = await parquetReadObjects({ file: buffer, metadata, rowStart, rowEnd: rowStart + n, compressors })
        } catch (e) {
          throw conversationError(file, `row group ${g}`, `corrupt row group: ${(e as Error).message}`, e)
        }
        for (let r = 0; r < rows.length; r++) yield { value: rows[r], location: `row ${rowStart + r}`, index: rowStart + r }
        rowStart += n
      }
    })(),
    (e) => (e instanceof ConversationError ? e : conversationError(file, "file", String(e), e))
  )
