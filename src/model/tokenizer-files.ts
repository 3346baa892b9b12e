import { Effect, FileSystem, Schema } from "effect"
import { SMOLLM2_INSTRUCT_SPECIAL_TOKENS } from "../data/tokenizer/chat-template.ts"
import { BpeTokenizer } from "../data/tokenizer/core.ts"
import type { LlamaConfig } from "./config.ts"

/**
 * The files besides `config.json` and the weights that make a model folder usable on its own in transformers:
 * `generation_config.json` (from the model config alone) and, given a `tokenizer.json`, that file byte for byte
 * plus the `tokenizer_config.json` and `special_tokens_map.json` that `AutoTokenizer.from_pretrained` reads.
 */

export class TokenizerFilesError extends Schema.TaggedError<TokenizerFilesError>()("TokenizerFilesError", {
  message: Schema.String
}) {}

/** `generation_config.json`: the config's BOS/EOS ids, each only when set. */
export const generationConfigJson = (config: LlamaConfig): string =>
  JSON.stringify(
    {
      ...(config.bosTokenId === null ? {} : { bos_token_id: config.bosTokenId }),
      ...(config.eosTokenId === null ? {} : { eos_token_id: config.eosTokenId })
    },
    null,
    2
  ) + "\n"

interface SpecialToken {
  readonly content: string
  /** The flags of the added token in tokenizer.json, when the token is one (transformers writes them this way). */
  readonly flags?: { lstrip: boolean; normalized: boolean; rstrip: boolean; single_word: boolean }
}

/** What a chat (instruct) checkpoint adds to its tokenizer files. */
export interface ChatTokenizerOptions {
  /**
   * The Jinja chat template, written as `tokenizer_config.json`'s `chat_template` (what `apply_chat_template`
   * reads); ChatML's `<|im_start|>` and `<|im_end|>`, when the tokenizer has them as special tokens, are listed as
   * `additional_special_tokens`, and unk is `<|endoftext|>`, as in SmolLM2-Instruct's files (with the config's BOS/EOS
   * `<|im_start|>`/`<|im_end|>`: bos, eos, pad and unk as transformers loads them for SmolLM2-Instruct).
   */
  readonly chatTemplate?: string
}

/** ChatML's turn markers (SmolLM2's ids 1 and 2). */
export const CHATML_SPECIAL_TOKENS: ReadonlyArray<string> = ["<|im_start|>", "<|im_end|>"]

/** The ids the tokenizer's post-processor puts before and after a text. */
const templateIds = (tokenizer: BpeTokenizer): { before: Array<number>; after: Array<number> } | undefined => {
  const plain = Array.from(tokenizer.encode("a", { addSpecialTokens: false }))
  const full = Array.from(tokenizer.encode("a", { addSpecialTokens: true }))
  const at = full.findIndex((_, k) => plain.every((id, j) => full[k + j] === id))
  return at < 0 ? undefined : { before: full.slice(0, at), after: full.slice(at + plain.length) }
}

/**
 * The tokenizer files for a checkpoint of a model with `config`, from the bytes of a `tokenizer.json` (`source`
 * names it in errors). The tokenizer is read with our own tokenizer code, so the ids a checkpoint's tokenizer gives
 * in transformers are the ids the training data was made with. Refused, with the reason: a file our tokenizer
 * cannot load, a tokenizer with ids past the model's vocabulary, and BOS/EOS ids in the config that are not
 * special tokens of the tokenizer. A chat model's files also carry its template (see `ChatTokenizerOptions`).
 */
