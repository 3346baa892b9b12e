import type { Document } from "../Document.ts"
import { type DocFilter, drop, keep } from "./Filter.ts"

/**
 * datatrove's pipeline/filters/lambda_filter.py: keep when the user's function says so. The function may also
 * return a reason string to drop with that reason (datatrove's `(False, reason)` form).
 */
export const LambdaFilter = (fn: (doc: Document) => boolean | string, id = "lambda"): DocFilter => ({
  id,
  filter: (doc) => {
    const r = fn(doc)
    return r === true ? keep(doc) : drop(r === false ? undefined : r)
  }
})
