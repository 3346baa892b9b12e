import { NodeServices } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import * as path from "node:path"
import { renderRunConfigDocs } from "../../src/run/config-docs.ts"
import { applyOverrides, overridesFromArgs, parseConfigPath, parseOverride, type ConfigOverride } from "../../src/run/config-overrides.ts"
import { formatTokenCount, parseTokenCount } from "../../src/run/config-field.ts"
import { decodeRunConfig, loadRunConfig, type RunConfigError } from "../../src/run/load-config.ts"
import { decayStartStep, stageSpans, totalSteps } from "../../src/run/stage-steps.ts"

const dir = mkdtempSync(path.join(tmpdir(), "run-config-"))
const write = (name: string, text: string): string => {
  const file = path.join(dir, name)
  writeFileSync(file, text)
  return file
}

const load = (file: string, overrides: ReadonlyArray<ConfigOverride> = []) => loadRunConfig(file, overrides).pipe(Effect.provide(NodeServices.layer))
const failure = (file: string, overrides: ReadonlyArray<ConfigOverride> = []) => Effect.flip(load(file, overrides))
const overrides = (...args: Array<string>): ReadonlyArray<ConfigOverride> => {
  const parsed = overridesFromArgs(args)
  expect(parsed.problems).toEqual([])
  return parsed.overrides
}

/** A small valid config: two sources, two stages. */
const small = `
sources:
  web: { paths: [data/web] }
  math: { paths: [data/math], filters: [], dedup: none }
model: { preset: tiny }
training: { seqLen: 64, batchSize: 2, gradAccum: 1, warmup: 2, decayFraction: 0.25 }
stages:
  - name: one
    untilTokens: 12800
    mixture: { web: 1 }
    eval: { tasks: [gsm8k, hellaswag] }
  - name: two
    untilTokens: 25.6k
    mixture: { web: 70, math: 30 }
`

describe("shipped configs", () => {
  it.effect("configs/smollm2-1.7b.yaml validates: four stages, 5.24M steps, the decay exactly stage 4", () =>
    Effect.gen(function*() {
      const c = yield* load("configs/smollm2-1.7b.yaml")
      expect(c.stages.map((s) => s.name)).toEqual(["stable-1", "stable-2", "stable-3", "decay"])
      expect(c.stages[0]!.untilTokens).toBe(6e12)
      expect(c.training.lr).toBe(5e-4)
      expect(c.training.warmup).toBe(2000)
      expect(totalSteps(c)).toBe(5_240_000)
      expect(decayStartStep(c)).toBe(4_716_000)
      expect(stageSpans(c)[3]!.startStep).toBe(4_716_000)
      // The first stage's mixture is the paper's: web 90% at 60/40 and code 10% ([P] §4.2).
      expect(c.stages[0]!.mixture).toEqual({ "fineweb-edu": 54, dclm: 36, starcoderdata: 10 })
      for (const s of c.stages) expect(Object.values(s.mixture).reduce((a, b) => a + b, 0)).toBeCloseTo(100, 6)
      // YAML merge keys and x- anchors are read.
      expect(c.sources["owm"]!.filters).toEqual([])
      expect(c.stages[3]!.eval.tasks).toContain("gsm8k")
    }))

  it.effect("configs/smollm2-135m.yaml validates: one stage of 2M steps with 20% decay", () =>
    Effect.gen(function*() {
      const c = yield* load("configs/smollm2-135m.yaml")
      expect(c.model.preset).toBe("smollm2-135m")
      expect(totalSteps(c)).toBe(2_000_000)
      expect(decayStartStep(c)).toBe(1_600_000)
      expect(c.training.lr).toBe(3e-3)
      expect(c.sources["dclm"]!.classifier).toEqual({ model: "models/fineweb-edu-classifier" })
      expect(c.sources["dclm"]!.threshold).toEqual({ minScore: 3, byLanguage: {}, languageKey: "metadata.language", downsample: { "1": 0.25, "2": 0.5 } })
    }))
})

