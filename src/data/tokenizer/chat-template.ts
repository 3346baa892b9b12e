/**
 * Chat templates: the Jinja `chat_template` of a `tokenizer_config.json`, rendered as transformers'
 * `apply_chat_template` renders it. The engine is `@huggingface/jinja` (what transformers.js uses), which lexes with
 * `trim_blocks` and `lstrip_blocks` on, as transformers' sandboxed Jinja2 environment does, and defines
 * `raise_exception` and `strftime_now`. The variables are transformers' too: `messages`, `add_generation_prompt`,
 * `tools` when given, and the special tokens of the config (`bos_token`, `eos_token`, ...).
 *
 * `renderWithSpans` also says where each message's content lies in the rendered text, for loss masks: it renders
 * once for real and once with a unique sentinel in place of every content, then checks that putting the contents
 * back into the sentinel rendering gives the real text exactly. That works for any template that copies contents
 * verbatim (ChatML, Llama, Mistral, ...), whatever it writes around them, and fails with the message's index when a
 * template changes a content or renders differently depending on it, rather than guessing.
 */
import { Template } from "@huggingface/jinja"
import { Effect, FileSystem, Schema } from "effect"

/**
 * SmolLM2-Instruct's template, byte for byte (alignment-handbook `recipes/smollm2/sft/config.yaml`; notes
 * smollm2-recipe.md §11): ChatML, with a default system turn when the first message is not a system one.
 */
export const SMOLLM2_CHAT_TEMPLATE =
  "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}{{ '<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n' }}{% endif %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"

/** The system prompt SmolLM2's template inserts when a conversation does not start with one. */
export const SMOLLM2_DEFAULT_SYSTEM_PROMPT = "You are a helpful AI assistant named SmolLM, trained by Hugging Face"

/**
 * The special tokens SmolLM2-Instruct's `tokenizer_config.json` hands its template (bos `<|im_start|>`, eos and pad
 * `<|im_end|>`, unk `<|endoftext|>`); also the default for a bare `.jinja` file, which names none.
 */
export const SMOLLM2_INSTRUCT_SPECIAL_TOKENS: Readonly<Record<string, string>> = {
  bos_token: "<|im_start|>",
  eos_token: "<|im_end|>",
  pad_token: "<|im_end|>",
  unk_token: "<|endoftext|>"
}

export const ChatTemplateErrorReason = Schema.Literals([
  "Read", // the template file could not be read or holds no template
  "Parse", // the Jinja text does not parse
  "Render", // rendering failed (raise_exception, a missing variable, a type error in the template)
  "Locate" // a message's content is not in the rendered text verbatim, so its span cannot be known
])
export type ChatTemplateErrorReason = typeof ChatTemplateErrorReason.Type

export class ChatTemplateError extends Schema.TaggedError<ChatTemplateError>()("ChatTemplateError", {
  reason: ChatTemplateErrorReason,
  message: Schema.String,
  cause: Schema.optional(Schema.Defect())
}) {}

const chatTemplateError = (reason: ChatTemplateErrorReason, message: string, cause?: unknown): ChatTemplateError =>
  cause === undefined ? new ChatTemplateError({ reason, message }) : new ChatTemplateError({ reason, message, cause })

/** One turn as templates see it (SmolTalk's `{"role", "content"}`). */
export interface ChatMessage {
  readonly role: string
  readonly content: string
}

export interface RenderOptions {
  /** End with the header of an assistant turn, for generation (transformers' `add_generation_prompt`). */
  readonly addGenerationPrompt?: boolean
  /** Tool descriptions, passed as `tools` (transformers passes it only when given). */
  readonly tools?: unknown
}

/** Where one message's content lies in a rendered conversation: UTF-16 offsets, `end` exclusive. */
export interface MessageSpan {
  readonly role: string
  readonly start: number
  readonly end: number
}

export interface RenderedChat {
  readonly text: string
  /** One per message, in message order; undefined for a message the template leaves out. */
  readonly spans: ReadonlyArray<MessageSpan | undefined>
}

export interface ChatTemplate {
  /** Where the template came from (a file, or "SmolLM2-Instruct (default)"). */
  readonly name: string
  readonly source: string
  readonly specialTokens: Readonly<Record<string, string>>
  readonly render: (messages: ReadonlyArray<ChatMessage>, options?: RenderOptions) => Effect.Effect<string, ChatTemplateError>
  readonly renderWithSpans: (messages: ReadonlyArray<ChatMessage>, options?: RenderOptions) => Effect.Effect<RenderedChat, ChatTemplateError>
}

