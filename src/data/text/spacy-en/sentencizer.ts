/**
 * spaCy's `sentencizer` (spacy/pipeline/sentencizer.pyx, explosion/spaCy f69c32f): a sentence starts at the first
 * token after a run of sentence-final punctuation that is not itself punctuation. Over token objects
 * (sentenceStarts) and over a Vocab's piece classes (sentenceCountOf, the fast path).
 */
import type { SpacyToken } from "./affixes.ts"
import { CLS_PUNCT, CLS_SENT } from "./piece-flags.ts"

// spacy/pipeline/sentencizer.pyx Sentencizer.default_punct_chars
export const SENT_PUNCT = new Set(
  Array.from(
    "!.?։؟۔܀܁܂߹।॥၊။።፧፨᙮᜵᜶᠃᠉᥄᥅᪨᪩᪪᪫᭚᭛᭞᭟᰻᰼᱾᱿‼‽⁇⁈⁉⸮⸼꓿꘎꘏꛳꛷꡶꡷꣎꣏꤯꧈꧉꩝꩞꩟꫰꫱꯫﹒﹖﹗！．？𐩖𐩗𑁇𑁈𑂾𑂿𑃀𑃁𑅁𑅂𑅃𑇅𑇆𑇍𑇞𑇟𑈸𑈹𑈻𑈼𑊩𑑋𑑌𑗂𑗃𑗉𑗊𑗋𑗌𑗍𑗎𑗏𑗐𑗑𑗒𑗓𑗔𑗕𑗖𑗗𑙁𑙂𑜼𑜽𑜾𑩂𑩃𑪛𑪜𑱁𑱂𖩮𖩯𖫵𖬷𖬸𖭄𛲟𝪈｡。"
  )
)
export const IS_PUNCT = /^\p{P}+$/u

/** Sentence start indices over `tokens`, as the sentencizer sets them. */
export const sentenceStarts = (tokens: ReadonlyArray<SpacyToken>): Array<number> => {
  if (tokens.length === 0) return []
  const starts = [0]
  let start = 0
  let seenPeriod = false
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i]!.text
    const inPunctChars = SENT_PUNCT.has(t)
    if (seenPeriod && !inPunctChars && !IS_PUNCT.test(t)) {
      if (starts[starts.length - 1] !== start) starts.push(start)
      start = i
      seenPeriod = false
    } else if (inPunctChars) seenPeriod = true
  }
  if (starts[starts.length - 1] !== start) starts.push(start)
  return starts
}

/** sentenceStarts(...).length over pieces ids[from, to) whose classes (CLS_SENT, CLS_PUNCT) are `cls`, at least 1. */
export const sentenceCountOf = (cls: Uint8Array, ids: Int32Array, from: number, to: number): number => {
  if (to <= from) return 1
  let count = 1
  let last = from
  let start = from
  let seenPeriod = false
  for (let i = from; i < to; i++) {
    const c = cls[ids[i]!]!
    const inPunctChars = (c & CLS_SENT) !== 0
    if (seenPeriod && !inPunctChars && (c & CLS_PUNCT) === 0) {
      if (last !== start) {
        count++
        last = start
      }
      start = i
      seenPeriod = false
    } else if (inPunctChars) seenPeriod = true
  }
  if (last !== start) count++
  return count
}