describe("defaults", () => {
  it.effect("fill in every field left out", () =>
    Effect.gen(function*() {
      const c = yield* decodeRunConfig({ sources: { web: { paths: ["a.jsonl"] } }, stages: [{ name: "s", untilTokens: "1M", mixture: { web: 1 } }], training: { warmup: 0 } })
      expect(c.seed).toBe(42)
      expect(c.out).toBe("runs/full-run")
      expect(c.sources["web"]).toEqual({
        paths: ["a.jsonl"],
        textKey: "text",
        idKey: "id",
        filters: ["gopher_repetition", "gopher_quality", "c4_quality", "fineweb_quality"],
        dedup: "minhash",
        classifier: "none"
      })
      expect(c.tokenizer).toEqual({ train: { vocabSize: 49152, specialTokens: ["<|endoftext|>", "<|im_start|>", "<|im_end|>"], minFrequency: 2 } })
      expect(c.model).toEqual({ preset: "smollm2-135m", overrides: {} })
      expect(c.training).toMatchObject({ seqLen: 2048, batchSize: 4, gradAccum: 1, schedule: "wsd", lr: 5e-4, decayFraction: 0.1, weightDecay: 0.01, clip: 1, beta2: 0.95 })
      expect(c.stages[0]).toEqual({ name: "s", untilTokens: 1_000_000, mixture: { web: 1 }, eval: { tasks: [], limits: {} } })
      expect(c.policy).toEqual({ kind: "fixed" })
      expect(c.report).toEqual({ html: true, progress: "auto", logEvery: 10 })
      expect(c.postTraining).toBeUndefined()
    }))

  it("token counts read as papers write them", () => {
    expect(parseTokenCount("6T")).toBe(6e12)
    expect(parseTokenCount("2.5B")).toBe(2.5e9)
    expect(parseTokenCount("25.6k")).toBe(25_600)
    expect(parseTokenCount("six")).toBeUndefined()
    expect(formatTokenCount(9_890_168_832_000)).toBe("9.890168832T")
    expect(formatTokenCount(12_345)).toBe("12.345k")
  })
})

