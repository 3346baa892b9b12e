/**
 * The fast MinHash signature path (dedup/shingle-words.ts + dedup/minhash-wasm.ts) against the definitions it
 * replaces: the shared simplify_text + spaCy words, XXH64 from the spec in BigInt, and the permutations in BigInt
 * exactly as numpy computes them.
 */
import { describe, expect, it } from "@effect/vitest"
import { createHash } from "node:crypto"
import { existsSync, readFileSync } from "node:fs"
import { join } from "node:path"
import {
  defaultMinhashConfig,
  MERSENNE_PRIME,
  type MinhashConfig,
  minhashParameters,
  MinhashSignatures,
  shingleTexts
} from "../../src/data/dedup/minhash.ts"
import { minhashKernel } from "../../src/data/dedup/minhash-wasm.ts"
import { fastWords, referenceWords } from "../../src/data/dedup/shingle-words.ts"
import { xxh64String } from "../../src/data/dedup/xxhash64.ts"
import { DEFAULT_TEXT_NORM } from "../../src/data/text/datatrove-text.ts"
import { xxh64Reference } from "./xxh64-reference.ts"

const lcg = (seed: number) => () => (seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0)
const M64 = (1n << 64n) - 1n

/** numpy: `np.min((shingle_hashes * a + b) % p, axis=0)` on uint64, in BigInt. */
const referenceMin = (hashes: ReadonlyArray<bigint>, a: ReadonlyArray<bigint>, b: ReadonlyArray<bigint>): Array<bigint> =>
  a.map((aj, j) => {
    let min = M64
    for (const h of hashes) {
      const v = ((((h * aj) & M64) + b[j]!) & M64) % MERSENNE_PRIME
      if (v < min) min = v
    }
    return min
  })

const referenceSignature = (text: string, config: MinhashConfig): Array<bigint> | undefined => {
  const { a, b } = minhashParameters(config)
  const hashes = shingleTexts(text, config).map((s) =>
    config.hashFc === "xxhash" ? xxh64String(s) : createHash("sha1").update(s, "utf8").digest().readBigUInt64LE(0)
  )
  return hashes.length === 0 ? undefined : referenceMin(hashes, a, b)
}

const signatureOf = (signer: MinhashSignatures, text: string): Array<bigint> | undefined => {
  const out = new Uint32Array(signer.numHashes * 2)
  if (!signer.signature(text, out)) return undefined
  return Array.from({ length: signer.numHashes }, (_, j) => (BigInt(out[2 * j + 1]!) << 32n) | BigInt(out[2 * j]!))
}

// Pieces chosen to reach every branch: exceptions with and without affixes, numbers and decimal separators,
// letters with diacritics, other scripts, combining marks, emoji, exotic whitespace and punctuation.
const PIECES = [
  "the", "quick", "brown", "fox", "cannot", "Cannot", "gonna", "dont", "Don't", "don’t", "I'm", "im", "youll", "its",
  "0km", "12.5", "1,000,000", "3rd", "1.2.3", "7", "10am", "5pm", "1am", "p.m.", "a.", "e.g.", "i.e.", "C++",
  "°C.", "°c", "‘s", "’s", "‘S", "'s", "ʼ", "É", "école", "naïve", "İstanbul", "ΣΑΣ", "Σ", "straße", "ø", "日本語",
  "한국어", "🙂", "👍🏽", "\u0301", "e\u0301", "\u00a0", "\u2003", "\t", "\n", "\r\n", "  ", "\u000b", "\u001c", "-", "—",
  "…", "...", "£5", "$10", "€", "©", "®", "™", "•", "·", "http://example.com/a?b=c", "www.example.org", "user@example.com",
  ":)", ":-(", "<3", "٣", "١٢٣", "1٫5", "1،2", "3⎖4", "x²", "½", "Ⅻ", "ﬁ", "ǅ", "K", "Å", "ß", "ΐ", "\u0130",
  "\u212a", "\ufeff", "\u200b", "\u00ad", "\u0085", "#tag", "@user", "o'clock", "y'all", "ma'am", "ol'", "'em",
  "n't", "can't", "won't", "gotta", "let's", "c'mon", "y’all", "‘cause", "’cause", "cos", "U.S.", "Mr.", "St.",
  "and/or", "w/o", "vs.", "x0y", "0s", "mp3", "covid-19", "3-4", "a-b", "A.B", "km²", "5km²", "\ud800", "\udc00", "ǈ"
]
const SEPARATORS = [" ", " ", " ", "  ", "\n", ", ", ". ", "", "-", "'", "’", "\u00a0", "\t"]

