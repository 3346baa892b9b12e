/**
 * Evaluation prompts through a chat template: lighteval's `--use_chat_template`, as `PromptManager.get_examples`
 * builds them at ea46419 (the commit smollm pinned; SmolLM2-Instruct's suite `smollm2_instruct.txt` ran with it):
 *  - each few-shot example becomes a user turn (its query without the instruction) and an assistant turn (its gold
 *    choice, verbatim: `doc_to_target`);
 *  - the evaluated query becomes the last user turn;
 *  - the instruction goes in front of the first turn's content (no system prompt is given, so the template's own
 *    default applies: SmolLM2's "You are a helpful AI assistant named SmolLM, …"); with a system prompt it would
 *    be a system turn of `system_prompt + instruction`;
 *  - the conversation is rendered with `add_generation_prompt=True`, so the context ends with the assistant header
 *    and a log-likelihood continuation is scored right after it (the header's trailing "\n" moves into the
 *    continuation, as `tok_encode_pair` moves any trailing whitespace);
 *  - generation: lighteval's vLLM backend passes no stop strings with a chat template and stops at the tokenizer's
 *    EOS (`<|im_end|>` for an instruct SmolLM2), so the task's stop sequences give way to that token.
 */
import { Effect, FileSystem } from "effect"
import * as path from "node:path"
import {
  type ChatMessage,
  type ChatTemplate,
  ChatTemplateError,
  defaultChatTemplate,
  loadChatTemplate
} from "../data/tokenizer/chat-template.ts"
import { LanguageModelError } from "./errors.ts"

/** One few-shot example as the chat sees it. */
export interface ChatExample {
  /** The example's query without the task instruction (`doc_to_text`). */
  readonly query: string
  /** Its gold choice (`doc_to_target`). */
  readonly answer: string
}

/** The turns of a chat-template prompt (see the file comment). */
export const chatPromptMessages = (
  instruction: string,
  examples: ReadonlyArray<ChatExample>,
  query: string,
  systemPrompt?: string
): Array<ChatMessage> => {
  const messages: Array<ChatMessage> = []
  for (const ex of examples) messages.push({ role: "user", content: ex.query }, { role: "assistant", content: ex.answer })
  messages.push({ role: "user", content: query })
  if (systemPrompt !== undefined) return [{ role: "system", content: systemPrompt + instruction }, ...messages]
  return messages.map((m, i) => (i === 0 ? { role: m.role, content: instruction + m.content } : m))
}

/** The rendered context: the turns and the assistant header after them. */
export const chatPromptContext = (
  template: ChatTemplate,
  instruction: string,
  examples: ReadonlyArray<ChatExample>,
  query: string
): Effect.Effect<string, LanguageModelError> =>
  template.render(chatPromptMessages(instruction, examples, query), { addGenerationPrompt: true }).pipe(
    Effect.mapError((e) => new LanguageModelError({ reason: "InvalidRequest", message: `chat template ${template.name}: ${e.message}`, cause: e }))
  )

/** What ends a generation under a chat template: the template's EOS token text. */
export const chatStopSequences = (template: ChatTemplate): Array<string> => {
  const eos = template.specialTokens["eos_token"]
  return eos === undefined || eos === "" ? [] : [eos]
}

/**
 * The chat template of a model folder: its `tokenizer_config.json`'s `chat_template` when it has one (a chat
 * model's), else SmolLM2-Instruct's ChatML default (a base checkpoint, or a folder without the file); `origin` says
 * which, for the log. A config that is there but broken (not JSON, a template that does not parse) fails.
 */
export const chatTemplateOfFolder = (
  dir: string
): Effect.Effect<{ readonly template: ChatTemplate; readonly origin: string }, ChatTemplateError, FileSystem.FileSystem> =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const file = path.join(dir, "tokenizer_config.json")
    const text = yield* fs.readFileString(file).pipe(Effect.option)
    const fallback = (why: string) => Effect.map(defaultChatTemplate(), (template) => ({ template, origin: `SmolLM2-Instruct's ChatML (${file} ${why})` }))
    if (text._tag === "None") return yield* fallback("is missing")
    const hasTemplate = yield* Effect.try({
      try: () => {
        const config: unknown = JSON.parse(text.value)
        return typeof config === "object" && config !== null && "chat_template" in config
      },
      catch: (e) => new ChatTemplateError({ reason: "Read", message: `${file}: not JSON: ${e instanceof Error ? e.message : String(e)}` })
    })
    if (!hasTemplate) return yield* fallback("has no chat_template")
    return { template: yield* loadChatTemplate(file), origin: `the chat_template of ${file}` }
  })
