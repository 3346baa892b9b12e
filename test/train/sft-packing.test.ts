import { describe, expect, it } from "@effect/vitest"
import { makeDecontaminator, wordNgrams } from "../../src/train/decontaminate.ts"
import { packedRowProblem } from "../../src/train/packed-rows.ts"
import { epochOrder, packBestFitDecreasing, packConcat, type SftDocument } from "../../src/train/sft-packing.ts"

const docOf = (length: number, first: number): SftDocument => ({
  ids: Array.from({ length }, (_, i) => first + i),
  mask: Array.from({ length }, (_, i) => (i >= length / 2 ? 1 : 0))
})

describe("bfd packing", () => {
  const lengths = [7, 3, 9, 2, 5, 5, 1, 8, 4, 6, 10, 3]
  const docs = lengths.map((n, i) => docOf(n, 100 * (i + 1)))

  it("places the longest documents first, each into the fullest row that fits it, and is deterministic", () => {
    const rows = packBestFitDecreasing(docs, 10, 0, "assistant")
    expect(packBestFitDecreasing(docs, 10, 0, "assistant")).toEqual(rows)
    // Sorted: 10, 9, 8, 7, 6, 5, 5, 4, 3, 3, 2, 1 (documents 10, 2, 7, 0, 9, 4, 5, 8, 1, 11, 3, 6).
    const firsts = rows.map((r) => r.ids.filter((id, t) => r.position_ids![t] === 0 && id !== 0).map((id) => id / 100 - 1))
    expect(firsts).toEqual([[10], [2, 6], [7, 3], [0, 1], [9, 8], [4, 5], [11]])
    // Every document whole, once; 63 tokens in 7 rows of 10 (the lower bound is 7).
    expect(firsts.flat().sort((a, b) => a - b)).toEqual(lengths.map((_, i) => i))
    expect(rows.length).toBe(Math.ceil(lengths.reduce((s, n) => s + n, 0) / 10))
    for (const r of rows) {
      expect(r.ids.length).toBe(10)
      expect(packedRowProblem(r, 9, 10_000)).toBeUndefined()
    }
    // Padding: its own positions, never a target.
    const last = rows[rows.length - 1]!
    expect(last.ids).toEqual([1200, 1201, 1202, 0, 0, 0, 0, 0, 0, 0])
    expect(last.position_ids).toEqual([0, 1, 2, 0, 1, 2, 3, 4, 5, 6])
    expect(last.mask).toEqual([0, 0, 1, 0, 0, 0, 0, 0, 0, 0])
  })

  it("cuts a document longer than a row, and --loss all counts every token of the documents", () => {
    const rows = packBestFitDecreasing([docOf(14, 1)], 10, 0, "all")
    expect(rows).toEqual([{ ids: docOf(10, 1).ids, mask: Array(10).fill(1), position_ids: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9] }])
  })
})

describe("concat packing (the paper)", () => {
  it("joins the documents with EOS between them into exact rows and drops the leftover", () => {
    const rows = packConcat([docOf(4, 10), docOf(3, 20), docOf(5, 30)], 5, 0, "all")
    expect(rows).toEqual([{ ids: [10, 11, 12, 13, 0] }, { ids: [20, 21, 22, 0, 30] }, { ids: [31, 32, 33, 34, 0] }])
    const masked = packConcat([docOf(4, 10), docOf(3, 20)], 4, 0, "assistant")
    expect(masked).toEqual([{ ids: [10, 11, 12, 13], mask: [0, 0, 1, 1] }, { ids: [0, 20, 21, 22], mask: [0, 0, 0, 1] }])
  })

  it("shuffles each epoch with the seed", () => {
    const order = epochOrder(6, 2, 42)
    expect(order).toEqual(epochOrder(6, 2, 42))
    expect(order.slice(0, 6).sort()).toEqual([0, 1, 2, 3, 4, 5])
    expect(order.slice(6).sort()).toEqual([0, 1, 2, 3, 4, 5])
    expect(order.slice(0, 6)).not.toEqual(order.slice(6))
  })
})

describe("decontamination", () => {
  it("drops a text sharing a 10-gram of lowercased whitespace words with an evaluation text", () => {
    const evaluation = "Write a Python function that returns the sum of two integers a and b, please."
    expect(wordNgrams("one two three", 2)).toEqual(["one two", "two three"])
    const d = makeDecontaminator([evaluation])
    expect(d.ngrams).toBe(6)
    expect(d.contaminated(["Hi!", "please WRITE a python function that returns the   sum of two integers now"])).toBe(true)
    expect(d.contaminated(["write a python function that returns the sum of three integers"])).toBe(false)
  })
})
