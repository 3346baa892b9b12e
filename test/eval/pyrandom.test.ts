import { describe, expect, it } from "@effect/vitest"
import { PyRandom } from "../../src/eval/pyrandom.ts"

// Expected values printed by CPython 3.11 (`random.Random(seed)`), the generator lighteval uses.
describe("PyRandom, a port of CPython's random.Random", () => {
  it("random() matches CPython for seeds 42, 0 and a seed wider than 32 bits", () => {
    const r = new PyRandom(42)
    expect([r.random(), r.random(), r.random()]).toEqual([0.6394267984578837, 0.025010755222666936, 0.27502931836911926])
    expect(new PyRandom(0).random()).toBe(0.8444218515250481)
    const wide = new PyRandom(2 ** 40 + 7)
    expect(wide.getrandbits(32)).toBe(2635837658)
    expect(wide.random()).toBe(0.7473242567100844)
  })

  it("shuffle then sample (set and pool methods) continue the same stream as CPython", () => {
    const r = new PyRandom(42)
    const x = Array.from({ length: 20 }, (_, i) => i)
    r.shuffle(x)
    expect(x).toEqual([19, 5, 14, 4, 9, 13, 15, 18, 6, 12, 17, 10, 1, 11, 2, 16, 7, 8, 0, 3])
    const range = (n: number) => Array.from({ length: n }, (_, i) => i)
    expect(r.sample(range(7473), 5)).toEqual([4597, 1628, 5865, 5323, 5745])
    expect(r.sample(range(10), 4)).toEqual([8, 6, 3, 7])
    expect(r.sample(range(100), 8)).toEqual([75, 35, 0, 97, 20, 89, 54, 43])
  })
})
