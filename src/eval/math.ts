/**
 * MATH answer extraction and normalization as SmolLM2 scored it: smollm's
 * `text/evaluation/smollm2/math_utils.py` `parse_math_answer(text, "math")` (adapted there from the Qwen2.5-Math
 * evaluation parser), used by its `quasi_exact_match_math` metric as both `normalize_gold` and `normalize_pred`
 * of lighteval's `ExactMatches(strip_strings=True)`. It depends on `word2number` 1.1 (`w2n.word_to_num`), which
 * is ported here too. Python's semantics are kept where they differ from JavaScript's: `\d`, `\w`, `\s` and `.`
 * are Unicode-aware as Python's `re` makes them, `str.strip()` strips Python's whitespace set, `int()` accepts
 * what Python's does, floats print as Python's `str(float)`.
 *
 * Only the `data_name == "math"` path is ported (no multiple-choice letter extraction, units are removed).
 */

// Python's str.isspace set (what str.strip() and `\s` use).
const PY_SPACE = "\\t\\n\\v\\f\\r\\x1c-\\x1f \\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000"
const pyStripRe = new RegExp(`^[${PY_SPACE}]+|[${PY_SPACE}]+$`, "gu")
const pySplitRe = new RegExp(`[${PY_SPACE}]+`, "u")
const pyStrip = (s: string): string => s.replace(pyStripRe, "")
/** Python's `str.split()` with no argument. */
const pySplit = (s: string): Array<string> => pyStrip(s).split(pySplitRe).filter((w) => w !== "")
/** Python `re`'s `\w` (str patterns): letters, numbers, underscore. */
const W = "[\\p{L}\\p{N}_]"
const NOT_W = "[^\\p{L}\\p{N}_]"
/** Python `re`'s `.` without DOTALL: anything but "\n" (JavaScript's also excludes \r, \u2028, \u2029). */
const DOT = "[^\\n]"
const D = "\\p{Nd}"

const replaceAll = (s: string, from: string, to: string) => s.split(from).join(to)
const sub = (s: string, pattern: RegExp, f: (...groups: Array<string>) => string) =>
  s.replace(pattern, (_m, ...rest) => f(...(rest.slice(0, -2) as Array<string>)))

// ---- word2number 1.1 (akshaynagpal/w2n @ 0d1a7ce, word2number/w2n.py) -------------------------------------

const americanNumberSystem: Record<string, number | "."> = {
  zero: 0, one: 1, two: 2, three: 3, four: 4, five: 5, six: 6, seven: 7, eight: 8, nine: 9, ten: 10,
  eleven: 11, twelve: 12, thirteen: 13, fourteen: 14, fifteen: 15, sixteen: 16, seventeen: 17, eighteen: 18,
  nineteen: 19, twenty: 20, thirty: 30, forty: 40, fifty: 50, sixty: 60, seventy: 70, eighty: 80, ninety: 90,
  hundred: 100, thousand: 1000, million: 1000000, billion: 1000000000, point: "."
}
const decimalWords = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
const isNumberWord = (w: string) => Object.prototype.hasOwnProperty.call(americanNumberSystem, w)

class W2nError extends Error {}

/** `number_formation`: an empty list fails (IndexError), as in Python. */
const numberFormation = (words: ReadonlyArray<string>): number => {
  const n = words.map((w) => americanNumberSystem[w] as number)
  if (n.length === 4) return n[0]! * n[1]! + n[2]! + n[3]!
  if (n.length === 3) return n[0]! * n[1]! + n[2]!
  if (n.length === 2) return n.includes(100) ? n[0]! * n[1]! : n[0]! + n[1]!
  if (n.length === 0) throw new W2nError("list index out of range")
  return n[0]!
}

/** Python's `str(x)` for a float. */
export const pyFloatStr = (x: number): string => {
  if (Number.isNaN(x)) return "nan"
  if (!Number.isFinite(x)) return x > 0 ? "inf" : "-inf"
  if (Number.isInteger(x) && Math.abs(x) < 1e16) return `${x}.0`
  const abs = Math.abs(x)
  if (abs !== 0 && (abs < 1e-4 || abs >= 1e16)) {
    // repr uses the shortest digits, with a two-digit (at least) exponent: 1e-05, 1.5e+16.
    const [mantissa, exp] = x.toExponential().split("e") as [string, string]
    const sign = exp.startsWith("-") ? "-" : "+"
    const digits = exp.replace(/^[+-]/, "")
    return `${mantissa}e${sign}${digits.padStart(2, "0")}`
  }
  return String(x)
}

