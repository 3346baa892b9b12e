/**
 * Seeded text that stresses a byte-level BPE tokenizer: many scripts, emoji sequences, combining marks, every kind
 * of whitespace run, digit runs in several number systems, code, contractions and special tokens glued to text.
 * Only characters assigned since Unicode 12 or earlier, so the reference's and Node's Unicode tables agree.
 */

export const rng = (seed: number) => {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

const words = (
  "the of and to in is was for that with as on by it he at from his an were are which this be or has had not but " +
  "first one their its new after who they have her she two been other when there all during into school time may " +
  "years more most only over city some world would where later up such used many can state about national out " +
  "known university united then made Tokenizer BPE datatrove Hugging Face SmolLM nanotron recipe"
).split(" ")

const fragments = [
  "don't", "it's", "we're", "they've", "I'm", "you'll", "he'd", "IT'S", "O'Neil", "rock'n'roll", "'s", "''",
  "日本語のテキストを分割する", "中文分词测试，标点符号。", "한국어 텍스트입니다", "カタカナとひらがな",
  "مرحبا بالعالم، هذا نص عربي", "नमस्ते दुनिया, यह हिंदी है", "ภาษาไทยไม่มีช่องว่าง", "Ελληνικά κείμενα", "Привет, мир!",
  "עברית", "👨‍👩‍👧‍👦", "🏳️‍🌈", "👍🏽", "🇫🇷🇯🇵", "🧑‍💻", "❤️", "😀😃😄", "e\u0301", "a\u0308\u0323", "Z\u0351\u0352\u0357\u0358",
  "ñ", "n\u0303", "Å", "ﬁ", "①②③", "½", "²³", "Ⅻ", "٠١٢٣٤٥", "１２３", "१२३", "3.14159", "1,000,000", "0x1F", "2024-06-01",
  "<|endoftext|>", "<|im_start|>user\n", "<|im_end|>", "<|endof", "<|im_end|><|im_start|>", " <|endoftext|> ", "<repo_name>",
  "\u0085", "\u00a0", "\u3000", "\u2028", "\u200b", "\ufeff", "\u2009", "\u180e", "\u0000", "\u0007", "\u001b[0m", "\ud800", "x\udfffy",
  "function f(x) { return x * 2; }", "if (a && b) {\n\treturn;\n}", "def fib(n):\n    return n if n < 2 else fib(n-1) + fib(n-2)\n",
  "#include <stdio.h>\nint main(void) {\n  printf(\"%d\\n\", 42);\n}", "SELECT * FROM t WHERE id = 7;", "a=>b", "x+=1;y-=2",
  "https://example.com/path?q=1&r=two#frag", "user@example.org", "$$\\frac{a}{b}$$", "C:\\Users\\me", "~~~", "...", "!!!", "¿¡"
]

const spaces = [" ", "  ", "   ", "\t", "\t\t", "\n", "\n\n", "\r\n", "\r\n\r\n", " \n", "\n ", "\u00a0 ", " \u3000", "    \n    ", "\u0085"]

/** Latin, Greek, Cyrillic, CJK, Hangul, Hiragana, Arabic, Devanagari: assigned blocks, sampled by code point. */
const ranges: ReadonlyArray<readonly [number, number]> = [
  [0x41, 0x7a], [0xc0, 0xff], [0x100, 0x17f], [0x391, 0x3a1], [0x3b1, 0x3c9], [0x410, 0x44f], [0x4e00, 0x9fa5],
  [0xac00, 0xd7a3], [0x3041, 0x3096], [0x621, 0x64a], [0x905, 0x939], [0x1f600, 0x1f64f], [0x2200, 0x22ff], [0x21, 0x2f]
]

/** A document of about `length` characters. */
export const stressText = (random: () => number, length: number): string => {
  const pick = <A>(xs: ReadonlyArray<A>): A => xs[Math.floor(random() * xs.length)]!
  let out = ""
  while (out.length < length) {
    const r = random()
    if (r < 0.35) out += pick(words) + (random() < 0.7 ? " " : "")
    else if (r < 0.55) out += pick(fragments)
    else if (r < 0.7) out += pick(spaces)
    else if (r < 0.78) out += " ".repeat(1 + Math.floor(random() * 40))
    else if (r < 0.85) out += String(Math.floor(random() * 1e9)).slice(0, 1 + Math.floor(random() * 9))
    else {
      const [lo, hi] = pick(ranges)
      const n = 1 + Math.floor(random() * 8)
      for (let i = 0; i < n; i++) out += String.fromCodePoint(lo + Math.floor(random() * (hi - lo + 1)))
    }
  }
  return out
}

/** English-like prose for training corpora: words, punctuation, numbers, a little of everything else. */
export const proseText = (random: () => number, length: number): string => {
  const pick = <A>(xs: ReadonlyArray<A>): A => xs[Math.floor(random() * xs.length)]!
  let out = ""
  while (out.length < length) {
    const n = 5 + Math.floor(random() * 15)
    const sentence: string[] = []
    for (let i = 0; i < n; i++) sentence.push(random() < 0.05 ? pick(fragments) : pick(words))
    out += sentence.join(" ") + pick([". ", ", ", "? ", "!\n", ".\n\n", " 42. "])
  }
  return out
}
