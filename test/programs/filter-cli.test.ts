import { describe, expect, it } from "@effect/vitest"
import { execFileSync } from "node:child_process"
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"

const readJsonlDir = (dir: string): Array<{ id: string; metadata?: Record<string, unknown> }> =>
  readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile() && e.name.endsWith(".jsonl"))
    .flatMap((e) => readFileSync(join(e.parentPath, e.name), "utf8").trim().split("\n").filter((l) => l !== ""))
    .map((l) => JSON.parse(l) as { id: string; metadata?: Record<string, unknown> })

const words = ("the of and to in is that for it with as was on be by this are from at or an have which one all were " +
  "their there been has more when will would who them some these than its into only other such could time after " +
  "river mountain history science student teacher garden kitchen market village winter summer music library " +
  "question answer method result energy water light plant animal forest ocean city road bridge engine window " +
  "careful quiet bright early simple common strong gentle famous ancient modern local useful").split(" ")

/** Varied prose that FineWeb's filters keep: many distinct words, stop words, full sentences ending in a period. */
const goodPage = (seed: number) => {
  let s = seed * 7919 + 13
  const next = () => (s = (s * 1103515245 + 12345) % 2147483648) / 2147483648
  return Array.from({ length: 10 }, () => {
    const sentence = Array.from({ length: 12 + Math.floor(next() * 8) }, () => words[Math.floor(next() * words.length)]!).join(" ")
    return sentence.charAt(0).toUpperCase() + sentence.slice(1) + "."
  }).join("\n")
}

describe("programs/filter.ts", () => {
  it("filters and dedups sharded tasks in worker processes; every input document ends up kept or dropped once", () => {
    const dir = mkdtempSync(join(tmpdir(), "smol-filter-"))
    const docs = [
      ...Array.from({ length: 12 }, (_, i) => ({ id: `good-${i}`, text: goodPage(i) })),
      { id: "copy-of-good-3", text: goodPage(3) },
      { id: "too-short", text: "Buy now." },
      { id: "bullets", text: Array.from({ length: 30 }, (_, i) => `• item ${i}`).join("\n") }
    ]
    writeFileSync(join(dir, "in.jsonl"), docs.map((d) => JSON.stringify(d)).join("\n") + "\n")
    const args = ["--import", "tsx", "programs/filter.ts", "--input", join(dir, "in.jsonl"), "--output", join(dir, "out"),
      "--dedup", "exact", "--tasks", "2", "--workers", "2"]
    execFileSync(process.execPath, args, { stdio: "ignore" })

    const kept = readJsonlDir(join(dir, "out", "kept"))
    const dropped = readJsonlDir(join(dir, "out", "dropped"))
    expect([...kept, ...dropped].map((d) => d.id).sort()).toEqual(docs.map((d) => d.id).sort())
    const reasonOf = (id: string) => dropped.find((d) => d.id === id)?.metadata?.["filter_reason"]
    expect(reasonOf("too-short")).toBeDefined()
    expect(reasonOf("bullets")).toBeDefined()
    const duplicate = dropped.find((d) => d.id === "copy-of-good-3" || d.id === "good-3")!
    expect(duplicate.metadata?.["filter_reason"]).toBe("exact_duplicate")
    expect(["good-3", "copy-of-good-3"]).toContain(duplicate.metadata?.["duplicate_of"])
    expect(existsSync(join(dir, "out", "stats.json"))).toBe(true)
    // The report a person reads: the funnel of every stage, each drop reason, and dropped documents as examples.
    const report = readFileSync(join(dir, "out", "report.md"), "utf8")
    expect(report).toContain("## Funnel")
    for (const stage of ["gopher_repetition", "gopher_quality", "c4_quality", "fineweb_quality", "exact"]) {
      expect(report).toMatch(new RegExp(`\\| ${stage} \\| \\d+ \\| \\d+ \\|`))
    }
    expect(report).toContain(`\`${reasonOf("too-short")}\``)
    expect(report).toContain("`exact_duplicate`")
    expect(report).toContain(`Kept ${kept.length} of ${docs.length} documents`)
    expect(report).toContain("**bullets**")

    // Rerunning the same command skips finished tasks and changes nothing.
    const before = readJsonlDir(join(dir, "out", "kept")).length
    execFileSync(process.execPath, args, { stdio: "ignore" })
    expect(readJsonlDir(join(dir, "out", "kept")).length).toBe(before)
  }, 120_000)
})