/** `str(w2n.word_to_num(sentence))`: an int, or a float when a decimal part was summed; throws where Python raises. */
export const wordToNum = (sentence: string): string => {
  const s = sentence.replaceAll("-", " ").toLowerCase()
  // str.isdigit() then int(): Unicode decimal digits convert; other "digits" (², ①) make int() fail.
  // str.isdigit() then int(): decimal digits convert; other "digits" (², ①) make int() raise, as does a string
  // with no number word below, so both leave the text unchanged.
  if (/^\p{Nd}+$/u.test(s)) return pyInt(s)
  let clean = pySplit(s).filter(isNumberWord)
  if (clean.length === 0) throw new W2nError("No valid number words found!")
  const count = (w: string) => clean.filter((x) => x === w).length
  if (count("thousand") > 1 || count("million") > 1 || count("billion") > 1 || count("point") > 1) {
    throw new W2nError("Redundant number word!")
  }
  let decimals: Array<string> = []
  if (count("point") === 1) {
    const at = clean.indexOf("point")
    decimals = clean.slice(at + 1)
    clean = clean.slice(0, at)
  }
  const billion = clean.indexOf("billion")
  const million = clean.indexOf("million")
  const thousand = clean.indexOf("thousand")
  if ((thousand > -1 && (thousand < million || thousand < billion)) || (million > -1 && million < billion)) {
    throw new W2nError("Malformed number!")
  }
  let total = 0
  let isFloat = false
  if (clean.length > 0) {
    if (clean.length === 1) {
      total += americanNumberSystem[clean[0]!] as number
    } else {
      if (billion > -1) total += numberFormation(clean.slice(0, billion)) * 1000000000
      if (million > -1) {
        total += numberFormation(billion > -1 ? clean.slice(billion + 1, million) : clean.slice(0, million)) * 1000000
      }
      if (thousand > -1) {
        const from = million > -1 ? million + 1 : billion > -1 ? billion + 1 : 0
        total += numberFormation(clean.slice(from, thousand)) * 1000
      }
      let hundreds: number
      if (thousand > -1 && thousand !== clean.length - 1) hundreds = numberFormation(clean.slice(thousand + 1))
      else if (million > -1 && million !== clean.length - 1) hundreds = numberFormation(clean.slice(million + 1))
      else if (billion > -1 && billion !== clean.length - 1) hundreds = numberFormation(clean.slice(billion + 1))
      else if (thousand === -1 && million === -1 && billion === -1) hundreds = numberFormation(clean)
      else hundreds = 0
      total += hundreds
    }
  }
  if (decimals.length > 0) {
    // `get_decimal_sum`: the int 0 if any word is not a digit word, else float("0." + digits).
    if (decimals.every((w) => decimalWords.includes(w))) {
      total += Number("0." + decimals.map((w) => String(americanNumberSystem[w])).join(""))
      isFloat = true
    }
  }
  return isFloat ? pyFloatStr(total) : String(total)
}

/** `int(s)` for a string of Unicode decimal digits, as ASCII digits without leading zeros (exact, any length). */
const pyInt = (s: string): string => {
  let out = ""
  for (const ch of s) {
    // Decimal digits come in runs of ten starting at a zero (some runs are contiguous): count back to the run's start.
    const cp = ch.codePointAt(0)!
    let back = 0
    while (cp - back - 1 >= 0 && /\p{Nd}/u.test(String.fromCodePoint(cp - back - 1))) back++
    out += String(back % 10)
  }
  return out.replace(/^0+(?=\d)/, "")
}

/** `convert_word_number`: `str(w2n.word_to_num(text))`, or the text unchanged if that raises. */
export const convertWordNumber = (text: string): string => {
  try {
    return wordToNum(text)
  } catch (e) {
    if (e instanceof W2nError) return text
    throw e
  }
}

// ---- math_utils.py ------------------------------------------------------------------------------------------

/** `_fix_fracs`: `\frac12` → `\frac{1}{2}`; a `\frac` with fewer than two characters after it returns the input. */
const fixFracs = (string: string): string => {
  const substrs = string.split("\\frac")
  let newStr = substrs[0]!
  for (const substr of substrs.slice(1)) {
    newStr += "\\frac"
    if (substr.length > 0 && substr[0] === "{") {
      newStr += substr
      continue
    }
    // Python indexes code points; a surrogate pair is one character there.
    const chars = [...substr]
    if (chars.length < 2) return string
    const [a, b] = [chars[0]!, chars[1]!]
    const post = chars.slice(2).join("")
    newStr += b !== "{" ? "{" + a + "}{" + b + "}" + post : "{" + a + "}" + b + post
  }
  return newStr
}

