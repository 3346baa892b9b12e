import { describe, expect, it } from "@effect/vitest"
import { Effect, Stream } from "effect"
import { type Document, makeDocument } from "../../src/data/Document.ts"
import { C4ParagraphFilter } from "../../src/data/filters/c4-paragraph.ts"
import { C4QualityFilter } from "../../src/data/filters/c4-quality.ts"
import { applyFilters, type FilterResult } from "../../src/data/filters/Filter.ts"
import { FineWebQualityFilter } from "../../src/data/filters/fineweb-quality.ts"
import { GopherQualityFilter } from "../../src/data/filters/gopher-quality.ts"
import { GopherRepetitionFilter } from "../../src/data/filters/gopher-repetition.ts"
import { LambdaFilter } from "../../src/data/filters/lambda.ts"
import { RegexFilter } from "../../src/data/filters/regex.ts"
import { SamplerFilter } from "../../src/data/filters/sampler.ts"
import { URLFilter } from "../../src/data/filters/url.ts"
import { StatsCollector } from "../../src/data/stats.ts"

const doc = (text: string, metadata: Record<string, unknown> = {}) => makeDocument("d", text, metadata)
const reason = (r: FilterResult) => (r._tag === "Keep" ? "keep" : r.reason)

// Distinct lowercase words (no repeats, no stop words) so that only the property under test moves a decision.
const words = (n: number, from = 0) =>
  Array.from({ length: n }, (_, i) => {
    let k = i + from
    let w = ""
    do {
      w += "bcdfghjklmnpqrstvwxz"[k % 20]
      k = Math.floor(k / 20)
    } while (k > 0)
    return "w" + w + "ok"
  })

describe("GopherQualityFilter (datatrove defaults)", () => {
  const f = GopherQualityFilter()
  // Two stop words plus distinct words; "." is a symbol-only word that counts in n_words but not in the minimum.
  const body = (n: number) => ["the", "and", ...words(n - 2)].join(" ") + "."
  it("keeps exactly 50 non-symbol words and drops 49 as gopher_short_doc", () => {
    expect(reason(f.filter(doc(body(50))))).toBe("keep")
    expect(reason(f.filter(doc(body(49))))).toBe("gopher_short_doc")
  })
  it("drops an average word length below 3 and keeps exactly 3", () => {
    expect(reason(f.filter(doc(Array(60).fill("ab").join(" "))))).toBe("gopher_below_avg_threshold")
    expect(reason(f.filter(doc(["the", "and", ...Array(58).fill("abc")].join(" "))))).not.toBe("gopher_below_avg_threshold")
  })
  it("drops more than 10% '#' per word: 6 hashes on 50 words drop, 5 keep", () => {
    // Each "#" is its own token (a prefix), so n_words = 50 + k: 6/56 > 0.1, 5/55 < 0.1.
    expect(reason(f.filter(doc(body(50) + " #".repeat(6))))).toBe("gopher_too_many_hashes")
    expect(reason(f.filter(doc(body(50) + " #".repeat(5))))).toBe("keep")
  })
  it("drops when more than 90% of lines start with a bullet; exactly 90% is kept", () => {
    const line = (i: number, bullet: boolean) => (bullet ? "- " : "") + ["the", "with", ...words(5, i * 5)].join(" ")
    const all = Array.from({ length: 10 }, (_, i) => line(i, true)).join("\n")
    const nine = Array.from({ length: 10 }, (_, i) => line(i, i > 0)).join("\n")
    expect(reason(f.filter(doc(all)))).toBe("gopher_too_many_bullets")
    expect(reason(f.filter(doc(nine)))).toBe("keep")
  })
  it("drops when more than 30% of lines end with an ellipsis; exactly 30% is kept", () => {
    const text = (k: number) =>
      Array.from({ length: 10 }, (_, i) => ["the", "with", ...words(5, i * 5)].join(" ") + (i < k ? "..." : ".")).join("\n")
    expect(reason(f.filter(doc(text(4))))).toBe("gopher_too_many_end_ellipsis")
    expect(reason(f.filter(doc(text(3))))).toBe("keep")
  })
  it("drops when fewer than 80% of words have a letter: 12 numbers with 50 words drop, 11 keep", () => {
    // 50 alphabetic words + k numbers + the "." token: 50/63 < 0.8 with 12 numbers, 50/62 ≥ 0.8 with 11.
    const text = (k: number) => ["the", "and", ...words(48), ...Array(k).fill("123")].join(" ") + "."
    expect(reason(f.filter(doc(text(12))))).toBe("gopher_below_alpha_threshold")
    expect(reason(f.filter(doc(text(11))))).toBe("keep")
  })
  it("needs two distinct stop words (datatrove's reason string: gopher_enough_stop_words)", () => {
    expect(reason(f.filter(doc(["the", "the", ...words(58)].join(" "))))).toBe("gopher_enough_stop_words")
    expect(reason(f.filter(doc(["the", "of", ...words(58)].join(" "))))).toBe("keep")
  })
  it("counts contractions as spaCy splits them: \"don't\" is two words", () => {
    // 24 × "don't" = 48 words plus "the" and "and": 50 non-symbol words.
    const text = ["the", "and", ...Array(24).fill("don't")].join(" ")
    expect(reason(GopherQualityFilter({ minAvgWordLength: null, minStopWords: null }).filter(doc(text)))).toBe("keep")
    const short = ["the", "and", ...Array(23).fill("don't")].join(" ")
    expect(reason(GopherQualityFilter({ minAvgWordLength: null }).filter(doc(short)))).toBe("gopher_short_doc")
  })
})

