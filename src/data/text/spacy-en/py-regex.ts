/**
 * Python `re` source → JavaScript (`u` flag). spaCy's rule tables are Python regex sources; JavaScript's unicode
 * mode rejects identity escapes such as `\!` and `\'`, spells astral escapes `\u{…}`, and its `\d \w \S` are
 * ASCII or differently defined, so each is rewritten to the Python (str pattern) meaning.
 */
import { PY_SPACE_CLASS } from "../pytext.ts"

const SYNTAX = "^$\\.*+?()[]{}|/"
export const pyRegexToJs = (src: string): string => {
  let out = ""
  let inClass = false
  for (let i = 0; i < src.length; i++) {
    const c = src[i]!
    if (c === "\\") {
      const n = src[i + 1]!
      i++
      if (n === "U") {
        out += `\\u{${src.slice(i + 1, i + 9).replace(/^0+(?=.)/, "")}}`
        i += 8
      } else if (n === "u") {
        out += "\\u" + src.slice(i + 1, i + 5)
        i += 4
      } else if (n === "d") out += "\\p{Nd}"
      else if (n === "w") out += inClass ? "\\p{L}\\p{N}_" : "[\\p{L}\\p{N}_]"
      else if (n === "S") {
        if (inClass) throw new Error("\\S inside a class is not supported")
        out += `[^${PY_SPACE_CLASS}]`
      } else if (n === "s") out += inClass ? PY_SPACE_CLASS : `[${PY_SPACE_CLASS}]`
      else if (/[A-Za-z0-9]/.test(n)) out += "\\" + n
      else if (SYNTAX.includes(n) || (inClass && n === "-")) out += "\\" + n
      else out += n
      continue
    }
    if (c === "[" && !inClass) inClass = true
    else if (c === "]" && inClass) inClass = false
    out += c
  }
  return out
}