const fuzzDocs = (seed: number, count: number): Array<string> => {
  const rnd = lcg(seed)
  return Array.from({ length: count }, () => {
    const n = rnd() % 60
    let s = ""
    for (let i = 0; i < n; i++) s += PIECES[rnd() % PIECES.length]! + SEPARATORS[rnd() % SEPARATORS.length]!
    return s
  })
}

// The words as the bytes they are hashed as: UTF-8, where a lone surrogate becomes U+FFFD (as in xxh64Into).
const utf8Decoder = new TextDecoder("utf-8", { ignoreBOM: true })
const utf8Encoder = new TextEncoder()
const expectedWords = (text: string, norm = DEFAULT_TEXT_NORM) => referenceWords(text, norm).map((w) => utf8Decoder.decode(utf8Encoder.encode(w)))

// Real web text beside the repository (../shared/data, as in CI and on development machines), else generated prose.
const REAL = join(process.cwd(), "..", "shared", "data", "pretrain", "web", "c4_demo.jsonl")
const generatedProse = (): Array<string> => {
  const next = lcg(4242)
  const words = ["The", "city's", "council", "won't", "meet", "on", "Jan.", "5th", "at", "3:30pm", "—", "see", "https://example.org/a?b=1",
    "U.S.", "e-mail", "co-op", "rock'n'roll", "50%", "$1,200.50", "naïve", "café", "Straße", "(and", "others)", "\"quoted\"", "etc.", "it's", "I'm"]
  return Array.from({ length: 60 }, () =>
    Array.from({ length: 8 + (next() % 12) }, () =>
      Array.from({ length: 6 + (next() % 14) }, () => words[next() % words.length]!).join(" ") + [".", "!", "?", ""][next() % 4]!
    ).join(next() % 3 === 0 ? "\n\n" : " "))
}
const webDocs = (): Array<string> =>
  existsSync(REAL)
    ? readFileSync(REAL, "utf8").split("\n").filter((l) => l.trim()).map((l) => String(JSON.parse(l).text ?? ""))
    : generatedProse()