describe("GopherRepetitionFilter (datatrove defaults)", () => {
  const f = GopherRepetitionFilter()
  const para = (i: number) => words(8, i * 8).join(" ")
  it("drops 4 duplicate paragraphs of 10 as dup_para_frac", () => {
    const ps = Array.from({ length: 10 }, (_, i) => para(i < 5 ? 0 : i))
    expect(reason(f.filter(doc(ps.join("\n\n"))))).toBe("dup_para_frac")
  })
  it("at exactly 30% duplicate paragraphs falls through to their character share (dup_para_char_frac)", () => {
    const ps = Array.from({ length: 10 }, (_, i) => para(i < 4 && i > 0 ? 0 : i))
    expect(reason(f.filter(doc(ps.join("\n\n"))))).toBe("dup_para_char_frac")
  })
  it("drops repeated lines when they are more than 30% of lines", () => {
    const lines = Array.from({ length: 10 }, (_, i) => (i < 5 ? "same line here" : para(i)))
    expect(reason(f.filter(doc(lines.join("\n"))))).toBe("dup_line_frac")
  })
  it("drops a top 2-gram covering more than 20% of the characters", () => {
    // "ab cd" 20 times among distinct words: 5 × 20 = 100 chars of a ~400-char text.
    const text = Array.from({ length: 20 }, (_, i) => `ab cd ${words(1, i)[0]}`).join(" ")
    expect(reason(f.filter(doc(text)))).toBe("top_2_gram")
  })
  it("drops duplicated 5-grams over 15% of the characters", () => {
    // A 20-word block twice: its 5-grams repeat (~120 of ~500 characters) while no single 4-gram occurs more
    // than twice (2 × 27 characters), so the top-n-gram checks pass and the 5-gram check decides.
    const rep = words(20, 500).join(" ")
    const text = [words(30).join(" "), rep, rep, words(10, 100).join(" ")].join(" ")
    expect(reason(f.filter(doc(text)))).toBe("duplicated_5_n_grams")
  })
  it("keeps text without repetition", () => {
    expect(reason(f.filter(doc(Array.from({ length: 10 }, (_, i) => para(i)).join("\n\n"))))).toBe("keep")
  })
})

describe("C4QualityFilter", () => {
  const sentence = (i: number) => `${["The", ...words(4, i * 4)].join(" ")}.`
  it("drops a page with 4 sentences and keeps one with 5 (too_few_sentences)", () => {
    const f = C4QualityFilter()
    expect(reason(f.filter(doc(Array.from({ length: 4 }, (_, i) => sentence(i)).join("\n"))))).toBe("too_few_sentences")
    expect(reason(f.filter(doc(Array.from({ length: 5 }, (_, i) => sentence(i)).join("\n"))))).toBe("keep")
  })
  it("counts sentences within a line with the sentencizer", () => {
    const f = C4QualityFilter()
    const oneLine = Array.from({ length: 5 }, (_, i) => sentence(i)).join(" ")
    expect(reason(f.filter(doc(oneLine)))).toBe("keep")
  })
  it("with filter_no_terminal_punct a line without end punctuation is removed; FineWeb's setting keeps it", () => {
    const text = [...Array.from({ length: 5 }, (_, i) => sentence(i)), "no punctuation at the end"].join("\n")
    const strict = C4QualityFilter().filter(doc(text))
    const loose = C4QualityFilter({ filterNoTerminalPunct: false }).filter(doc(text))
    expect(strict._tag === "Keep" && strict.doc.text.includes("no punctuation")).toBe(false)
    expect(loose._tag === "Keep" && loose.doc.text.endsWith("no punctuation at the end")).toBe(true)
  })
  it("rewrites kept text: stripped lines, citations removed, javascript/policy/short lines dropped, joined with \\n", () => {
    const text = [
      "  " + sentence(0) + "  ",
      "Enable javascript to see this page.",
      "We use cookies on this site.",
      "Too short.",
      sentence(1).slice(0, -1) + "[1].",
      sentence(2),
      sentence(3),
      sentence(4),
      "Ends with ellipsis..."
    ].join("\n")
    const r = C4QualityFilter().filter(doc(text))
    expect(r._tag).toBe("Keep")
    if (r._tag === "Keep") {
      expect(r.doc.text).toBe([sentence(0), sentence(1), sentence(2), sentence(3), sentence(4)].join("\n"))
    }
  })
  it("drops the whole page for lorem ipsum or a curly bracket in a kept line", () => {
    const base = Array.from({ length: 5 }, (_, i) => sentence(i))
    expect(reason(C4QualityFilter().filter(doc([...base, "Lorem ipsum dolor sit."].join("\n"))))).toBe("lorem_ipsum")
    expect(reason(C4QualityFilter().filter(doc([...base, "a { b } c."].join("\n"))))).toBe("curly_bracket")
  })
})

