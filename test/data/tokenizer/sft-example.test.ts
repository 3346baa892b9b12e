import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { Tokenizer as HfTokenizer } from "tokenizers"
import { byteToChar, utf8 } from "../../../src/data/tokenizer/byte-level.ts"
import { type ChatMessage, ChatTemplateError, defaultChatTemplate, makeChatTemplate } from "../../../src/data/tokenizer/chat-template.ts"
import { type SftExample, tokenizeConversation } from "../../../src/data/tokenizer/sft-example.ts"
import { TokenAlignmentError, tokenByteStarts } from "../../../src/data/tokenizer/token-offsets.ts"
import { makeTokenizer, type TokenizerShape } from "../../../src/data/tokenizer/Tokenizer.ts"
import { trainedTokenizerJson } from "./reference.ts"

const chat: ReadonlyArray<ChatMessage> = [
  { role: "user", content: "What is 2 + 2?" },
  { role: "assistant", content: "4." },
  { role: "user", content: "And 3 + 3? Answer like an assistant." },
  { role: "assistant", content: "6, since 3 + 3 = 6." }
]

/** The text of each run of consecutive target tokens. */
const targetRuns = (e: SftExample, tokenText: (ids: ReadonlyArray<number>) => string): Array<string> => {
  const runs: string[] = []
  let run: number[] = []
  e.ids.forEach((id, i) => {
    if (e.mask[i] === 1) run.push(id)
    else if (run.length > 0) {
      runs.push(tokenText(run))
      run = []
    }
  })
  if (run.length > 0) runs.push(tokenText(run))
  return runs
}

/** Every occurrence of `needle` (a run of ids) in `ids`, as start indices. */
const occurrences = (ids: ArrayLike<number>, needle: ArrayLike<number>): Array<number> => {
  const out: number[] = []
  for (let i = 0; i + needle.length <= ids.length; i++) {
    let k = 0
    while (k < needle.length && ids[i + k] === needle[k]) k++
    if (k === needle.length) out.push(i)
  }
  return out
}

/** Checks a multi-turn chat by hand: the targets are exactly the assistant contents and their `<|im_end|>`. */
const checkChatMask = (t: TokenizerShape, hf: HfTokenizer) =>
  Effect.gen(function*() {
    const template = yield* defaultChatTemplate()
    const e = yield* tokenizeConversation(template, t, { id: "c", messages: chat })
    expect(e.mask.length).toBe(e.ids.length)
    expect(yield* t.decode(e.ids)).toBe(e.text)
    // HF-exact ids: the rendered text encoded as one string, special tokens recognized, nothing added.
    expect(Array.from(e.ids)).toEqual((yield* Effect.promise(() => hf.encode(e.text, null, { addSpecialTokens: false }))).getIds())
    const decode = (ids: ReadonlyArray<number>) => Effect.runSync(t.decode(ids))
    expect(targetRuns(e, decode)).toEqual(["4.<|im_end|>", "6, since 3 + 3 = 6.<|im_end|>"])
    // The "<|im_start|>assistant\n" headers (and the "\n" after each <|im_end|>) are never targets.
    const header = yield* t.encode("<|im_start|>assistant\n", { addSpecialTokens: false })
    const at = occurrences(e.ids, header)
    expect(at.length).toBe(2)
    for (const i of at) expect(Array.from(e.mask.subarray(i, i + header.length))).toEqual(new Array(header.length).fill(0))
    const imEnd = t.tokenToId("<|im_end|>")!
    const ends = e.ids.reduce<number[]>((acc, id, i) => (id === imEnd ? [...acc, i] : acc), [])
    // system, user, assistant, user, assistant: only the assistant turns' closing tokens count.
    expect(ends.map((i) => e.mask[i])).toEqual([0, 0, 1, 0, 1])
    return e
  })

