/**
 * The benches' text: English-like documents they generate (common words mixed with 5,000 rare ones, 5–24 lines of
 * 8–32 words), or the `text` of every record of the JSONL files given.
 */
import { readFileSync } from "node:fs"

/** `count` documents; a line ends with "." with probability `periodShare` (1: always, drawing nothing for it). */
export const generatedEnglish = (count: number, periodShare = 1): Array<string> => {
  const vocab = "the of and to in a is that for it as was with be by on not he this are or his from at which but have an they you were her she there one all we their".split(" ")
  const rare = Array.from({ length: 5000 }, (_, i) => "w" + i.toString(36) + "ing")
  let seed = 1
  const rnd = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31)
  return Array.from({ length: count }, () =>
    Array.from({ length: 5 + Math.floor(rnd() * 20) }, () => {
      const ws = Array.from({ length: 8 + Math.floor(rnd() * 25) }, () => (rnd() < 0.5 ? vocab[Math.floor(rnd() * vocab.length)] : rare[Math.floor(rnd() * rare.length)]))
      return ws.join(" ").replace(/^./, (c) => c.toUpperCase()) + (periodShare >= 1 || rnd() < periodShare ? "." : "")
    }).join("\n"))
}

/** The `text` of every non-blank line of the JSONL files. */
export const jsonlTexts = (files: ReadonlyArray<string>): Array<string> =>
  files.flatMap((f) => readFileSync(f, "utf8").split("\n").filter((l) => l.trim()).map((l) => String(JSON.parse(l).text ?? "")))
