import { expect, it } from "@effect/vitest"
import { embeddingSegments } from "../../src/gpu/kernels/embedding.ts"

// The gather and scatter-add kernels are compared with their CPU references in src/gpu/kernels/embedding.cases.ts.
it("embedding segments group positions by id, ascending and stable, ending at the number of ids", () => {
  const ids = [5, 2, 5, 0, 2, 5]
  const seg = embeddingSegments(ids)
  expect([...seg.ids]).toEqual([0, 2, 5])
  expect([...seg.starts]).toEqual([0, 1, 3, 6])
  expect([...seg.order]).toEqual([3, 1, 4, 0, 2, 5])
  expect([...seg.starts].at(-1)).toBe(ids.length)
})