describe("assistant-only loss masks", () => {
  it.effect("a multi-turn chat with a trained SmolLM2-style tokenizer: targets are the assistant contents and their <|im_end|>", () =>
    Effect.gen(function*() {
      const json = trainedTokenizerJson()
      const t = yield* makeTokenizer(json, { name: "trained" })
      const e = yield* checkChatMask(t, HfTokenizer.fromString(json))
      expect(e.text.startsWith("<|im_start|>system\nYou are a helpful AI assistant named SmolLM")).toBe(true)
    }).pipe(Effect.scoped))

  it.effect("a token is a target when its first character is: a header-straddling token is not, a half-character token follows its character", () =>
    Effect.gen(function*() {
      // One token per byte, plus ":H" (straddles the header and an assistant content), "<|im_end|>", and the last
      // three bytes of "🙂" (a token that starts inside a character).
      const t = pieceTokenizer([utf8.encode(":H"), utf8.encode("<|im_end|>"), utf8.encode("🙂").subarray(1)])
      const template = yield* makeChatTemplate("{% for m in messages %}{{ m.role }}:{{ m.content }}<|im_end|>{% endfor %}", { name: "colon" })
      const e = yield* tokenizeConversation(template, t, {
        id: "x",
        messages: [{ role: "user", content: "hey🙂" }, { role: "assistant", content: "🙂 ok" }, { role: "user", content: "more" }, {
          role: "assistant",
          content: "Hi"
        }]
      })
      expect(e.text).toBe("user:hey🙂<|im_end|>assistant:🙂 ok<|im_end|>user:more<|im_end|>assistant:Hi<|im_end|>")
      const shown = Array.from(e.ids, (id, i) => `${t.idToToken(id)}=${e.mask[i]}`)
      const tail = t.idToToken(258)!
      // user:hey🙂 — the emoji's lead byte and its tail token are both 0 in the user turn.
      expect(shown.slice(0, 11)).toEqual(["u=0", "s=0", "e=0", "r=0", ":=0", "h=0", "e=0", "y=0", `${byteToChar[0xf0]}=0`, `${tail}=0`, "<|im_end|>=0"])
      // assistant:🙂 ok — the tail token starts mid-character, in the emoji, which is content: 1.
      expect(shown.slice(11, 27)).toEqual([
        "a=0", "s=0", "s=0", "i=0", "s=0", "t=0", "a=0", "n=0", "t=0", ":=0",
        `${byteToChar[0xf0]}=1`, `${tail}=1`, `${byteToChar[0x20]}=1`, "o=1", "k=1", "<|im_end|>=1"
      ])
      // assistant:Hi — ":H" starts at the colon, outside the content, so it is 0 although it holds the "H".
      expect(shown.slice(-12)).toEqual(["a=0", "s=0", "s=0", "i=0", "s=0", "t=0", "a=0", "n=0", "t=0", ":H=0", "i=1", "<|im_end|>=1"])
    }))

  it.effect("a template whose assistant turns are not closed by the marker fails, unless the marker is \"\"", () =>
    Effect.gen(function*() {
      const t = pieceTokenizer([])
      const template = yield* makeChatTemplate("{% for m in messages %}{{ m.role }}: {{ m.content }}\n{% endfor %}", { name: "plain" })
      const conversation = { id: "p", messages: [{ role: "user", content: "a" }, { role: "assistant", content: "bc" }] }
      const e = yield* Effect.flip(tokenizeConversation(template, t, conversation))
      expect(e).toBeInstanceOf(ChatTemplateError)
      expect(e.message).toMatch(/plain: assistant message 1 is followed by "\\n", not the end-of-turn marker "<\|im_end\|>"/)
      const ok = yield* tokenizeConversation(template, t, conversation, { endOfTurn: "" })
      expect(ok.text).toBe("user: a\nassistant: bc\n")
      expect(targetRuns(ok, (ids) => Effect.runSync(t.decode(ids)))).toEqual(["bc"])
    }))

  it("refuses offsets for tokens that do not spell the text (a normalizing tokenizer)", () => {
    const lower = { idToToken: (id: number) => (id === 0 ? "ab" : undefined) }
    const e = tokenByteStarts(lower, [0], "AB")
    expect(e).toBeInstanceOf(TokenAlignmentError)
    expect((e as TokenAlignmentError).message).toMatch(/token 0 \("ab"\) does not spell the text at byte 0/)
    expect(Array.from(tokenByteStarts({ idToToken: (id) => ["Ġa", "b", "<|im_end|>"][id] }, [0, 1, 2], " ab<|im_end|>") as Uint32Array)).toEqual([0, 2, 3, 13])
  })
})

/**
 * A byte-level test tokenizer: ids 0–255 are single bytes, 256 onwards the given byte pieces, matched longest
 * first. Enough to place token boundaries exactly where a test wants them.
 */
const pieceTokenizer = (pieces: ReadonlyArray<Uint8Array>): TokenizerShape => {
  const levelOf = (bytes: Uint8Array) => Array.from(bytes, (b) => byteToChar[b]!).join("")
  const tokens = [...byteToChar, ...pieces.map((p) => new TextDecoder().decode(p) === "<|im_end|>" ? "<|im_end|>" : levelOf(p))]
  const bytesOf = (id: number): Uint8Array => (id < 256 ? Uint8Array.of(id) : pieces[id - 256]!)
  const encode = (text: string): Uint32Array => {
    const bytes = utf8.encode(text)
    const out: number[] = []
    for (let at = 0; at < bytes.length;) {
      let best = bytes[at]!
      let length = 1
      pieces.forEach((p, k) => {
        if (p.length > length && p.every((b, i) => bytes[at + i] === b)) {
          best = 256 + k
          length = p.length
        }
      })
      out.push(best)
      at += length
    }
    return Uint32Array.from(out)
  }
  const decode = (ids: ArrayLike<number>): string => {
    const parts = Array.from(ids, (id) => Array.from(bytesOf(id))).flat()
    return new TextDecoder().decode(Uint8Array.from(parts))
  }
  return {
    name: "pieces",
    vocabSize: tokens.length,
    encode: (text) => Effect.sync(() => encode(text)),
    encodeBatch: (texts) => Effect.sync(() => texts.map(encode)),
    decode: (ids) => Effect.sync(() => decode(ids)),
    tokenToId: (token) => {
      const i = tokens.indexOf(token)
      return i < 0 ? undefined : i
    },
    idToToken: (id) => tokens[id]
  }
}