/** Parses `source` once; every render reuses the parsed program. */
export const makeChatTemplate = (
  source: string,
  options: { readonly name: string; readonly specialTokens?: Readonly<Record<string, string>> }
): Effect.Effect<ChatTemplate, ChatTemplateError> =>
  Effect.try({
    try: () => new Template(source),
    catch: (e) => chatTemplateError("Parse", `${options.name}: the chat template does not parse: ${messageOf(e)}`, e)
  }).pipe(Effect.map((parsed) => {
    const specialTokens = options.specialTokens ?? SMOLLM2_INSTRUCT_SPECIAL_TOKENS
    const renderSync = (messages: ReadonlyArray<ChatMessage>, o: RenderOptions | undefined): string => {
      const variables: Record<string, unknown> = {
        ...specialTokens,
        messages: messages.map((m) => ({ role: m.role, content: m.content })),
        add_generation_prompt: o?.addGenerationPrompt ?? false
      }
      if (o?.tools !== undefined) variables["tools"] = o.tools
      try {
        return parsed.render(variables)
      } catch (e) {
        throw chatTemplateError("Render", `${options.name}: rendering failed: ${messageOf(e)}`, e)
      }
    }
    const attempt = <A>(f: () => A): Effect.Effect<A, ChatTemplateError> =>
      Effect.try({ try: f, catch: (e) => (e instanceof ChatTemplateError ? e : chatTemplateError("Render", `${options.name}: ${messageOf(e)}`, e)) })
    return {
      name: options.name,
      source,
      specialTokens,
      render: (messages, o) => attempt(() => renderSync(messages, o)),
      renderWithSpans: (messages, o) => attempt(() => locateContents(messages, (m) => renderSync(m, o), options.name))
    }
  }))

/** SmolLM2-Instruct's ChatML template with its special tokens. */
export const defaultChatTemplate = (): Effect.Effect<ChatTemplate, ChatTemplateError> =>
  makeChatTemplate(SMOLLM2_CHAT_TEMPLATE, { name: "SmolLM2-Instruct (default)", specialTokens: SMOLLM2_INSTRUCT_SPECIAL_TOKENS })

/**
 * A template from a file: a `tokenizer_config.json` (its `chat_template`, a string or transformers' older list of
 * `{name, template}` where "default" is taken, and its special tokens, strings or `{"content": ...}` objects), or
 * any other file as the Jinja text itself (`chat_template.jinja`), with SmolLM2-Instruct's special tokens.
 */
export const loadChatTemplate = (path: string): Effect.Effect<ChatTemplate, ChatTemplateError, FileSystem.FileSystem> =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const text = yield* fs.readFileString(path).pipe(Effect.mapError((e) => chatTemplateError("Read", `${path}: ${e.message}`, e)))
    if (!path.endsWith(".json")) return yield* makeChatTemplate(text, { name: path })
    const config = yield* Effect.try({
      try: () => JSON.parse(text) as unknown,
      catch: (e) => chatTemplateError("Read", `${path}: not JSON: ${messageOf(e)}`, e)
    })
    if (!isRecord(config)) return yield* Effect.fail(chatTemplateError("Read", `${path}: not a JSON object`))
    const source = templateOf(config, path)
    if (typeof source !== "string") return yield* Effect.fail(source)
    return yield* makeChatTemplate(source, { name: path, specialTokens: { ...SMOLLM2_INSTRUCT_SPECIAL_TOKENS, ...specialTokensOf(config) } })
  })

/** The Jinja text of a config, or why there is none. */
const templateOf = (config: Record<string, unknown>, path: string): string | ChatTemplateError => {
  const t = config["chat_template"]
  if (typeof t === "string") return t
  if (Array.isArray(t)) {
    const named = t.filter(isRecord)
    const chosen = named.find((x) => x["name"] === "default")
    if (chosen !== undefined && typeof chosen["template"] === "string") return chosen["template"]
    const names = named.map((x) => String(x["name"])).join(", ")
    return chatTemplateError("Read", `${path}: "chat_template" lists templates (${names}) but none named "default"`)
  }
  return chatTemplateError("Read", `${path}: no "chat_template" string (a base model's config has none; pass a chat model's, or a .jinja file)`)
}

