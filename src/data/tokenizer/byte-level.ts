/**
 * GPT-2's byte-level alphabet: every byte gets a printable character so that a BPE vocabulary over "characters"
 * covers all byte sequences. Printable Latin-1 bytes map to themselves; the other 68 (controls, space, soft
 * hyphen, ...) map to U+0100 onwards in byte order. Same table as `bytes_to_unicode` in GPT-2 and HF `tokenizers`.
 */
const buildTables = (): { byteToChar: string[]; charToByte: Map<number, number> } => {
  const printable: number[] = []
  for (let b = 0x21; b <= 0x7e; b++) printable.push(b)
  for (let b = 0xa1; b <= 0xac; b++) printable.push(b)
  for (let b = 0xae; b <= 0xff; b++) printable.push(b)
  const byteToChar: string[] = new Array(256)
  const charToByte = new Map<number, number>()
  const isPrintable = new Set(printable)
  let next = 0
  for (let b = 0; b < 256; b++) {
    const code = isPrintable.has(b) ? b : 256 + next++
    byteToChar[b] = String.fromCharCode(code)
    charToByte.set(code, b)
  }
  return { byteToChar, charToByte }
}

const tables = buildTables()

/** The character standing for byte `b` in vocabulary entries. */
export const byteToChar: ReadonlyArray<string> = tables.byteToChar
/** Inverse of `byteToChar`, by UTF-16 code unit (all 256 characters are in the BMP). */
export const charToByte: ReadonlyMap<number, number> = tables.charToByte

/** The 256 characters of the alphabet, sorted the way HF's trainer sorts its initial alphabet. */
export const byteLevelAlphabet = (): Array<string> => [...byteToChar].sort()

/** The vocabulary form of a string: its UTF-8 bytes, each replaced by its alphabet character. */
export const toByteLevel = (text: string): string => {
  let out = ""
  for (const b of utf8.encode(text)) out += byteToChar[b]
  return out
}

/**
 * The bytes a vocabulary entry stands for. HF's ByteLevel decoder falls back to the token's own UTF-8 bytes when
 * any character is outside the alphabet (added tokens such as "<|endoftext|>" are in it; "日本" would not be).
 */
export const tokenBytes = (token: string): Uint8Array => {
  const out = new Uint8Array(token.length)
  for (let i = 0; i < token.length; i++) {
    const b = charToByte.get(token.charCodeAt(i))
    if (b === undefined) return utf8.encode(token)
    out[i] = b
  }
  return out
}

export const utf8 = new TextEncoder()

/**
 * The pre-tokenizer regex of GPT-2 (`ByteLevel` with `use_regex`), for JavaScript. HF runs it with Oniguruma, whose
 * `\s` is Unicode White_Space (it includes U+0085 and excludes U+FEFF, unlike JavaScript's `\s`), so `\s` is
 * spelled `\p{White_Space}` here. `\s+(?!\S)` keeps the last space of a run for the next word, as in GPT-2.
 */
export const byteLevelPattern =
  "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\p{White_Space}\\p{L}\\p{N}]+|\\p{White_Space}+(?!\\P{White_Space})|\\p{White_Space}+"