describe("C4ParagraphFilter", () => {
  it("needs three lines of at least 200 characters", () => {
    const f = C4ParagraphFilter()
    const long = "x".repeat(200)
    expect(reason(f.filter(doc([long, long, long].join("\n"))))).toBe("keep")
    expect(reason(f.filter(doc([long, long, "x".repeat(199)].join("\n"))))).toBe("< 3 paragraphs")
    expect(reason(f.filter(doc([long, long].join("\n"))))).toBe("< 3 paragraphs")
  })
})

describe("FineWebQualityFilter (datatrove defaults)", () => {
  const f = FineWebQualityFilter()
  const long = (i: number, end: string) => words(6, i * 6).join(" ") + end
  it("drops when fewer than 12% of lines end in terminal punctuation: 1 of 9 drops, 1 of 8 keeps", () => {
    const text = (n: number) => Array.from({ length: n }, (_, i) => long(i, i === 0 ? "." : "")).join("\n")
    expect(reason(f.filter(doc(text(9))))).toBe("line_punct_ratio")
    expect(reason(f.filter(doc(text(8))))).toBe("keep")
  })
  it("drops when more than 67% of lines are at most 30 characters", () => {
    const lines = Array.from({ length: 10 }, (_, i) => (i < 7 ? `short line ${words(1, i)[0]}.` : long(i, ".")))
    expect(reason(f.filter(doc(lines.join("\n"))))).toBe("short_line_ratio")
  })
  it("drops when duplicated lines carry more than 1% of the characters", () => {
    const lines = Array.from({ length: 10 }, (_, i) => long(i, "."))
    lines.push(lines[0]!)
    expect(reason(f.filter(doc(lines.join("\n"))))).toBe("char_dup_ratio")
  })
  it("drops more than 0.3 newlines per word (list_ratio)", () => {
    const lines = Array.from({ length: 10 }, (_, i) => `${words(5, i * 5).join(" ")} this is long enough.`)
    // 10 words per line ("." included) = 100 words. 27 newlines → 0.27 kept; 36 → 0.36 dropped.
    expect(reason(f.filter(doc(lines.join("\n\n\n"))))).toBe("keep")
    expect(reason(f.filter(doc(lines.join("\n\n\n\n"))))).toBe("list_ratio")
  })
  it("drops a page with no non-blank line as empty", () => {
    expect(reason(f.filter(doc(" \n \n")))).toBe("empty")
  })
})

describe("RegexFilter, LambdaFilter, SamplerFilter, URLFilter", () => {
  it("RegexFilter drops on any match", () => {
    const f = RegexFilter(/casino/i)
    expect(reason(f.filter(doc("Online CASINO bonus")))).toBe(undefined)
    expect(reason(f.filter(doc("a quiet page")))).toBe("keep")
  })
  it("LambdaFilter keeps on true and drops with a returned reason", () => {
    const f = LambdaFilter((d) => (d.text.length > 3 ? true : "too_short"))
    expect(reason(f.filter(doc("long enough")))).toBe("keep")
    expect(reason(f.filter(doc("no")))).toBe("too_short")
  })
  it("SamplerFilter keeps about `rate` of documents, the same ones for the same seed", () => {
    const a = SamplerFilter(0.3, 7)
    const b = SamplerFilter(0.3, 7)
    const c = SamplerFilter(0.3, 8)
    const da = Array.from({ length: 2000 }, () => a.filter(doc("x"))._tag)
    const db = Array.from({ length: 2000 }, () => b.filter(doc("x"))._tag)
    const dc = Array.from({ length: 2000 }, () => c.filter(doc("x"))._tag)
    expect(da).toEqual(db)
    expect(da).not.toEqual(dc)
    const kept = da.filter((t) => t === "Keep").length
    expect(kept).toBeGreaterThan(520)
    expect(kept).toBeLessThan(680)
  })
  it("URLFilter checks domain, subdomain, url, banned words, soft words and subwords in datatrove's order", () => {
    const f = URLFilter({
      blockedDomains: ["bad.com", "news.site.org"],
      blockedUrls: ["https://ok.org/page"],
      bannedWords: ["porn"],
      softBannedWords: ["sex", "cam"],
      bannedSubwords: ["casino"]
    })
    const r = (url: string) => reason(f.filter(doc("t", { url })))
    expect(r("https://www.bad.com/x")).toBe("domain")
    expect(r("https://news.site.org/x")).toBe("subdomain")
    expect(r("https://ok.org/page")).toBe("url")
    expect(r("https://ok.org/porn/1")).toBe("hard_blacklisted")
    expect(r("https://ok.org/sex-cam")).toBe("soft_blacklisted")
    expect(r("https://ok.org/sex")).toBe("keep")
    expect(r("https://bestcasinos.org/")).toBe("blacklisted_subword")
  })
})

