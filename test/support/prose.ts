/**
 * Made-up prose that FineWeb's filters keep — many distinct words, stop words, full sentences ending in a period —
 * different for each seed and the same on every machine: the documents of the filter, Slurm and example tests.
 */
export const PROSE_WORDS = ("the of and to in is that for it with as was on be by this are from at or an have which one all were " +
  "their there been has more when will would who them some these than its into only other such could time after " +
  "river mountain history science student teacher garden kitchen market village winter summer music library " +
  "question answer method result energy water light plant animal forest ocean city road bridge engine window").split(" ")

export const prose = (seed: number, options: { readonly sentences?: number; readonly words?: ReadonlyArray<string> } = {}): string => {
  const words = options.words ?? PROSE_WORDS
  let s = seed * 7919 + 13
  const next = () => (s = (s * 1103515245 + 12345) % 2147483648) / 2147483648
  return Array.from({ length: options.sentences ?? 10 }, () => {
    const sentence = Array.from({ length: 12 + Math.floor(next() * 8) }, () => words[Math.floor(next() * words.length)]!).join(" ")
    return sentence.charAt(0).toUpperCase() + sentence.slice(1) + "."
  }).join("\n")
}