describe("a bad config fails naming the field", () => {
  const problemsOf = (e: RunConfigError) => e.problems.map((p) => `${p.path}: ${p.message}`)

  it.effect("an unknown source in a mixture", () =>
    Effect.gen(function*() {
      const e = yield* failure(write("unknown-source.yaml", small.replace("{ web: 70, math: 30 }", "{ web: 70, maths: 30 }")))
      expect(e._tag).toBe("RunConfigError")
      expect(e.message).toContain("unknown-source.yaml:14: stages[1].mixture.maths: unknown source \"maths\" (sources: web, math)")
    }))

  it.effect("a negative weight", () =>
    Effect.gen(function*() {
      const e = yield* failure(write("negative.yaml", small.replace("{ web: 70, math: 30 }", "{ web: 70, math: -30 }")))
      expect(problemsOf(e)).toEqual(["stages[1].mixture.math: Expected a positive weight (leave a source out to give it none), got -30"])
      expect(e.problems[0]!.line).toBe(14)
    }))

  it.effect("an unknown preset", () =>
    Effect.gen(function*() {
      const e = yield* failure(write("preset.yaml", small.replace("preset: tiny", "preset: smollm2-2b")))
      expect(e.message).toContain("preset.yaml:5: model.preset: Expected \"smollm2-135m\" | \"smollm2-360m\" | \"smollm2-1.7b\"")
      expect(e.message).toContain("got \"smollm2-2b\"")
    }))

  it.effect("an unknown filter", () =>
    Effect.gen(function*() {
      const e = yield* failure(write("filter.yaml", small.replace("filters: []", "filters: [gopher_quality, c4_qualty]")))
      expect(problemsOf(e)[0]).toMatch(/^sources\.math\.filters\[1\]: Expected "gopher_repetition" \| .*, got "c4_qualty"$/)
      expect(e.problems[0]!.line).toBe(4)
    }))

  it.effect("an unknown eval task", () =>
    Effect.gen(function*() {
      const e = yield* failure(write("task.yaml", small.replace("[gsm8k, hellaswag]", "[gsm8k, hellaswagg]")))
      expect(problemsOf(e)).toHaveLength(1)
      expect(problemsOf(e)[0]).toMatch(/^stages\[0\]\.eval\.tasks\[1\]: unknown task "hellaswagg" \(known: .*hellaswag.*\)$/)
      expect(e.problems[0]!.line).toBe(11)
    }))

  it.effect("bad YAML, with its line number", () =>
    Effect.gen(function*() {
      const e = yield* failure(write("broken.yaml", "seed: 1\nsources:\n  web: { paths: [a]\nstages: []\n"))
      expect(e.problems[0]!.line).toBe(4)
      expect(e.message).toMatch(/^.*broken\.yaml:4: not valid YAML: /)
    }))

  it.effect("bad JSON, with its line number", () =>
    Effect.gen(function*() {
      const e = yield* failure(write("broken.json", "{\n \"seed\": 1,\n \"sources\": {,}\n}\n"))
      expect(e.message).toMatch(/broken\.json:3: not valid JSON/)
    }))

  it.effect("an unknown field lists the fields there", () =>
    Effect.gen(function*() {
      const e = yield* failure(write("typo.yaml", small.replace("warmup: 2,", "warmup: 2, lrr: 3,")))
      expect(problemsOf(e)[0]).toMatch(/^training\.lrr: unknown field \(fields here: seqLen, batchSize, .*lr,/)
    }))

  it.effect("stages out of order, and several problems at once", () =>
    Effect.gen(function*() {
      const e = yield* failure(write("order.yaml", small.replace("untilTokens: 25.6k", "untilTokens: 12800").replace("name: two", "name: one")))
      expect(problemsOf(e)).toEqual([
        "stages[1].name: \"one\" is already the name of stages[0]",
        "stages[1].untilTokens: 12.8k does not come after stages[0]'s 12.8k: untilTokens counts from the start of the run, so it increases stage by stage"
      ])
    }))

  it.effect("a decay that would start before the last stage names training.decayFraction", () =>
    Effect.gen(function*() {
      const e = yield* failure(write("decay.yaml", small.replace("decayFraction: 0.25", "decayFraction: 0.6")))
      expect(problemsOf(e)).toEqual([
        "training.decayFraction: the decay (the last 120 of 200 steps) would start at step 80, in stage \"one\"; it must stay inside the last stage \"two\" (steps 100–200): use at most 0.5 or lengthen the last stage"
      ])
    }))

  it.effect("a rule policy whose tasks are never evaluated, or whose source is unknown", () =>
    Effect.gen(function*() {
      const c = yield* Effect.flip(decodeRunConfig({
        sources: { web: { paths: ["a"] }, math: { paths: ["b"] } },
        model: { preset: "tiny" },
        training: { seqLen: 64, batchSize: 1, warmup: 0 },
        stages: [{ name: "a", untilTokens: 6400, mixture: { web: 1 }, eval: { tasks: ["gsm8k"] } }, { name: "b", untilTokens: 12800, mixture: { web: 1 } }],
        policy: { kind: "rule", domains: [{ name: "math", sources: ["math", "code"], tasks: ["gsm8k", "math"] }] }
      }))
      expect(problemsOf(c)).toEqual([
        "policy.domains[0].sources[1]: unknown source \"code\" (sources: web, math)",
        "policy.domains[0].tasks[1]: \"math\" is not in the eval.tasks of any stage before the last, so the rule could never see it"
      ])
    }))

  it.effect("the ablation: an unknown source, one without a classifier, a budget under one step; buckets only for n-gram classifiers", () =>
    Effect.gen(function*() {
      const base = {
        sources: { web: { paths: ["a"], classifier: { model: "m" }, threshold: {} }, code: { paths: ["b"] } },
        model: { preset: "tiny" as const },
        training: { seqLen: 64, batchSize: 1, warmup: 0 },
        stages: [{ name: "a", untilTokens: 6400, mixture: { web: 1 } }]
      }
      const bad = yield* Effect.flip(decodeRunConfig({ ...base, ablation: { source: "code", tokens: 10, tasks: ["world-facts"], limits: { "world-code": 3 } } }))
      expect(problemsOf(bad)).toEqual([
        "ablation.source: source \"code\" has no classifier or threshold, so with and without it would be the same data",
        "ablation.limits.world-code: \"world-code\" is not among ablation.tasks (world-facts)",
        "ablation.tokens: 10 is less than one optimizer step (64 tokens = training.seqLen × batchSize × gradAccum)"
      ])
      const unknown = yield* Effect.flip(decodeRunConfig({ ...base, ablation: { source: "news", tokens: 640, tasks: ["world-facts"] } }))
      expect(problemsOf(unknown)).toEqual(["ablation.source: unknown source \"news\" (sources: web, code)"])
      const good = yield* decodeRunConfig({ ...base, ablation: { source: "web", tokens: 640, tasks: ["world-facts"], heldOut: ["edu.jsonl"] } })
      expect(good.ablation).toEqual({ source: "web", tokens: 640, tasks: ["world-facts"], limits: {}, heldOut: ["edu.jsonl"] })
      const encoder = { train: { annotate: { prompt: "fineweb-edu" as const, budget: 10 }, kind: "encoder" as const, base: "bert", buckets: 1024 } }
      const buckets = yield* Effect.flip(decodeRunConfig({ ...base, sources: { web: { paths: ["a"], classifier: encoder } } }))
      expect(problemsOf(buckets)).toEqual(["sources.web.classifier.train.buckets: only kind: ngram hashes n-grams into buckets"])
    }))

  it.effect("post-training: DPO without SFT, an SFT longer than the model, a DPO prompt that fills maxLength, the program's packing names", () =>
    Effect.gen(function*() {
      const base = {
        sources: { web: { paths: ["a"] } },
        model: { preset: "tiny" as const },
        training: { seqLen: 64, batchSize: 1, warmup: 0 },
        stages: [{ name: "a", untilTokens: 6400, mixture: { web: 1 } }]
      }
      const dpoAlone = yield* Effect.flip(decodeRunConfig({ ...base, postTraining: { dpo: { data: ["pairs.jsonl"], maxLength: 512, maxPromptLength: 512 } } }))
      expect(problemsOf(dpoAlone)).toEqual([
        "postTraining.dpo: DPO tunes the SFT model (notes §7.3): add postTraining.sft, or leave dpo out",
        "postTraining.dpo.maxPromptLength: 512 leaves no room for a completion within maxLength 512"
      ])
      const long = yield* Effect.flip(decodeRunConfig({ ...base, postTraining: { sft: { data: ["chats.jsonl"], seqLen: 512 } } }))
      expect(problemsOf(long)).toEqual(["postTraining.sft.seqLen: 512 is longer than the model's maxPositionEmbeddings 256"])
      const oldName = yield* Effect.flip(decodeRunConfig({ ...base, postTraining: { sft: { data: ["chats.jsonl"], packing: "full" } } }))
      expect(problemsOf(oldName)[0]).toMatch(/^postTraining\.sft\.packing: Expected "concat" \| "bfd", got "full"$/)
      const c = yield* decodeRunConfig({ ...base, postTraining: { sft: { data: ["chats.jsonl"], packing: "bfd" }, dpo: { data: ["pairs.jsonl"] } } })
      expect(c.postTraining?.sft).toMatchObject({ packing: "bfd", batchSize: 4, epochs: 2, warmupRatio: 0.1, eval: true })
      expect(c.postTraining?.sft?.lr).toBeUndefined()
      expect(c.postTraining?.dpo).toMatchObject({ beta: 0.5, lr: 1e-6, batchSize: 2, maxLength: 1024, maxPromptLength: 512 })
    }))

  it.effect("a stack-edu annotation without its language, and an encoder without a base", () =>
    Effect.gen(function*() {
      const e = yield* Effect.flip(decodeRunConfig({
        sources: { code: { paths: ["a"], filters: [], classifier: { train: { kind: "encoder", annotate: { prompt: "stack-edu", budget: 100 } } }, threshold: { byLanguage: { java: 2 } } } },
        stages: [{ name: "s", untilTokens: "1B", mixture: { code: 1 } }]
      }))
      expect(problemsOf(e)).toEqual([
        "sources.code.classifier.train.annotate.language: the stack-edu prompt needs a language (one of the 15 Stack-Edu languages)",
        "sources.code.classifier.train.base: an encoder classifier needs the encoder to start from (an HF folder, e.g. snowflake-arctic-embed-m)"
      ])
    }))
})

describe("overrides", () => {
  it("parse --set KEY=VALUE and dotted flags, leaving the program's own flags", () => {
    const parsed = overridesFromArgs(["--config", "x.yaml", "--set", "training.lr=3e-4", "--training.warmup", "10", "--stages[1].mixture.math=5", "--resume"])
    expect(parsed.rest).toEqual(["--config", "x.yaml", "--resume"])
    expect(parsed.overrides.map((o) => [o.path, o.value])).toEqual([
      [["training", "lr"], 3e-4],
      [["training", "warmup"], 10],
      [["stages", 1, "mixture", "math"], 5]
    ])
    expect(parseConfigPath("stages[0].eval.tasks")).toEqual(["stages", 0, "eval", "tasks"])
    expect(parseConfigPath("a..b")).toBeUndefined()
    expect(parseOverride("training.lr")).toEqual({ source: "--set training.lr", message: "expected KEY=VALUE, e.g. training.lr=3e-4" })
  })

  it("apply to a copy, creating maps on the way", () => {
    const tree = { training: { lr: 1 }, stages: [{ name: "a" }] }
    const out = applyOverrides(tree, overrides("--set", "training.lr=2", "--report.title=Mine", "--set", "stages.0.name=b"))
    expect(out).toEqual({ tree: { training: { lr: 2 }, report: { title: "Mine" }, stages: [{ name: "b" }] } })
    expect(tree.training.lr).toBe(1)
    expect(applyOverrides(tree, overrides("--set", "training.lr.x=1"))).toEqual({ source: "--set training.lr.x=1", message: "training.lr is 1, not a map, so it has no field \"x\"" })
  })

  it.effect("are validated, and a bad one is named by the override, not a line of the file", () =>
    Effect.gen(function*() {
      const file = write("small.yaml", small)
      const c = yield* load(file, overrides("--set", "training.lr=3e-4", "--stages[1].mixture.math=10", "--seed", "7"))
      expect(c.training.lr).toBe(3e-4)
      expect(c.stages[1]!.mixture).toEqual({ web: 70, math: 10 })
      const e = yield* failure(file, overrides("--set", "training.lr=fast", "--stages[1].untilTokens", "lots"))
      expect(e.message).toBe([
        `2 problems in the run config ${file}:`,
        "  --set training.lr=fast: training.lr: Expected number, got \"fast\"",
        "  --stages[1].untilTokens lots: stages[1].untilTokens: Expected a token count such as 6T, 2.5B, 500M or 10k, got \"lots\""
      ].join("\n"))
      const unknown = yield* failure(file, overrides("--stages[1].mixture.physics=1"))
      expect(unknown.message).toBe("--stages[1].mixture.physics=1: stages[1].mixture.physics: unknown source \"physics\" (sources: web, math)")
    }))
})

describe("docs/run-config.md", () => {
  it("is the one programs/config-docs.ts generates from the Schema (run it after changing a field)", () => {
    expect(readFileSync("docs/run-config.md", "utf8")).toBe(renderRunConfigDocs())
  })

  it("documents every field with a description", () => {
    const docs = renderRunConfigDocs()
    const rows = docs.split("\n").filter((l) => l.startsWith("| `"))
    expect(rows.length).toBeGreaterThan(80)
    for (const row of rows) expect(row.split(" | ")[3]?.trim(), row).not.toBe("")
    expect(docs).toContain("| `decayFraction` | fraction 0–1 | `0.1` |")
  })
})
