import { describe, expect, it } from "@effect/vitest"

describe("the project's own Node", () => {
  it("runs the tests on Node ≥ 22.19, as Effect 4 requires, even where the system Node is older", () => {
    const [major, minor] = process.versions.node.split(".").map(Number) as [number, number]
    expect(major > 22 || (major === 22 && minor >= 19), `running on Node ${process.versions.node} (${process.execPath})`).toBe(true)
  })
})
