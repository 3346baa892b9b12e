/**
 * DPO's preference pairs: UltraFeedback-binarized records (`HuggingFaceH4/ultrafeedback_binarized`: a `prompt`
 * string, `chosen` and `rejected` as message lists ending with the assistant reply; plain strings are taken as the
 * reply), rendered with the chat template and tokenized as TRL does: the prompt is the conversation before the reply
 * with the generation prompt, each completion is the rest of the full rendering, and each part is tokenized alone.
 */
import { Effect, type FileSystem, Schema, Stream } from "effect"
import type { ChatMessage, ChatTemplate } from "../data/tokenizer/chat-template.ts"
import { placeOf, readRecords } from "../data/tokenizer/conversations.ts"
import type { TokenizerShape } from "../data/tokenizer/Tokenizer.ts"

export class DpoDataError extends Schema.TaggedError<DpoDataError>()("DpoDataError", {
  message: Schema.String
}) {}

const Message = Schema.Struct({ role: Schema.String, content: Schema.String })
const Reply = Schema.Union([Schema.String, Schema.Array(Message)])

export const PreferencePairLine = Schema.Struct({
  prompt: Schema.optionalKey(Schema.String),
  chosen: Reply,
  rejected: Reply
})
export type PreferencePairLine = typeof PreferencePairLine.Type

/** A tokenized pair: the prompt's ids and each completion's. */
export interface DpoExample {
  readonly prompt: ReadonlyArray<number>
  readonly chosen: ReadonlyArray<number>
  readonly rejected: ReadonlyArray<number>
}

/** SmolLM2's DPO lengths (alignment-handbook; notes §7.3): max_length 1024, max_prompt_length 512. */
export const smollm2DpoLengths = { maxLength: 1024, maxPromptLength: 512 } as const

/**
 * TRL's truncation: when the prompt and the longer completion exceed `maxLength`, keep the prompt's last
 * `maxPromptLength` ids (truncation_mode "keep_end"); if still too long, keep each completion's first
 * `maxLength − maxPromptLength` ids.
 */
export const truncatePair = (e: DpoExample, maxLength: number, maxPromptLength: number): DpoExample => {
  const longer = () => Math.max(e.chosen.length, e.rejected.length)
  let prompt = e.prompt
  if (prompt.length + longer() > maxLength) prompt = prompt.slice(Math.max(0, prompt.length - maxPromptLength))
  if (prompt.length + longer() <= maxLength) return { ...e, prompt }
  const keep = maxLength - maxPromptLength
  return { prompt, chosen: e.chosen.slice(0, keep), rejected: e.rejected.slice(0, keep) }
}

/** The messages before the reply, and the reply, of one side of a pair. */
const split = (reply: typeof Reply.Type, prompt: string | undefined): { before: Array<ChatMessage>; reply: ChatMessage } | string => {
  if (typeof reply === "string") {
    return prompt === undefined ? "a plain-string reply needs a \"prompt\"" : { before: [{ role: "user", content: prompt }], reply: { role: "assistant", content: reply } }
  }
  const last = reply[reply.length - 1]
  if (last === undefined) return "an empty messages list"
  if (last.role !== "assistant") return `the last message is a "${last.role}" one, not the assistant reply`
  const before = reply.slice(0, -1)
  if (before.length > 0) return { before, reply: last }
  return prompt === undefined ? "no prompt: neither a \"prompt\" field nor messages before the reply" : { before: [{ role: "user", content: prompt }], reply: last }
}

/** Renders and tokenizes one record; a string says what is wrong with it. */
export const tokenizePair = (
  template: ChatTemplate,
  tokenizer: TokenizerShape,
  line: PreferencePairLine
): Effect.Effect<DpoExample | string> =>
  Effect.gen(function*() {
    const chosen = split(line.chosen, line.prompt)
    const rejected = split(line.rejected, line.prompt)
    if (typeof chosen === "string") return `chosen: ${chosen}`
    if (typeof rejected === "string") return `rejected: ${rejected}`
    if (JSON.stringify(chosen.before) !== JSON.stringify(rejected.before)) return "chosen and rejected continue different conversations"
    const render = (m: ReadonlyArray<ChatMessage>, addGenerationPrompt: boolean) =>
      template.render(m, { addGenerationPrompt }).pipe(Effect.map((text) => ({ text })), Effect.catch((e) => Effect.succeed({ error: e.message })))
    const promptText = yield* render(chosen.before, true)
    if ("error" in promptText) return promptText.error
    const completion = (side: { before: Array<ChatMessage>; reply: ChatMessage }) =>
      Effect.map(render([...side.before, side.reply], false), (full) =>
        "error" in full ? full.error : full.text.startsWith(promptText.text) ? { text: full.text.slice(promptText.text.length) } : "the full rendering does not start with the prompt's")
    const c = yield* completion(chosen)
    const r = yield* completion(rejected)
    if (typeof c === "string") return `chosen: ${c}`
    if (typeof r === "string") return `rejected: ${r}`
    const ids = (text: string) => Effect.map(tokenizer.encode(text, { addSpecialTokens: false }), (a) => Array.from(a))
    return { prompt: yield* ids(promptText.text), chosen: yield* ids(c.text), rejected: yield* ids(r.text) }
  })

const decodePairLine = Schema.decodeUnknownEffect(PreferencePairLine)

/**
 * Every pair of a file, tokenized and truncated, in file order: JSONL, a JSON array or Parquet (what
 * `HuggingFaceH4/ultrafeedback_binarized` ships: `chosen`/`rejected` lists of `{content, role}` structs, its other
 * columns ignored), read as SFT's conversations are. A bad record fails naming the file and its line or Parquet row;
 * a file with no pairs fails too, as training on nothing is never what was meant.
 */
export const readPreferencePairs = (
  path: string,
  template: ChatTemplate,
  tokenizer: TokenizerShape,
  lengths: { readonly maxLength: number; readonly maxPromptLength: number }
): Effect.Effect<Array<DpoExample>, DpoDataError, FileSystem.FileSystem> =>
  readRecords(path).pipe(
    Stream.mapError((e) => new DpoDataError({ message: e.message })),
    Stream.mapEffect(({ location, value }) => {
      const bad = (problem: string) => new DpoDataError({ message: `${placeOf(path, location)}: ${problem}` })
      return decodePairLine(value).pipe(
        Effect.mapError((e) => bad(e.message.replaceAll("\n", " "))),
        Effect.flatMap((line) => tokenizePair(template, tokenizer, line)),
        Effect.flatMap((e) => typeof e === "string" ? Effect.fail(bad(e)) : Effect.succeed(truncatePair(e, lengths.maxLength, lengths.maxPromptLength)))
      )
    }),
    Stream.runCollect,
    Effect.map((c) => Array.from(c)),
    Effect.filterOrFail((pairs) => pairs.length > 0, () => new DpoDataError({ message: `${path}: no preference pairs (an empty file, array or table, or only blank lines): nothing to train on` }))
  )
