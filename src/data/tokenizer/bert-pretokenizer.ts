/**
 * HF's BertPreTokenizer: split on whitespace (dropping it), then cut every punctuation character out as a piece of
 * its own. "Punctuation" is HF's: ASCII 33–47, 58–64, 91–96, 123–126 (so `$`, `+`, `<`, `^`, `|` too) and the
 * Unicode P* categories of the tables HF was built with (see `bert-unicode.ts`).
 */
import { bertWordRe } from "./bert-unicode.ts"

/** Appends the pieces of `s` to `out`, in order; never an empty one. */
export const bertPreTokenize = (s: string, out: string[]): void => {
  const re = bertWordRe
  re.lastIndex = 0
  let m: RegExpExecArray | null
  while ((m = re.exec(s)) !== null) out.push(m[0])
}
