import { describe, expect, it } from "@effect/vitest"
import { nextTokenBatch } from "../../src/model/batch.ts"

describe("the next-token shift", () => {
  it("makes inputs row[0..T) and targets row[1..T], row by row", () => {
    const { inputs, targets } = nextTokenBatch([[1, 2, 3, 4], [5, 6, 7, 8]], 2, 3)
    expect([...inputs]).toEqual([1, 2, 3, 5, 6, 7])
    expect([...targets]).toEqual([2, 3, 4, 6, 7, 8])
  })

  it("pads short rows and missing rows with zeros", () => {
    const { inputs, targets } = nextTokenBatch([Uint32Array.from([9, 8])], 2, 3)
    expect([...inputs]).toEqual([9, 0, 0, 0, 0, 0])
    expect([...targets]).toEqual([8, 0, 0, 0, 0, 0])
  })

  it("refuses a row longer than seq + 1 and more rows than the batch", () => {
    expect(() => nextTokenBatch([[1, 2, 3, 4, 5]], 1, 3)).toThrow(/5 tokens is longer than seq \+ 1 = 4/)
    expect(() => nextTokenBatch([[1], [2], [3]], 2, 3)).toThrow(/3 rows do not fit a batch of 2/)
  })
})
