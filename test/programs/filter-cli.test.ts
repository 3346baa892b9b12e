import { describe, expect, it } from "@effect/vitest"
import { execFileSync, spawnSync } from "node:child_process"
import { existsSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { gzipSync } from "node:zlib"
import { prose, PROSE_WORDS } from "../support/prose.ts"

const readJsonlDir = (dir: string): Array<{ id: string; metadata?: Record<string, unknown> }> =>
  readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile() && e.name.endsWith(".jsonl"))
    .flatMap((e) => readFileSync(join(e.parentPath, e.name), "utf8").trim().split("\n").filter((l) => l !== ""))
    .map((l) => JSON.parse(l) as { id: string; metadata?: Record<string, unknown> })

// A longer word list than the shared one: these pages were made with it.
const words = [...PROSE_WORDS, ..."careful quiet bright early simple common strong gentle famous ancient modern local useful".split(" ")]
const goodPage = (seed: number) => prose(seed, { words })

/** Runs the program; its exit status, stdout and stderr. */
const filter = (args: ReadonlyArray<string>) => {
  const r = spawnSync(process.execPath, ["--import", "tsx", "programs/filter.ts", ...args], { encoding: "utf8" })
  return { status: r.status, stdout: r.stdout, stderr: r.stderr }
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
    // Gopher repetition comes first and drops both: one 2-gram ("buy now", "• item") covers most of their text.
    const byRepetition = readJsonlDir(join(dir, "out", "dropped", "gopher_repetition"))
    expect(byRepetition.map((d) => [d.id, d.metadata?.["filter_reason"]]).sort()).toEqual([["bullets", "top_2_gram"], ["too-short", "top_2_gram"]])
    expect(reasonOf("too-short")).toBe("top_2_gram")
    expect(reasonOf("bullets")).toBe("top_2_gram")
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

  it("a malformed line fails the run with FILE:LINE and the problem in the error a person sees", () => {
    const dir = mkdtempSync(join(tmpdir(), "smol-filter-"))
    const file = join(dir, "bad.jsonl")
    writeFileSync(file, Array.from({ length: 150 }, (_, i) => JSON.stringify({ id: `d${i}`, text: goodPage(i) })).join("\n") + '\n{"id": "x", "text": "broken"\n')
    const r = filter(["--input", file, "--output", join(dir, "out"), "--tasks", "1"])
    expect(r.status).toBe(1)
    expect(r.stderr).toContain("filter: 1 of 1 tasks failed (rank 0):")
    expect(r.stderr).toContain(`rank 0: ReadError: ${file}:151: malformed JSON at column 29: Expected ',' or '}' after property value`)
    expect(r.stderr).toContain(`log: ${join(dir, "out", "logs", "filter", "logs", "task_00000.log")}`)
  }, 60_000)

  it("a truncated .gz input fails the run naming the file and the line where its data ends", () => {
    const dir = mkdtempSync(join(tmpdir(), "smol-filter-"))
    const file = join(dir, "cut.jsonl.gz")
    const whole = gzipSync(Array.from({ length: 400 }, (_, i) => JSON.stringify({ id: `d${i}`, text: goodPage(i) })).join("\n") + "\n")
    writeFileSync(file, whole.subarray(0, whole.length >> 1))
    const r = filter(["--input", file, "--output", join(dir, "out")])
    expect(r.status).toBe(1)
    expect(r.stderr).toMatch(new RegExp(`rank 0: ReadError: ${file}:\\d+: gzip data ends or breaks after line \\d+ \\(is the file truncated or corrupt\\?\\): unexpected end of file`))
  }, 60_000)

  it("an empty input is not an error: it says so and leaves the empty outputs the next step reads", () => {
    const dir = mkdtempSync(join(tmpdir(), "smol-filter-"))
    const file = join(dir, "empty.jsonl")
    writeFileSync(file, "")
    const out = join(dir, "out")
    const r = filter(["--input", file, "--output", out])
    expect(r.status).toBe(0)
    expect(r.stderr).toContain(`warning: the input had no documents (${file} is empty); kept/ and the dropped folders are empty`)
    expect(r.stdout).toContain(`kept → ${join(out, "kept")}`)
    expect(statSync(join(out, "kept")).isDirectory()).toBe(true)
    expect(readdirSync(join(out, "kept"))).toEqual([])
    expect(statSync(join(out, "dropped")).isDirectory()).toBe(true)
    expect(JSON.parse(readFileSync(join(out, "stats.json"), "utf8"))).toEqual({})
    expect(readFileSync(join(out, "report.md"), "utf8")).toContain("**The input had no documents**")
  }, 60_000)

  it("--help lists every flag with its description and default, and not the workers' task subcommand", () => {
    const r = filter(["--help"])
    expect(r.status).toBe(0)
    const flags = r.stdout.slice(r.stdout.indexOf("\nFLAGS\n"), r.stdout.indexOf("\nGLOBAL FLAGS\n")).split("\n").filter((l) => l.startsWith("  --"))
    expect(flags.length).toBe(28)
    // Each has a description, ending in its default (or saying that it is required).
    for (const line of flags) expect(line).toMatch(/^ {2}--\S+( \w+)? {2,}\S.*[(; ](default: [^)]+|required)\)/)
    expect(r.stdout).toContain("--tasks integer            Shards of the input; each input file goes to one task (default: 1)")
    expect(r.stdout).toContain("USAGE\n  filter [flags]\n")
    expect(r.stdout).not.toMatch(/SUBCOMMANDS|\btask\b.*executor/)
  }, 60_000)

  it("a bad flag value stops the program before any work, naming the flag", () => {
    const dir = mkdtempSync(join(tmpdir(), "smol-filter-"))
    const file = join(dir, "in.jsonl")
    writeFileSync(file, JSON.stringify({ text: goodPage(1) }) + "\n")
    const out = join(dir, "out")
    for (const [flag, value, expected] of [
      ["--tasks", "0", "an integer ≥ 1"],
      ["--workers", "-1", "an integer ≥ 1"],
      ["--filters", "gopher_quality,no_such_filter", "(unknown: no_such_filter)"]
    ] as const) {
      const r = filter(["--input", file, "--output", out, flag, value])
      expect(r.status).toBe(1)
      expect(r.stderr + r.stdout).toContain(`Invalid value for flag ${flag}: "${value}". Expected: `)
      expect(r.stderr + r.stdout).toContain(expected)
      expect(existsSync(out)).toBe(false)
    }
  }, 60_000)

  it("refuses to resume into an output started with other settings, naming what differs, and says the error once", () => {
    const dir = mkdtempSync(join(tmpdir(), "smol-filter-"))
    writeFileSync(join(dir, "a.jsonl"), JSON.stringify({ text: goodPage(1) }) + "\n")
    writeFileSync(join(dir, "b.jsonl"), JSON.stringify({ text: goodPage(2) }) + "\n")
    expect(filter(["--input", join(dir, "a.jsonl"), "--output", join(dir, "out")]).status).toBe(0)
    // The same run with more workers resumes (nothing left to do).
    expect(filter(["--input", join(dir, "a.jsonl"), "--output", join(dir, "out"), "--workers", "2"]).status).toBe(0)
    const other = filter(["--input", join(dir, "b.jsonl"), "--output", join(dir, "out")])
    expect(other.status).toBe(1)
    expect(other.stderr).toContain(`error: DataConfigError: ${join(dir, "out")} holds a run started with other settings (inputs: ["${join(dir, "a.jsonl")}"] then, ["${join(dir, "b.jsonl")}"] now)`)
    expect(other.stderr.split("error: ").length).toBe(2)
  })
})