describe("filter chain as a Stream transformer", () => {
  it.effect("routes dropped documents with filter_reason, counts per reason, and later filters see C4's rewrite", () =>
    Effect.gen(function*() {
      const sentence = (i: number) => `${["The", ...words(4, i * 4)].join(" ")}.`
      const good = makeDocument("good", ["junk line", ...Array.from({ length: 5 }, (_, i) => sentence(i))].join("\n"))
      const bad = makeDocument("bad", "tiny")
      const seen: Array<string> = []
      const dropped: Array<Document> = []
      const stats = new StatsCollector()
      const out = yield* Stream.fromIterable([good, bad]).pipe(
        applyFilters([
          { filter: C4QualityFilter(), exclusion: { write: (docs) => Effect.sync(() => dropped.push(...docs)) } },
          { filter: LambdaFilter((d) => (seen.push(d.text), true)) }
        ], stats),
        Stream.runCollect
      )
      expect(out.map((d) => d.id)).toEqual(["good"])
      expect(seen).toEqual([out[0]!.text])
      expect(seen[0]!.startsWith("The")).toBe(true)
      expect(dropped.map((d) => [d.id, d.metadata["filter_reason"]])).toEqual([["bad", "too_few_sentences"]])
      expect(stats.stages["c4_quality"]).toEqual({ total: 2, forwarded: 1, dropped: 1, dropped_too_few_sentences: 1 })
    }))

  it.effect("takes each document through the whole chain in turn, over many chunks, in order", () =>
    Effect.gen(function*() {
      // 1,000 documents (several internal chunks): multiples of 3 dropped by the first filter, of 5 by the second.
      const docs = Array.from({ length: 1000 }, (_, i) => makeDocument(String(i), `doc ${i}`))
      const trace: Array<string> = []
      const firstOut: Array<Document> = []
      const secondOut: Array<Document> = []
      const stats = new StatsCollector()
      const out = yield* Stream.fromIterable(docs).pipe(
        applyFilters([
          {
            filter: LambdaFilter((d) => (trace.push(`a${d.id}`), Number(d.id) % 3 !== 0), "three"),
            exclusion: { write: (ds) => Effect.sync(() => firstOut.push(...ds)) }
          },
          {
            filter: LambdaFilter((d) => (trace.push(`b${d.id}`), Number(d.id) % 5 !== 0), "five"),
            exclusion: { write: (ds) => Effect.sync(() => secondOut.push(...ds)) }
          }
        ], stats),
        Stream.runCollect
      )
      const ids = (ds: ReadonlyArray<Document>) => ds.map((d) => Number(d.id))
      expect(ids(out)).toEqual(docs.map((_, i) => i).filter((i) => i % 3 !== 0 && i % 5 !== 0))
      expect(ids(firstOut)).toEqual(docs.map((_, i) => i).filter((i) => i % 3 === 0))
      expect(ids(secondOut)).toEqual(docs.map((_, i) => i).filter((i) => i % 3 !== 0 && i % 5 === 0))
      expect(secondOut.every((d) => d.metadata["filter_reason"] === "five")).toBe(true)
      // The second filter sees a document right after the first one kept it.
      for (let i = 1; i < 1000; i++) {
        if (i % 3 !== 0) expect(trace[trace.indexOf(`a${i}`) + 1]).toBe(`b${i}`)
      }
      expect(stats.stages["three"]).toEqual({ total: 1000, forwarded: 666, dropped: 334, dropped_three: 334 })
      expect(stats.stages["five"]!["total"]).toBe(666)
    }))
})