/** Python `int(x)` succeeds and `str(int(x)) == x`: a canonical ASCII integer. */
const canonicalInt = /^(?:0|-?[1-9][0-9]*)$/

/** `_fix_a_slash_b`: `a/b` with integer (or sqrt) parts becomes `\frac{a}{b}`. */
const fixASlashB = (string: string): string => {
  const parts = string.split("/")
  if (parts.length !== 2) return string
  const [a, b] = parts as [string, string]
  const ok = (x: string) => x.includes("sqrt") || canonicalInt.test(x)
  return ok(a) && ok(b) ? "\\frac{" + a + "}{" + b + "}" : string
}

const fixSqrt = (string: string) => sub(string, new RegExp(`\\\\sqrt(${W}+)`, "gu"), (x) => "\\sqrt{" + x + "}")

// Units mainly from MathQA, in math_utils.py's order, then each with an "s" appended.
const baseUnitTexts = [
  "east", "degree", "mph", "kmph", "ft", "m sqaure", " m east", "sq m", "deg", "mile", "q .", "monkey", "prime",
  "ratio", "profit of rs", "rd", "o", "gm", "p . m", "lb", "tile", "per", "dm", "lt", "gain", "ab", "way", "west",
  "a .", "b .", "c .", "d .", "e .", "f .", "g .", "h .", "t", "a", "h", "no change", "men", "soldier", "pie", "bc",
  "excess", "st", "inches", "noon", "percent", "by", "gal", "kmh", "c", "acre", "rise", "a . m", "th", "π r 2", "sq",
  "mark", "l", "toy", "coin", "sq . m", "gallon", "° f", "profit", "minw", "yr", "women", "feet", "am", "pm", "hr",
  "cu cm", "square", "v â € ™", "are", "rupee", "rounds", "cubic", "cc", "mtr", "s", "ohm", "number", "kmph", "day",
  "hour", "minute", "min", "second", "man", "woman", "sec", "cube", "mt", "sq inch", "mp", "∏ cm ³", "hectare",
  "more", "sec", "unit", "cu . m", "cm 2", "rs .", "rs", "kg", "g", "month", "km", "m", "cm", "mm", "apple", "liter",
  "loss", "yard", "pure", "year", "increase", "decrease", "d", "less", "Surface", "litre", "pi sq m", "s .", "metre",
  "meter", "inch"
]
export const unitTexts: ReadonlyArray<string> = [...baseUnitTexts, ...baseUnitTexts.map((t) => t + "s")]
// Each unit text is spliced into the pattern as-is: its "." is Python's any-character.
const unitPatterns = unitTexts.map((u) => new RegExp(`(^|${NOT_W})${u.replaceAll(".", DOT)}($|${NOT_W})`, "gu"))

