import { expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { broadcastShapes } from "../../src/gpu/kernels/elementwise.ts"

// The comparisons with the CPU reference (every unary op on 1 to 1,000,003 elements, in place or not; every
// binary op over NumPy broadcasts) are the cases of src/gpu/kernels/elementwise.cases.ts, run by kernels.test.ts.
it.effect("elementwise kernels refuse shapes that do not broadcast", () =>
  Effect.sync(() => expect(() => broadcastShapes([3, 4], [5])).toThrow(/cannot broadcast/)))