/** transformers passes its special tokens map to the template: every `*_token` entry, as text. */
const specialTokensOf = (config: Record<string, unknown>): Record<string, string> => {
  const out: Record<string, string> = {}
  for (const [key, value] of Object.entries(config)) {
    if (!key.endsWith("_token")) continue
    if (typeof value === "string") out[key] = value
    else if (isRecord(value) && typeof value["content"] === "string") out[key] = value["content"]
  }
  return out
}

/**
 * Renders `messages` and finds each content in the text (see the file comment). A content is found when putting
 * every content in place of its sentinel rebuilds the real rendering exactly; if that fails with the contents as
 * given, it is tried with stripped contents, for templates that `| trim` them (the span is then the stripped text).
 */
const locateContents = (
  messages: ReadonlyArray<ChatMessage>,
  render: (messages: ReadonlyArray<ChatMessage>) => string,
  name: string
): RenderedChat => {
  const text = render(messages)
  const sentinels = sentinelsFor(messages.length, text)
  const skeleton = render(messages.map((m, k) => ({ role: m.role, content: sentinels[k]! })))
  // Where each sentinel sits in the skeleton; a template that repeats a content leaves no single place for it.
  const found: Array<{ readonly message: number; readonly at: number }> = []
  sentinels.forEach((s, k) => {
    const at = skeleton.indexOf(s)
    if (at < 0) return
    if (skeleton.indexOf(s, at + s.length) >= 0) {
      throw chatTemplateError("Locate", `${name}: the template writes the content of message ${k} (${messages[k]!.role}) more than once`)
    }
    found.push({ message: k, at })
  })
  found.sort((a, b) => a.at - b.at)
  const rebuild = (contentOf: (m: ChatMessage) => string) => {
    let out = ""
    let from = 0
    const spans: Array<MessageSpan | undefined> = messages.map(() => undefined)
    for (const f of found) {
      out += skeleton.slice(from, f.at)
      const content = contentOf(messages[f.message]!)
      spans[f.message] = { role: messages[f.message]!.role, start: out.length, end: out.length + content.length }
      out += content
      from = f.at + sentinels[f.message]!.length
    }
    return { text: out + skeleton.slice(from), spans }
  }
  const verbatim = rebuild((m) => m.content)
  if (verbatim.text === text) return { text, spans: verbatim.spans }
  const stripped = rebuild((m) => pythonStrip(m.content))
  if (stripped.text === text) return { text, spans: stripped.spans }
  // Name the first message whose neighbourhood differs, so the user can look at that record and that template line.
  let i = 0
  while (i < text.length && text[i] === verbatim.text[i]) i++
  // The message at the difference, else one whose sentinel vanished (a filter rewrote it), else the template text.
  let culprit = verbatim.spans.findIndex((s) => s !== undefined && s.end >= i)
  if (culprit < 0) culprit = verbatim.spans.findIndex((s) => s === undefined)
  const which = culprit >= 0 ? `message ${culprit} (${messages[culprit]!.role})` : "the text around the messages"
  throw chatTemplateError(
    "Locate",
    `${name}: cannot locate the message contents in the rendered text: the template does not copy ${which} verbatim, ` +
      `or renders differently depending on the contents (first difference at character ${i}: ${JSON.stringify(text.slice(i, i + 40))})`
  )
}

/**
 * Sentinels that occur nowhere in the real rendering, so they cannot be confused with its text: private-use
 * characters around digits, which no case or whitespace filter changes (an `upper` then shows as a rewritten
 * content, not as a missing message).
 */
const sentinelsFor = (count: number, text: string): Array<string> => {
  for (let salt = 0; ; salt++) {
    const tag = "\uE002".repeat(salt)
    const sentinels = Array.from({ length: count }, (_, k) => `\uE000${tag}${k}\uE001`)
    if (sentinels.every((s) => !text.includes(s))) return sentinels
  }
}

/** Python's `str.strip()` (Jinja's `trim`): Unicode whitespace at both ends. */
const pythonStrip = (s: string): string => s.replace(/^[\s\u0085\u001c-\u001f]+|[\s\u0085\u001c-\u001f]+$/gu, "")

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v)
const messageOf = (e: unknown): string => (e instanceof Error ? e.message : String(e))