/** `strip_string(string, skip_unit=False)`. */
export const stripString = (input: string): string => {
  let string = pyStrip(input)
  string = replaceAll(string, "\n", "")
  string = string.replace(/\.+$/, "")
  string = replaceAll(string, "\\!", "")
  string = string.replace(new RegExp(`\\\\begin\\{array\\}\\{${DOT}*?\\}`, "gu"), () => "\\begin{pmatrix}")
  string = string.replace(/\\end\{array\}/g, () => "\\end{pmatrix}")
  string = replaceAll(string, "bmatrix", "pmatrix")
  string = replaceAll(string, "tfrac", "frac")
  string = replaceAll(string, "dfrac", "frac")
  string = replaceAll(replaceAll(replaceAll(string, "\\neq", "\\ne"), "\\leq", "\\le"), "\\geq", "\\ge")
  string = replaceAll(string, "\\left", "")
  string = replaceAll(string, "\\right", "")
  string = replaceAll(string, "\\{", "{")
  string = replaceAll(string, "\\}", "}")
  // Remove a trailing \text{unit}, unless nothing else is left.
  const noUnit = pyStrip(string.replace(new RegExp(`\\\\text\\{${DOT}*?\\}$`, "u"), ""))
  if (noUnit !== "" && noUnit !== string) string = noUnit
  for (let pass = 0; pass < 2; pass++) {
    for (const pattern of unitPatterns) {
      const without = string.replace(pattern, (_m, a: string, b: string) => a + b)
      if (without !== "") string = without
    }
  }
  string = replaceAll(string, "^{\\circ}", "")
  string = replaceAll(string, "^\\circ", "")
  string = replaceAll(string, "\\$", "")
  string = replaceAll(string, "$", "")
  string = replaceAll(replaceAll(string, "\\(", ""), "\\)", "")
  string = convertWordNumber(string)
  string = sub(string, new RegExp(`\\\\text\\{(${DOT}*?)\\}`, "gu"), (x) => x)
  for (const key of ["x=", "y=", "z=", "x\\in", "y\\in", "z\\in", "x\\to", "y\\to", "z\\to"]) string = replaceAll(string, key, "")
  string = replaceAll(string, "\\emptyset", "{}")
  string = replaceAll(string, "(-\\infty,\\infty)", "\\mathbb{R}")
  string = replaceAll(string, "\\%", "")
  string = replaceAll(string, "%", "")
  string = replaceAll(string, " .", " 0.")
  string = replaceAll(string, "{.", "{0.")
  // (math_utils.py strips enclosing {}, () or [] only when the whole string is alphanumeric, which a string
  // starting with a bracket never is: a no-op, omitted.)
  string = replaceAll(string, "infinity", "\\infty")
  if (!string.includes("\\infty")) string = replaceAll(string, "inf", "\\infty")
  string = replaceAll(string, "+\\inity", "\\infty")
  string = replaceAll(string, "and", "")
  string = replaceAll(string, "\\mathbf", "")
  string = string.replace(new RegExp(`\\\\mbox\\{${DOT}*?\\}`, "gu"), "")
  // (The quote removals there discard their results: no-ops.)
  if (string.includes("j") && !string.includes("i")) string = replaceAll(string, "j", "i")
  string = sub(string, new RegExp(`(${D}+)\\.0*(\\P{Nd})`, "gu"), (a, b) => a + b)
  string = sub(string, new RegExp(`(${D}+)\\.0*$`, "u"), (a) => a)
  if (string.length === 0) return string
  if (string[0] === ".") string = "0" + string
  const eq = string.split("=")
  if (eq.length === 2 && [...eq[0]!].length <= 2) string = eq[1]!
  string = fixSqrt(string)
  string = replaceAll(string, " ", "")
  string = fixFracs(string)
  string = fixASlashB(string)
  return string
}

/** Python's `str.split(sep)[-1]` and `[1]`. */
const lastAfter = (s: string, sep: string) => s.slice(s.lastIndexOf(sep) + sep.length)

/** `extract_answer(pred_str, "math")`: the last `boxed{…}` (balanced braces), else other cues, else the last number. */
export const extractAnswer = (predStr: string): string => {
  predStr = replaceAll(predStr, "\u043a\u0438", "")
  let pred: string
  if (predStr.includes("final answer is $") && predStr.includes("$. I hope")) {
    const tmp = predStr.slice(predStr.indexOf("final answer is $") + "final answer is $".length)
    const end = tmp.indexOf("$. I hope")
    pred = pyStrip(end === -1 ? tmp : tmp.slice(0, end))
  } else if (predStr.includes("boxed")) {
    const ans = lastAfter(predStr, "boxed")
    if (ans.length === 0) return ""
    if (ans[0] === "{") {
      let stack = 1
      let a = ""
      for (const c of ans.slice(1)) {
        if (c === "{") {
          stack += 1
          a += c
        } else if (c === "}") {
          stack -= 1
          if (stack === 0) break
          a += c
        } else a += c
      }
      pred = a
    } else {
      pred = pyStrip(ans.split("$")[0]!)
    }
  } else if (predStr.includes("he answer is")) {
    pred = pyStrip(lastAfter(predStr, "he answer is"))
  } else if (predStr.includes("final answer is")) {
    pred = pyStrip(lastAfter(predStr, "final answer is"))
  } else if (predStr.includes("答案是")) {
    const after = predStr.split("答案是")[1]!
    pred = pyStrip(pyStrip(after).split("\n\n")[0]!)
  } else {
    const numbers = replaceAll(predStr, ",", "").match(new RegExp(`-?${D}*\\.?${D}+`, "gu"))
    pred = numbers === null ? "" : numbers.at(-1)!
  }
  pred = pred.replace(new RegExp(`\\n[${PY_SPACE}]*`, "gu"), "")
  if (pred !== "" && pred[0] === ":") pred = pred.slice(1)
  if (pred !== "" && pred.at(-1) === ".") pred = pred.slice(0, -1)
  if (pred !== "" && pred.at(-1) === "/") pred = pred.slice(0, -1)
  return stripString(pred)
}

/** smollm's `parse_math_answer(text, "math")`: SmolLM2's MATH normalizer for both gold and prediction. */
export const parseMathAnswer = (text: string): string =>
  replaceAll(replaceAll(replaceAll(extractAnswer(text), "\\neq", "\\ne"), "\\leq", "\\le"), "\\geq", "\\ge")
