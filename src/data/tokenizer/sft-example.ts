/**
 * A conversation as SFT sees it: the template's rendering, its ids, and a 0/1 loss mask per id. A token is a target
 * (1) when its first character lies inside an assistant message's content or in the end-of-turn marker that
 * closes it (`<|im_end|>` in ChatML), so the model learns to answer and to stop, never to write the user's turns or
 * the template's headers ("<|im_start|>assistant\n" is 0).
 *
 * The ids are what transformers' `apply_chat_template(tokenize=True)` gives: the rendered text encoded as one
 * string, special tokens recognized, no BOS/EOS added beyond what the template writes.
 */
import { Effect } from "effect"
import { type ChatTemplate, ChatTemplateError } from "./chat-template.ts"
import type { Conversation } from "./conversations.ts"
import { tokenByteStarts, type TokenAlignmentError, utf8Offset } from "./token-offsets.ts"
import type { TokenizerShape } from "./Tokenizer.ts"

export interface SftExample {
  readonly id: string
  readonly text: string
  readonly ids: Uint32Array
  /** 1 for a target token, 0 otherwise; as long as `ids`. */
  readonly mask: Uint8Array
}

export interface SftExampleOptions {
  /**
   * The marker that closes an assistant turn and is trained on with it; it must follow every assistant content
   * directly. "" trains on contents only. Default `<|im_end|>` (ChatML).
   */
  readonly endOfTurn?: string
}

export const CHATML_END_OF_TURN = "<|im_end|>"

/** Lone surrogates become U+FFFD, as the tokenizer (and HF's) would read them; lengths, hence spans, are unchanged. */
const wellFormed = (s: string): string => s.replace(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g, "\uFFFD")

export const tokenizeConversation = (
  template: ChatTemplate,
  tokenizer: TokenizerShape,
  conversation: Conversation,
  options: SftExampleOptions = {}
): Effect.Effect<SftExample, ChatTemplateError | TokenAlignmentError> =>
  Effect.gen(function*() {
    const endOfTurn = options.endOfTurn ?? CHATML_END_OF_TURN
    const rendered = yield* template.renderWithSpans(
      conversation.messages,
      conversation.tools === undefined ? {} : { tools: conversation.tools }
    )
    const text = wellFormed(rendered.text)
    // Target byte ranges, in text order (spans of one rendering do not overlap).
    const targets: Array<readonly [number, number]> = []
    for (let k = 0; k < conversation.messages.length; k++) {
      if (conversation.messages[k]!.role !== "assistant") continue
      const span = rendered.spans[k]
      if (span === undefined) {
        return yield* Effect.fail(new ChatTemplateError({ reason: "Locate", message: `${template.name}: the template does not write assistant message ${k}, so it cannot be trained on` }))
      }
      let end = span.end
      if (endOfTurn.length > 0) {
        if (!text.startsWith(endOfTurn, end)) {
          return yield* Effect.fail(new ChatTemplateError({
            reason: "Locate",
            message: `${template.name}: assistant message ${k} is followed by ${JSON.stringify(text.slice(end, end + 20))}, not the end-of-turn marker ` +
              `${JSON.stringify(endOfTurn)} (set the marker of this template, or "" to train on contents only)`
          }))
        }
        end += endOfTurn.length
      }
      targets.push([utf8Offset(text, span.start), utf8Offset(text, end)])
    }
    targets.sort((a, b) => a[0] - b[0])
    const ids = yield* tokenizer.encode(text, { addSpecialTokens: false })
    const starts = tokenByteStarts(tokenizer, ids, text)
    if (!(starts instanceof Uint32Array)) return yield* Effect.fail(starts)
    const mask = new Uint8Array(ids.length)
    let t = 0
    for (let i = 0; i < ids.length; i++) {
      const at = starts[i]!
      while (t < targets.length && targets[t]![1] <= at) t++
      if (t < targets.length && targets[t]![0] <= at) mask[i] = 1
    }
    return { id: conversation.id, text, ids, mask }
  })

/** The JSONL line of an example: `{"id", "text", "ids", "mask"}`. */
export const sftExampleLine = (e: SftExample): string =>
  JSON.stringify({ id: e.id, text: e.text, ids: Array.from(e.ids), mask: Array.from(e.mask) })
