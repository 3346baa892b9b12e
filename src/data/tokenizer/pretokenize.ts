/**
 * Normalizers and pre-tokenizers with HF `tokenizers` semantics, working on plain strings: a pre-tokenizer turns
 * one piece into several, appending them to `out`. Offsets are never tracked because only ids matter downstream.
 */
import type { NormalizerSpec, PatternSpec, PreTokenizerSpec, SplitBehavior } from "./config.ts"
import { bertNormalizer } from "./bert-normalizer.ts"
import { bertPreTokenize } from "./bert-pretokenizer.ts"
import { byteLevelPattern } from "./byte-level.ts"
import { TokenizerConfigError } from "./errors.ts"

const unsupported = (message: string): never => {
  throw new TokenizerConfigError("Unsupported", message)
}

// Oniguruma's Unicode classes, spelled for JavaScript's `u` mode (JS's \s, \d, \w are narrower or different).
const ONIG_SPACE = "\\p{White_Space}"
const ONIG_WORD = "\\p{L}\\p{M}\\p{Nd}\\p{Pc}"

const caseFold = (ch: string): string => {
  const lower = ch.toLowerCase()
  const upper = ch.toUpperCase()
  if (lower === upper || [...lower].length !== 1 || [...upper].length !== 1) return ch === "\\" ? "\\\\" : ch
  return `[${lower}${upper}]`
}

/**
 * Translates an Oniguruma pattern (what HF's `Split` and `Replace` use) into a JavaScript `u`-mode source. Handles
 * what tokenizer files contain: Unicode property escapes, `\s \S \d \D \w`, and `(?i:…)` groups over literal text
 * (JavaScript in Node 22 has no inline modifiers). Anything it cannot translate faithfully is refused.
 */