export const tokenizerFiles = (
  source: string,
  bytes: Uint8Array,
  config: LlamaConfig,
  chat: ChatTokenizerOptions = {}
): Effect.Effect<Map<string, Uint8Array | string>, TokenizerFilesError> =>
  Effect.gen(function*() {
    const fail = (message: string) => Effect.fail(new TokenizerFilesError({ message: `${source}: ${message}` }))
    const tokenizer = yield* Effect.try({
      try: () => BpeTokenizer.fromJson(new TextDecoder("utf-8", { fatal: true }).decode(bytes)),
      catch: (e) => new TokenizerFilesError({ message: `${source}: not a tokenizer.json we can load: ${e instanceof Error ? e.message : String(e)}` })
    })
    if (tokenizer.vocabSize > config.vocabSize) {
      return yield* fail(`the tokenizer has ids up to ${tokenizer.vocabSize - 1}, past the model's vocabulary of ${config.vocabSize}`)
    }
    const added = new Map(tokenizer.spec.addedTokens.map((t) => [t.content, t] as const))
    const special = (content: string): SpecialToken => {
      const t = added.get(content)
      return t === undefined
        ? { content }
        : { content, flags: { lstrip: t.lstrip, normalized: t.normalized, rstrip: t.rstrip, single_word: t.singleWord } }
    }
    const fromConfig = (key: "bos_token_id" | "eos_token_id", id: number | null) => {
      if (id === null) return Effect.succeed(undefined)
      const content = tokenizer.idToToken(id)
      if (content === undefined) return fail(`config.json's ${key} ${id} is not a token of this tokenizer`)
      if (!tokenizer.isSpecial(id)) {
        return fail(`config.json's ${key} ${id} is ${JSON.stringify(content)} here, not a special token; train the tokenizer with the special tokens first (programs/tokenizer.ts train --special-tokens) or use a config whose ids name them`)
      }
      return Effect.succeed(special(content))
    }
    const bos = yield* fromConfig("bos_token_id", config.bosTokenId)
    const eos = yield* fromConfig("eos_token_id", config.eosTokenId)
    const isSpecialToken = (content: string) => {
      const id = tokenizer.tokenToId(content)
      return id !== undefined && tokenizer.isSpecial(id)
    }
    // Byte-level BPE never needs an unknown token; transformers' convention (GPT-2, SmolLM2) names EOS then. A chat
    // model keeps its base's, the end-of-text token, as SmolLM2-Instruct does (its EOS became `<|im_end|>`).
    const unkContent = tokenizer.spec.model.unkToken
    const chatUnk = SMOLLM2_INSTRUCT_SPECIAL_TOKENS["unk_token"]!
    const unk = unkContent !== null && tokenizer.tokenToId(unkContent) !== undefined
      ? special(unkContent)
      : chat.chatTemplate !== undefined && isSpecialToken(chatUnk) ? special(chatUnk) : eos ?? bos
    const pad = eos ?? bos
    const named = { bos_token: bos, eos_token: eos, unk_token: unk, pad_token: pad }

    // add_bos_token/add_eos_token say what the file's post-processor does: transformers 5 ignores them when
    // tokenizer.json is there and PreTrainedTokenizerFast 4.x never reads them, but other readers (llama.cpp's
    // converter) take them as the truth. A template adding anything but BOS before and EOS after: both left out.
    const template = templateIds(tokenizer)
    const only = (ids: ReadonlyArray<number>, id: number | null) => ids.length === 0 || (ids.length === 1 && ids[0] === id)
    const flags = template !== undefined && only(template.before, config.bosTokenId) && only(template.after, config.eosTokenId)
      ? { add_bos_token: template.before.length > 0, add_eos_token: template.after.length > 0 }
      : {}
    const markers = chat.chatTemplate === undefined
      ? []
      : CHATML_SPECIAL_TOKENS.filter(isSpecialToken).map(special)
    const tokenizerConfig: Record<string, unknown> = {
      tokenizer_class: "PreTrainedTokenizerFast",
      model_max_length: config.maxPositionEmbeddings,
      ...Object.fromEntries(Object.entries(named).filter(([, t]) => t !== undefined).map(([k, t]) => [k, t!.content])),
      ...(markers.length === 0 ? {} : { additional_special_tokens: markers.map((t) => t.content) }),
      ...flags,
      clean_up_tokenization_spaces: false,
      ...(chat.chatTemplate === undefined ? {} : { chat_template: chat.chatTemplate })
    }
    const asMapEntry = (t: SpecialToken) => t.flags === undefined ? t.content : { content: t.content, ...t.flags }
    const specialTokensMap = {
      ...Object.fromEntries(Object.entries(named).filter(([, t]) => t !== undefined).map(([k, t]) => [k, asMapEntry(t!)])),
      // Names only, as SmolLM2-Instruct's special_tokens_map.json lists them (the flags are in tokenizer.json).
      ...(markers.length === 0 ? {} : { additional_special_tokens: markers.map((t) => t.content) })
    }
    return new Map<string, Uint8Array | string>([
      ["tokenizer.json", bytes],
      ["tokenizer_config.json", JSON.stringify(tokenizerConfig, null, 2) + "\n"],
      ["special_tokens_map.json", JSON.stringify(specialTokensMap, null, 2) + "\n"]
    ])
  })

/** Reads `path` (a `tokenizer.json`) and builds its checkpoint files; see `tokenizerFiles`. */
export const readTokenizerFiles = (
  path: string,
  config: LlamaConfig,
  chat: ChatTokenizerOptions = {}
): Effect.Effect<Map<string, Uint8Array | string>, TokenizerFilesError, FileSystem.FileSystem> =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const bytes = yield* fs.readFile(path).pipe(Effect.mapError((e) => new TokenizerFilesError({ message: `${path}: ${e.message}` })))
    return yield* tokenizerFiles(path, bytes, config, chat)
  })