describe("WebAssembly kernel", () => {
  it("XXH64 equals the BigInt spec implementation on every length 0..300 and the published vectors", () => {
    const k = minhashKernel()
    const u8 = new Uint8Array(k.memory.buffer)
    const rnd = lcg(11)
    for (let len = 0; len <= 300; len++) {
      const b = Uint8Array.from({ length: len }, () => rnd() & 255)
      // Unaligned on purpose.
      u8.set(b, 1001)
      expect(BigInt.asUintN(64, k.xxh(1001, len)).toString(16), `len ${len}`).toBe(xxh64Reference(b).toString(16))
    }
    const enc = new TextEncoder().encode("Nobody inspects the spammish repetition")
    u8.set(enc, 64)
    expect(BigInt.asUintN(64, k.xxh(64, enc.length)).toString(16)).toBe("fbcea83c8a378bf1")
    expect(BigInt.asUintN(64, k.xxh(64, 0)).toString(16)).toBe("ef46db3751d8e999")
  })

  const setup = (hashes: ReadonlyArray<bigint>) => {
    const p = minhashParameters()
    const k = minhashKernel()
    k.memory.grow(2)
    const u64 = new BigUint64Array(k.memory.buffer)
    const aPtr = 1024, bPtr = 2048, outPtr = 3072, hPtr = 4096
    p.a.forEach((v, j) => (u64[aPtr / 8 + j] = v))
    p.b.forEach((v, j) => (u64[bPtr / 8 + j] = v))
    hashes.forEach((v, i) => (u64[hPtr / 8 + i] = v))
    const read = () => Array.from({ length: 112 }, (_, j) => u64[outPtr / 8 + j]!)
    return { p, k, read, args: [hPtr, hashes.length, 112, aPtr, bPtr, outPtr] as const }
  }

  it("minPerm1 and minPermFlag4 equal the BigInt permutations on random and extreme hashes", () => {
    const rnd = lcg(5)
    const hashes = Array.from({ length: 700 }, () => (BigInt(rnd()) << 32n) | BigInt(rnd()))
    hashes.push(0n, 1n, M64, MERSENNE_PRIME, MERSENNE_PRIME - 1n, MERSENNE_PRIME + 1n, 1n << 61n, 1n << 63n, (1n << 63n) - 1n)
    const { p, k, read, args } = setup(hashes)
    const want = referenceMin(hashes, p.a, p.b)
    k.minPerm1(...args)
    expect(read()).toEqual(want)
    expect(k.minPermFlag4(...args)).toBe(0)
    expect(read()).toEqual(want)
    // One shingle, and many (the loop bounds).
    for (const n of [1, 2, 3, 5]) {
      const s = setup(hashes.slice(0, n))
      expect(s.k.minPermFlag4(...s.args)).toBe(0)
      expect(s.read()).toEqual(referenceMin(hashes.slice(0, n), p.a, p.b))
    }
  })

  it("minPermFlag4 reports the values that need the last reduction step, and minPerm1 gets them right", () => {
    const { a, b } = minhashParameters()
    const j = a.findIndex((v) => (v & 1n) === 1n)
    // Inverse of a[j] mod 2^64 (Newton), to choose h with (h·a + b) mod 2^64 = x.
    let inv = a[j]!
    for (let r = 0; r < 6; r++) inv = (inv * (2n - a[j]! * inv)) & M64
    const hashFor = (x: bigint) => (((x - b[j]!) & M64) * inv) & M64
    // x' = (x & p) + (x >> 61): p exactly (value 0), p + 3 (value 3), p + 7 (value 7), p − 1 (no reduction).
    for (const [x, value] of [[MERSENNE_PRIME, 0n], [(3n << 61n) | MERSENNE_PRIME, 3n], [(7n << 61n) | MERSENNE_PRIME, 7n], [(5n << 61n) | (MERSENNE_PRIME - 2n), 3n]] as const) {
      const rnd = lcg(Number(value) + 1)
      const hashes = [...Array.from({ length: 50 }, () => (BigInt(rnd()) << 32n) | BigInt(rnd())), hashFor(x)]
      const { p, k, read, args } = setup(hashes)
      const want = referenceMin(hashes, p.a, p.b)
      expect(want[j]).toBe(value)
      expect(k.minPermFlag4(...args)).not.toBe(0)
      k.minPerm1(...args)
      expect(read()).toEqual(want)
    }
  })
})