export const onigToJs = (source: string): string => {
  let out = ""
  let inClass = 0
  let caseless = 0 // depth of (?i: groups still open
  const groupIsCaseless: boolean[] = []
  for (let i = 0; i < source.length; i++) {
    const c = source[i]!
    if (c === "\\") {
      const n = source[i + 1]
      if (n === undefined) return unsupported(`regex ${JSON.stringify(source)} ends with a lone backslash`)
      i++
      if (n === "s") out += ONIG_SPACE
      else if (n === "S") out += inClass ? "\\P{White_Space}" : "\\P{White_Space}"
      else if (n === "d") out += "\\p{Nd}"
      else if (n === "D") out += inClass ? unsupported(`regex ${JSON.stringify(source)}: \\D inside a class`) : "\\P{Nd}"
      else if (n === "w") out += inClass ? ONIG_WORD : `[${ONIG_WORD}]`
      else if (n === "W") out += inClass ? unsupported(`regex ${JSON.stringify(source)}: \\W inside a class`) : `[^${ONIG_WORD}]`
      else if (n === "p" || n === "P") {
        const close = source.indexOf("}", i)
        if (source[i + 1] !== "{" || close < 0) return unsupported(`regex ${JSON.stringify(source)}: \\${n} without {…}`)
        out += `\\${n}${source.slice(i + 1, close + 1)}`
        i = close
      } else if (n === "h" || n === "H" || n === "A" || n === "z" || n === "Z" || n === "G" || n === "K" || n === "R" || n === "X") {
        return unsupported(`regex ${JSON.stringify(source)}: \\${n} has no JavaScript equivalent here`)
      } else out += `\\${n}`
      continue
    }
    if (inClass) {
      if (c === "[") return unsupported(`regex ${JSON.stringify(source)}: nested character classes`)
      if (c === "]") inClass--
      out += c
      continue
    }
    if (c === "[") {
      inClass++
      out += c
      if (source[i + 1] === "^") {
        out += "^"
        i++
      }
      if (source[i + 1] === "]") {
        out += "\\]"
        i++
      }
      continue
    }
    if (c === "(") {
      if (source.startsWith("(?i:", i)) {
        groupIsCaseless.push(true)
        caseless++
        out += "(?:"
        i += 3
        continue
      }
      if (source.startsWith("(?", i) && !/^\(\?(?::|=|!|<=|<!)/.test(source.slice(i))) {
        return unsupported(`regex ${JSON.stringify(source)}: group syntax ${source.slice(i, i + 4)}… is not translated`)
      }
      groupIsCaseless.push(false)
      out += c
      continue
    }
    if (c === ")") {
      if (groupIsCaseless.pop()) caseless--
      out += c
      continue
    }
    if ((c === "+" || c === "*" || c === "?" || c === "}") && source[i + 1] === "+") {
      return unsupported(`regex ${JSON.stringify(source)}: possessive quantifiers have no JavaScript equivalent`)
    }
    out += caseless > 0 ? caseFold(c) : c
  }
  return out
}

const escapeRegex = (s: string): string => s.replace(/[.*+?^${}()|[\]\\/-]/g, "\\$&")

const compilePattern = (p: PatternSpec): RegExp => {
  const source = p.kind === "String" ? escapeRegex(p.value) : onigToJs(p.value)
  try {
    return new RegExp(source, "gu")
  } catch (e) {
    return unsupported(`regex ${JSON.stringify(p.value)} does not compile in JavaScript: ${(e as Error).message}`)
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Normalizers

export type Normalize = (s: string) => string

export const compileNormalizer = (spec: NormalizerSpec): Normalize => {
  switch (spec.type) {
    case "Sequence": {
      const steps = spec.normalizers.map(compileNormalizer)
      return (s) => {
        for (const step of steps) s = step(s)
        return s
      }
    }
    case "NFC":
    case "NFD":
    case "NFKC":
    case "NFKD": {
      const form = spec.type
      return (s) => s.normalize(form)
    }
    case "Lowercase":
      return (s) => s.toLowerCase()
    case "Prepend": {
      // HF prepends only to non-empty strings.
      const prefix = spec.prepend
      return (s) => (s.length === 0 ? s : prefix + s)
    }
    case "Replace": {
      const re = compilePattern(spec.pattern)
      const content = spec.content
      return (s) => s.replace(re, () => content)
    }
    case "BertNormalizer":
      return bertNormalizer(spec)
    case "Strip": {
      const left = new RegExp(`^${ONIG_SPACE}+`, "u")
      const right = new RegExp(`${ONIG_SPACE}+$`, "u")
      return (s) => {
        if (spec.left) s = s.replace(left, "")
        if (spec.right) s = s.replace(right, "")
        return s
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Pre-tokenizers

/** Appends the pieces of `s` to `out`; never appends empty pieces (HF drops them). */
export type PreTokenize = (s: string, out: string[]) => void

export interface CompiledPreTokenizer {
  readonly run: PreTokenize
  /** Whether a ByteLevel step is part of it: the BPE then works on bytes (the only kind of BPE implemented). */
  readonly byteLevel: boolean
}

/**
 * HF's `NormalizedString::split`: find every match of `re`, then keep, drop or merge matches with their neighbours
 * according to `behavior`. Pieces are (start, end, isMatch) triples, merged the way `tokenizers` merges them.
 */
const splitBy = (re: RegExp, behavior: SplitBehavior, invert: boolean): PreTokenize => {
  const starts: number[] = []
  const ends: number[] = []
  const flags: boolean[] = []
  return (s, out) => {
    if (s.length === 0) return
    starts.length = 0
    ends.length = 0
    flags.length = 0
    let prev = 0
    re.lastIndex = 0
    let m: RegExpExecArray | null
    while ((m = re.exec(s)) !== null) {
      const start = m.index
      const end = start + m[0].length
      if (end === start) {
        // An empty match cuts nothing; step one character past it as Oniguruma's iterator does.
        re.lastIndex = end + ((s.codePointAt(end) ?? 0) > 0xffff ? 2 : 1)
        if (re.lastIndex > s.length) break
        continue
      }
      if (prev !== start) {
        starts.push(prev), ends.push(start), flags.push(invert)
      }
      starts.push(start), ends.push(end), flags.push(!invert)
      prev = end
    }
    if (prev !== s.length) starts.push(prev), ends.push(s.length), flags.push(invert)

    const n = starts.length
    switch (behavior) {
      case "Removed":
        for (let i = 0; i < n; i++) if (!flags[i] && ends[i]! > starts[i]!) out.push(s.slice(starts[i], ends[i]))
        return
      case "Isolated":
        for (let i = 0; i < n; i++) if (ends[i]! > starts[i]!) out.push(s.slice(starts[i], ends[i]))
        return
      case "MergedWithPrevious":
      case "Contiguous": {
        // Fold left: a match (Contiguous: any piece of the same kind as the last) extends the previous piece.
        let curStart = -1
        let curEnd = -1
        let previousMatch = false
        for (let i = 0; i < n; i++) {
          const isMatch = flags[i]!
          const extend = behavior === "Contiguous" ? isMatch === previousMatch && curStart >= 0 : isMatch && !previousMatch && curStart >= 0
          if (extend) curEnd = ends[i]!
          else {
            if (curStart >= 0 && curEnd > curStart) out.push(s.slice(curStart, curEnd))
            curStart = starts[i]!
            curEnd = ends[i]!
          }
          previousMatch = isMatch
        }
        if (curStart >= 0 && curEnd > curStart) out.push(s.slice(curStart, curEnd))
        return
      }
      case "MergedWithNext": {
        // Fold right: a match extends the following piece.
        const pieces: Array<[number, number]> = []
        let previousMatch = false
        for (let i = n - 1; i >= 0; i--) {
          const isMatch = flags[i]!
          const last = pieces[pieces.length - 1]
          if (isMatch && !previousMatch && last !== undefined) last[0] = starts[i]!
          else pieces.push([starts[i]!, ends[i]!])
          previousMatch = isMatch
        }
        for (let i = pieces.length - 1; i >= 0; i--) {
          const [a, b] = pieces[i]!
          if (b > a) out.push(s.slice(a, b))
        }
        return
      }
    }
  }
}

/**
 * GPT-2's regex split. Its alternatives match at every position, so a sticky `test` walks the string without
 * allocating match arrays; the global search only runs if a position ever fails to match (it cannot for this
 * regex, but a cheap guard beats a wrong answer).
 */
const byteLevelSplit = (addPrefixSpace: boolean, useRegex: boolean): PreTokenize => {
  const sticky = new RegExp(byteLevelPattern, "uy")
  return (input, out) => {
    // HF prepends the space to every piece reaching ByteLevel, including pieces cut out by an earlier step.
    const s = addPrefixSpace && input.charCodeAt(0) !== 0x20 ? " " + input : input
    if (!useRegex) {
      if (s.length > 0) out.push(s)
      return
    }
    let pos = 0
    const n = s.length
    while (pos < n) {
      sticky.lastIndex = pos
      if (sticky.test(s) && sticky.lastIndex > pos) {
        const end = sticky.lastIndex
        out.push(s.slice(pos, end))
        pos = end
      } else {
        const step = (s.codePointAt(pos) ?? 0) > 0xffff ? 2 : 1
        out.push(s.slice(pos, pos + step))
        pos += step
      }
    }
  }
}

/**
 * `byteLevelModel` says which model reads the pieces: byte-level BPE needs a ByteLevel step, WordPiece must not
 * have one (and without any pre-tokenizer takes the whole text as one word, as HF does).
 */
export const compilePreTokenizer = (spec: PreTokenizerSpec | null, byteLevelModel = true): CompiledPreTokenizer => {
  if (spec === null && !byteLevelModel) {
    return {
      run: (s, out) => {
        if (s.length > 0) out.push(s)
      },
      byteLevel: false
    }
  }
  if (spec === null) return unsupported("no pre-tokenizer: only byte-level BPE (a ByteLevel pre-tokenizer) is implemented")
  const steps: PreTokenize[] = []
  let byteLevel = false
  const add = (s: PreTokenizerSpec, where: string): void => {
    if (byteLevel) {
      return unsupported(`${where}: a ${s.type} step after ByteLevel would see byte-level characters; not implemented`)
    }
    switch (s.type) {
      case "Sequence":
        s.pretokenizers.forEach((p, i) => add(p, `${where}.pretokenizers[${i}]`))
        return
      case "Split":
        steps.push(splitBy(compilePattern(s.pattern), s.behavior, s.invert))
        return
      case "Digits":
        // Rust's char::is_numeric is General_Category N (Nd, Nl, No), i.e. \p{N}.
        steps.push(splitBy(/\p{N}/gu, s.individualDigits ? "Isolated" : "Contiguous", false))
        return
      case "WhitespaceSplit":
        steps.push(splitBy(new RegExp(`${ONIG_SPACE}+`, "gu"), "Removed", false))
        return
      case "BertPreTokenizer":
        steps.push(bertPreTokenize)
        return
      case "ByteLevel":
        steps.push(byteLevelSplit(s.addPrefixSpace, s.useRegex))
        byteLevel = true
        return
    }
  }
  add(spec, "pre_tokenizer")
  if (!byteLevel && byteLevelModel) return unsupported("pre_tokenizer has no ByteLevel step: the only BPE implemented is byte-level BPE")
  if (byteLevel && !byteLevelModel) return unsupported("pre_tokenizer has a ByteLevel step: WordPiece over byte-level characters is not implemented")
  if (steps.length === 1) return { run: steps[0]!, byteLevel }
  // Ping-pong between two scratch arrays so a document costs no per-step allocations.
  let a: string[] = []
  let b: string[] = []
  const last = steps.length - 1
  const run: PreTokenize = (s, out) => {
    a.length = 0
    steps[0]!(s, a)
    for (let k = 1; k < last; k++) {
      b.length = 0
      for (let i = 0; i < a.length; i++) steps[k]!(a[i]!, b)
      const t = a
      a = b
      b = t
    }
    const final = steps[last]!
    for (let i = 0; i < a.length; i++) final(a[i]!, out)
  }
  return { run, byteLevel }
}
