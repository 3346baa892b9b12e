/**
 * Python `str` semantics that datatrove's filters rely on. The thresholds compare Python lengths (code points,
 * not UTF-16 units), Python whitespace (`str.isspace`, wider than JavaScript's `\s` in some places and narrower
 * in others) and `str.splitlines` boundaries; porting them with JavaScript's built-ins would move decisions on
 * documents with emoji, NBSP or form feeds.
 */

/** `str.isspace` for one code point (CPython `Py_UNICODE_ISSPACE`). */
export const isPySpaceCode = (c: number): boolean =>
  c === 32 ||
  (c >= 9 && c <= 13) ||
  (c >= 0x1c && c <= 0x1f) ||
  (c > 127 &&
    (c === 0x85 ||
      c === 0xa0 ||
      c === 0x1680 ||
      (c >= 0x2000 && c <= 0x200a) ||
      c === 0x2028 ||
      c === 0x2029 ||
      c === 0x202f ||
      c === 0x205f ||
      c === 0x3000))

/** A regex class body matching exactly the characters `str.isspace` accepts. */
export const PY_SPACE_CLASS = "\\t\\n\\v\\f\\r\\x1c-\\x20\\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000"

const SURROGATE = /[\uD800-\uDFFF]/
/** Whether `s` has any UTF-16 surrogate unit (when not, Python lengths are JavaScript lengths). */
export const hasSurrogate = (s: string): boolean => SURROGATE.test(s)

/** `len(s)` in Python: code points. */
export const pyLen = (s: string): number => {
  if (s.length < 2 || !SURROGATE.test(s)) return s.length
  let n = s.length
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i)
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      const d = s.charCodeAt(i + 1)
      if (d >= 0xdc00 && d <= 0xdfff) {
        n--
        i++
      }
    }
  }
  return n
}

export const pyStrip = (s: string): string => {
  let a = 0
  let b = s.length
  while (a < b && isPySpaceCode(s.charCodeAt(a))) a++
  while (b > a && isPySpaceCode(s.charCodeAt(b - 1))) b--
  return a === 0 && b === s.length ? s : s.slice(a, b)
}

/** `s.strip() == ""` */
export const isPyBlank = (s: string): boolean => {
  for (let i = 0; i < s.length; i++) if (!isPySpaceCode(s.charCodeAt(i))) return false
  return true
}

/** `s.lstrip().startswith(prefix)`, without the slice. */
export const lstripStartsWith = (s: string, prefix: string): boolean => {
  let a = 0
  while (a < s.length && isPySpaceCode(s.charCodeAt(a))) a++
  return s.startsWith(prefix, a)
}

/** `s.rstrip().endswith(suffix)`, without the slice. */
export const rstripEndsWith = (s: string, suffix: string): boolean => {
  let b = s.length
  while (b > 0 && isPySpaceCode(s.charCodeAt(b - 1))) b--
  return s.endsWith(suffix, b)
}

export const pyLstrip = (s: string): string => {
  let a = 0
  while (a < s.length && isPySpaceCode(s.charCodeAt(a))) a++
  return a === 0 ? s : s.slice(a)
}

export const pyRstrip = (s: string): string => {
  let b = s.length
  while (b > 0 && isPySpaceCode(s.charCodeAt(b - 1))) b--
  return b === s.length ? s : s.slice(0, b)
}

/** `str.split()` with no separator: runs of Python whitespace, no empty strings. */
export const pySplitWhitespace = (s: string): Array<string> => {
  const out: Array<string> = []
  let start = -1
  for (let i = 0; i < s.length; i++) {
    if (isPySpaceCode(s.charCodeAt(i))) {
      if (start >= 0) {
        out.push(s.slice(start, i))
        start = -1
      }
    } else if (start < 0) start = i
  }
  if (start >= 0) out.push(s.slice(start))
  return out
}

const RARE_LINE_BREAKS = /[\r\v\f\x1c-\x1e\x85\u2028\u2029]/
/** Whether "\n" is the only `str.splitlines` boundary `s` has (then lines can be found with indexOf). */
export const onlyNewlineBreaks = (s: string): boolean => !RARE_LINE_BREAKS.test(s)

/** A character `str.splitlines` breaks at: \n \r \v \f \x1c \x1d \x1e \x85 \u2028 \u2029 (\r\n counts once). */
export const isPyLineBreakCode = (c: number): boolean =>
  c === 10 || c === 13 || c === 11 || c === 12 || c === 0x1c || c === 0x1d || c === 0x1e || c === 0x85 ||
  c === 0x2028 || c === 0x2029

/**
 * Where the `str.splitlines` line that starts at `from` ends: the offset of its break, or `s.length`. With `simple`
 * (onlyNewlineBreaks(s)), "\n" is the only break and indexOf finds it.
 */
export const pyLineEnd = (s: string, from: number, simple: boolean): number => {
  if (simple) {
    const j = s.indexOf("\n", from)
    return j === -1 ? s.length : j
  }
  let i = from
  while (i < s.length && !isPyLineBreakCode(s.charCodeAt(i))) i++
  return i
}
/** Where the line after the one ending at `end` starts ("\r\n" is one break). Past s.length: no more lines. */
export const pyNextLine = (s: string, end: number): number =>
  end + (s.charCodeAt(end) === 13 && s.charCodeAt(end + 1) === 10 ? 2 : 1)

/** Line boundaries of `str.splitlines`, ends not kept. */
export const pySplitlines = (s: string): Array<string> => {
  const out: Array<string> = []
  for (let start = 0; start < s.length;) {
    const end = pyLineEnd(s, start, false)
    out.push(s.slice(start, end))
    start = pyNextLine(s, end)
  }
  return out
}

/** Non-overlapping occurrences of `needle`, as `str.count`. */
export const pyCount = (s: string, needle: string): number => {
  let n = 0
  let i = s.indexOf(needle)
  while (i >= 0) {
    n++
    i = s.indexOf(needle, i + needle.length)
  }
  return n
}

const ALPHA_RE = /\p{L}/u
/** `any(c.isalpha() for c in w)`: Python's isalpha is the Unicode letter categories Lu Ll Lt Lm Lo. */
export const hasPyAlpha = (w: string): boolean => {
  for (let i = 0; i < w.length; i++) {
    const c = w.charCodeAt(i)
    if (c < 128) {
      if ((c >= 65 && c <= 90) || (c >= 97 && c <= 122)) return true
      continue
    }
    if (ALPHA_RE.test(String.fromCodePoint(w.codePointAt(i)!))) return true
    if (c >= 0xd800 && c <= 0xdbff) i++
  }
  return false
}
