/**
 * Where each token of an encoding starts in its text, as a UTF-8 byte offset. Byte offsets rather than character
 * offsets because a byte-level token may hold half of a character ("🙂" is four bytes, often two tokens): the
 * character a token starts in is the one its first byte belongs to, and since character boundaries are byte
 * boundaries, "the token's first character lies in [a, b)" is "its first byte lies in [byte(a), byte(b))".
 *
 * A token's bytes come from its vocabulary entry through the byte-level alphabet; an added token (`<|im_end|>`,
 * or one with characters outside the alphabet) stands for its own UTF-8 text. Each token must spell the text at
 * its place, and all of them the whole text: a tokenizer whose tokens do not (a normalizer that rewrites the text,
 * a WordPiece model) is refused with the first place where they part, never given guessed offsets.
 */
import { Schema } from "effect"
import { charToByte, utf8 } from "./byte-level.ts"
import type { TokenizerShape } from "./Tokenizer.ts"

export class TokenAlignmentError extends Schema.TaggedError<TokenAlignmentError>()("TokenAlignmentError", {
  message: Schema.String
}) {}

/** The byte-level reading of a vocabulary entry, or undefined when a character is outside the alphabet. */
const byteLevelBytes = (token: string): Uint8Array | undefined => {
  const out = new Uint8Array(token.length)
  for (let i = 0; i < token.length; i++) {
    const b = charToByte.get(token.charCodeAt(i))
    if (b === undefined) return undefined
    out[i] = b
  }
  return out
}

const matchesAt = (text: Uint8Array, at: number, bytes: Uint8Array): boolean => {
  if (at + bytes.length > text.length) return false
  for (let i = 0; i < bytes.length; i++) if (text[at + i] !== bytes[i]) return false
  return true
}

/** `starts[i]` is the byte offset in `text` where token `i` starts; `starts[ids.length]` is the text's length. */
export const tokenByteStarts = (
  tokenizer: Pick<TokenizerShape, "idToToken">,
  ids: ArrayLike<number>,
  text: string
): Uint32Array | TokenAlignmentError => {
  const bytes = utf8.encode(text)
  const starts = new Uint32Array(ids.length + 1)
  let at = 0
  for (let i = 0; i < ids.length; i++) {
    starts[i] = at
    const token = tokenizer.idToToken(ids[i]!)
    if (token === undefined) return new TokenAlignmentError({ message: `token ${i} has id ${ids[i]}, which the tokenizer does not know` })
    // Both readings are tried: which one applies is the tokenizer's business (added or not), and only one can
    // spell the text here unless both give the same bytes.
    const asByteLevel = byteLevelBytes(token)
    const candidate = asByteLevel !== undefined && matchesAt(bytes, at, asByteLevel) ? asByteLevel : utf8.encode(token)
    if (candidate.length === 0 || !matchesAt(bytes, at, candidate)) {
      const near = new TextDecoder().decode(bytes.subarray(at, at + 24))
      return new TokenAlignmentError({
        message: `token ${i} (${JSON.stringify(token)}) does not spell the text at byte ${at} (${JSON.stringify(near)}): ` +
          "the tokenizer rewrites the text (a normalizer) or is not byte-level, so token offsets cannot be derived"
      })
    }
    at += candidate.length
  }
  starts[ids.length] = at
  if (at !== bytes.length) {
    return new TokenAlignmentError({ message: `the tokens spell ${at} of the text's ${bytes.length} bytes` })
  }
  return starts
}

/** The UTF-8 byte offset of UTF-16 offset `index` in `text`. */
export const utf8Offset = (text: string, index: number): number => Buffer.byteLength(text.slice(0, index), "utf8")