describe("fast words = word_tokenize(simplify_text(text))", () => {
  it("on hand-picked cases", () => {
    const cases = [
      "", " ", "a", "The Quick brown fox, born in 1999, jumps over the lazy dog. Café owners can't stop it; they cannot!",
      "I cannot believe it's 3.14 or 1,000 or 1.2.3", "Straße in Zürich — ÉCOLE naïve", "‘s good ‘S", "x ‘s y", "a. b. c.",
      "°C. 5°C", "e.g. i.e. U.S.", "gonna wanna gotta dont", "0km 12km 5 km 3kg", "é\u0301 \u0301 x", "\u0130stanbul",
      "ΣΑΣ. σας", "١٢٣ 1٫5 1،2", "emoji 🙂 👍🏽 here", "日本語のテキスト", "한국어 텍스트 ".repeat(50), "tab\tand\u00a0nbsp\u2003em",
      "\ud800 lone \udc00 surrogates", "C++ and/or w/o", "http://example.com/path?x=1 www.x.org", "soft\u00adhyphen zero\u200bwidth",
      "a".repeat(5000), "word ".repeat(3000), "0".repeat(100), "1 ".repeat(100), "im ".repeat(3000), "cannot,".repeat(2000),
      "0km ".repeat(2000), "🙂".repeat(3000), "x 🙂 ".repeat(2000), "‘s ".repeat(1000)
    ]
    for (const c of cases) expect(fastWords(c), JSON.stringify(c.slice(0, 60))).toEqual(expectedWords(c))
  })

  it("on 3000 random documents made of hard pieces", () => {
    for (const doc of fuzzDocs(17, 3000)) expect(fastWords(doc), JSON.stringify(doc)).toEqual(expectedWords(doc))
  })

  it("on every letter, digit and separator of the BMP between words", () => {
    for (let c = 0; c < 0x10000; c++) {
      const ch = String.fromCharCode(c)
      const doc = `ab${ch}cd 12${ch}34 x ${ch} y`
      const got = fastWords(doc)
      const want = expectedWords(doc)
      if (JSON.stringify(got) !== JSON.stringify(want)) expect(got, `U+${c.toString(16)} in ${JSON.stringify(doc)}`).toEqual(want)
    }
  })

  it("with a non-default normalization (the shared path)", () => {
    const norm = { ...DEFAULT_TEXT_NORM, normWeekdays: true, lowercase: false }
    for (const doc of fuzzDocs(4, 200)) expect(fastWords(doc, norm)).toEqual(expectedWords(doc, norm))
  })

  it("on real web text: every document of c4_demo when ../shared/data is there, generated prose otherwise", () => {
    for (const doc of webDocs()) expect(fastWords(doc)).toEqual(expectedWords(doc))
  })
})

describe("signatures = the BigInt definition", () => {
  it("on random documents, with the default (FineWeb) config", () => {
    const signer = new MinhashSignatures()
    for (const doc of fuzzDocs(23, 300)) expect(signatureOf(signer, doc), JSON.stringify(doc)).toEqual(referenceSignature(doc, defaultMinhashConfig))
  })

  it("for sha1, other n-grams and bucket shapes, and a non-default normalization", () => {
    const configs: Array<MinhashConfig> = [
      { ...defaultMinhashConfig, hashFc: "sha1" },
      { ...defaultMinhashConfig, nGrams: 3, numBuckets: 5, hashesPerBucket: 3 },
      { ...defaultMinhashConfig, nGrams: 1, numBuckets: 2, hashesPerBucket: 2, seed: 7 },
      { ...defaultMinhashConfig, norm: { ...DEFAULT_TEXT_NORM, normMonthnames: true } }
    ]
    for (const config of configs) {
      const signer = new MinhashSignatures(config)
      for (const doc of fuzzDocs(29, 60)) expect(signatureOf(signer, doc)).toEqual(referenceSignature(doc, config))
    }
  })

  it("across buffer growth: a small document after a huge one, text that expands (Hangul jamo), words that split", () => {
    const signer = new MinhashSignatures()
    const huge = fuzzDocs(31, 400).join("\n")
    const hangul = "한국어텍스트".repeat(3000) + " 가 나 다 라 마 바"
    const docs = ["one two three four five six", huge, "a b c d e f g", hangul, "im ".repeat(20000), "x 🙂 ".repeat(9000), "seven eight nine ten eleven"]
    for (const doc of docs) {
      expect(signatureOf(signer, doc)).toEqual(referenceSignature(doc, defaultMinhashConfig))
    }
    expect(signatureOf(signer, "only four words here")).toBeUndefined()
  })

  it("on real web text: the first 40 documents of c4_demo when ../shared/data is there, generated prose otherwise", () => {
    const signer = new MinhashSignatures()
    for (const doc of webDocs().slice(0, 40)) expect(signatureOf(signer, doc)).toEqual(referenceSignature(doc, defaultMinhashConfig))
  })
})
