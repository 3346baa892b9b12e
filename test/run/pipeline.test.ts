import { NodeServices } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Exit, Layer } from "effect"
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import * as path from "node:path"
import { Gpu } from "../../src/gpu/Gpu.ts"
import type { PolicyConfig, RunConfig, StageConfig } from "../../src/run/config.ts"
import { decodeRunConfig } from "../../src/run/load-config.ts"
import { FullRunError, runPaths } from "../../src/run/pipeline/layout.ts"
import { runPostTraining } from "../../src/run/pipeline/post-train.ts"
import { decideNextMixture } from "../../src/run/pipeline/policy.ts"
import { ablationVerdict } from "../../src/run/pipeline/ablation.ts"
import { fullRun, readManualMixture, waitForEditedMixture } from "../../src/run/pipeline/run.ts"
import { readRunReport, type TaskEvaluation } from "../../src/run/report/schema.ts"
import { decayStartStep, stageSpans, totalSteps } from "../../src/run/stage-steps.ts"
import { defaultRunConfigInput, WORLD_TASKS } from "../../src/run/world/run-config.ts"
import { worldAnnotatorFromDir } from "../../src/run/world/world-annotator.ts"
import { CHATS_FILE, writeDefaultWorld } from "../../src/run/world/write-world.ts"
import { learningRate } from "../../src/train/schedule.ts"

const services = Layer.mergeAll(Gpu.layer, NodeServices.layer)
const temp = () => mkdtempSync(path.join(tmpdir(), "smol-full-run-"))

const task = (name: string, value: number): TaskEvaluation => ({ task: name, samples: 10, metrics: [{ name: "acc", value }] })
const stage = (name: string, mixture: Record<string, number>): StageConfig => ({ name, untilTokens: 1000, mixture, eval: { tasks: [], limits: {} } })
const rule = (overrides: Partial<Extract<PolicyConfig, { kind: "rule" }>> = {}): PolicyConfig => ({
  kind: "rule",
  domains: [{ name: "math", sources: ["math"], tasks: ["arith"], minWeight: 0, maxWeight: 0.5 }],
  minGain: 0.01,
  step: 0.1,
  ...overrides
})

describe("the ablation's verdict", () => {
  const arm = (which: "classified" | "unclassified", bpb: number | undefined, acc: number, stderr: number) => ({
    arm: which, documents: 10, dataTokens: 1000, tokens: 4096, steps: 4, seconds: 1, loss: [],
    evaluation: [{ task: "facts", samples: 50, metrics: [{ name: "acc", value: acc, stderr }, { name: "prob_correct", value: acc, stderr }] }],
    ...(bpb === undefined ? {} : { heldOut: { documents: 5, tokens: 500, bytes: 2000, lossPerToken: bpb * 2, bitsPerByte: bpb } })
  })
  it("leads with the held-out loss, and marks a task difference under the combined standard error as noise", () => {
    expect(ablationVerdict("web", [arm("classified", 0.9, 0.32, 0.02), arm("unclassified", 1.2, 0.3, 0.02)])).toBe(
      "At 4,096 tokens each, the model trained on classifier-filtered web predicts the held-out text better: 0.900 vs 1.200 bits per byte (25% less). " +
        "On the tasks, with the classifier vs without: facts prob_correct 0.320 vs 0.300, within noise."
    )
    expect(ablationVerdict("web", [arm("classified", 1.3, 0.5, 0.02), arm("unclassified", 1.2, 0.3, 0.02)])).toMatch(/predicts the held-out text worse: 1\.300 vs 1\.200 .* facts prob_correct 0\.500 vs 0\.300\.$/)
    expect(ablationVerdict("web", [arm("classified", undefined, 0.5, 0.02), arm("unclassified", undefined, 0.3, 0.02)])).toBe(
      "At 4,096 tokens each, with the classifier vs without: facts prob_correct 0.500 vs 0.300."
    )
  })
})

describe("the manual policy's file", () => {
  it("reads a mixture, and names a field that is not a source", () => {
    expect(readManualMixture("m.json", `{"mixture": {"web": 2, "math": 1}}`, ["web", "math"])).toEqual({ mixture: { web: 2, math: 1 } })
    expect(readManualMixture("m.json", `{"mixture": {"web": 2, "maths": 1}}`, ["web", "math"])).toEqual({ problem: "m.json: mixture.maths: not a source (sources: web, math)" })
    expect("problem" in readManualMixture("m.json", `{"mixture": `, ["web"])).toBe(true)
  })

  it.live("wait: watch continues when the file is saved with a mixture that reads, past a half-finished save", () =>
    Effect.gen(function*() {
      const file = path.join(temp(), "mixture.json")
      const written = `{"mixture": {"web": 1}}\n`
      writeFileSync(file, written)
      const logged: Array<string> = []
      const edits = Effect.gen(function*() {
        yield* Effect.sleep(60)
        writeFileSync(file, `{"mixture": {"web": 1, `)
        yield* Effect.sleep(60)
        writeFileSync(file, `{"mixture": {"web": 1, "math": 3}}`)
      })
      const [mixture] = yield* Effect.all([waitForEditedMixture(file, written, ["web", "math"], (l) => void logged.push(l), 10), edits], { concurrency: 2 })
      expect(mixture).toEqual({ web: 1, math: 3 })
      expect(logged).toHaveLength(1)
      expect(logged[0]).toMatch(/mixture\.json: .*still waiting for a mixture that reads$/)
    }).pipe(Effect.provide(NodeServices.layer)))
})

describe("the mixture policy", () => {
  const web = stage("web", { web: 100 })
  const next = stage("math", { web: 80, math: 20 })

  it("fixed: the next stage trains on its configured mixture", () => {
    const out = decideNextMixture({ policy: { kind: "fixed" }, stage: web, next, evaluations: [[task("arith", 0.1)]] })
    if ("problem" in out) throw new Error(out.problem)
    expect(out.mixture).toEqual({ web: 0.8, math: 0.2 })
    expect(out.decision).toMatchObject({ policy: "fixed", rule: "keep", nextStage: "math", before: { web: 0.8, math: 0.2 }, after: { web: 0.8, math: 0.2 } })
  })

  it("rule: raises a domain whose tasks gained less than minGain, shrinking the others in proportion", () => {
    const out = decideNextMixture({ policy: rule(), stage: web, next, evaluations: [[task("arith", 0.1)], [task("arith", 0.105)]] })
    if ("problem" in out) throw new Error(out.problem)
    expect(out.mixture["math"]).toBeCloseTo(0.3, 6)
    expect(out.mixture["web"]).toBeCloseTo(0.7, 6)
    expect(out.decision.rule).toBe("raise-lagging-domains")
    expect(out.decision.inputs[0]).toMatchObject({ name: "math: arith", value: 0.105, previous: 0.1 })
    expect(out.decision.inputs[0]!.note).toContain("lags")
    expect(out.decision.reason).toContain("math")
  })

  it("rule: leaves an improving domain alone, and never raises beyond maxWeight", () => {
    const improving = decideNextMixture({ policy: rule(), stage: web, next, evaluations: [[task("arith", 0.1)], [task("arith", 0.3)]] })
    if ("problem" in improving) throw new Error(improving.problem)
    expect(improving.mixture).toEqual({ web: 0.8, math: 0.2 })
    const capped = decideNextMixture({
      policy: rule({ step: 0.5 }), stage: web, next, evaluations: [[task("arith", 0.1)], [task("arith", 0.1)]]
    })
    if ("problem" in capped) throw new Error(capped.problem)
    expect(capped.mixture["math"]).toBeCloseTo(0.5, 6)
  })

  it("rule: a domain below its target lags on the first evaluation; one not yet in the mixture gets the step", () => {
    const policy = rule({ domains: [{ name: "math", sources: ["math"], tasks: ["arith"], target: 0.5, minWeight: 0, maxWeight: 0.5 }] })
    const out = decideNextMixture({ policy, stage: web, next: stage("code", { web: 1 }), evaluations: [[task("arith", 0.2)]] })
    if ("problem" in out) throw new Error(out.problem)
    expect(out.mixture["math"]).toBeCloseTo(0.1, 6)
    expect(out.mixture["web"]).toBeCloseTo(0.9, 6)
    expect(out.decision.inputs[0]!.note).toContain("below target")
  })

  it("manual: records the edited mixture, and needs one", () => {
    expect("problem" in decideNextMixture({ policy: { kind: "manual", wait: "exit" }, stage: web, next, evaluations: [[]] })).toBe(true)
    const out = decideNextMixture({ policy: { kind: "manual", wait: "exit" }, stage: web, next, evaluations: [[]], edited: { web: 1, math: 3 } })
    if ("problem" in out) throw new Error(out.problem)
    expect(out.mixture).toEqual({ web: 0.25, math: 0.75 })
    expect(out.decision.rule).toBe("edited-by-hand")
  })
})

describe("stage boundaries", () => {
  const plan = {
    training: { seqLen: 32, batchSize: 2, gradAccum: 2, schedule: "wsd" as const, decayFraction: 0.25 },
    stages: [{ name: "a", untilTokens: 1280 }, { name: "b", untilTokens: 2560 }, { name: "c", untilTokens: 5120 }]
  }
  it("switch mixtures at the step where each stage's tokens are reached, and decay only in the last stage", () => {
    // 128 tokens a step: 10, 20 and 40 steps.
    expect(stageSpans(plan)).toEqual([{ name: "a", startStep: 0, endStep: 10 }, { name: "b", startStep: 10, endStep: 20 }, { name: "c", startStep: 20, endStep: 40 }])
    expect(totalSteps(plan)).toBe(40)
    expect(decayStartStep(plan)).toBe(30)
    const schedule = { kind: "wsd" as const, peak: 1, warmup: 5, totalSteps: 40, decayFraction: 0.25 }
    for (let s = 5; s < 30; s++) expect(learningRate(schedule, s)).toBe(1)
    expect(learningRate(schedule, 39)).toBeLessThan(1)
  })
})

/** A run of a few seconds: a small world, 3 stages of 4 steps of 64 tokens, a handful of examples per task. */
const tinyConfig = (world: string, out: string, postTraining?: object): Effect.Effect<RunConfig, unknown> => {
  const base = defaultRunConfigInput(world, { out })
  const sources = base.sources as Record<string, Record<string, unknown>>
  const withBudget = (name: string, budget: number) => {
    const c = sources[name]!["classifier"] as { train: { annotate: { budget: number }; epochs: number } }
    // A few dozen labels teach the n-gram model little (it predicts about the mean): a low threshold keeps
    // documents flowing, which is all this test needs of curation.
    return { ...sources[name], classifier: { train: { ...c.train, epochs: 20, annotate: { ...c.train.annotate, budget } } }, threshold: { minScore: 1 } }
  }
  const tasks = { tasks: [WORLD_TASKS.facts, WORLD_TASKS.arithmetic, WORLD_TASKS.code], limits: { [WORLD_TASKS.facts]: 4, [WORLD_TASKS.arithmetic]: 1, [WORLD_TASKS.code]: 1 } }
  return decodeRunConfig({
    ...base,
    sources: { web: withBudget("web", 60), python: withBudget("python", 20), javascript: withBudget("javascript", 20), math: withBudget("math", 20) },
    tokenizer: { train: { vocabSize: 300 } },
    model: { preset: "tiny", overrides: { vocabSize: 300, numHiddenLayers: 1 } },
    training: { seqLen: 32, batchSize: 2, gradAccum: 1, schedule: "wsd", lr: 3e-3, warmup: 2, decayFraction: 0.25, saveEvery: 2 },
    stages: [
      { name: "web", untilTokens: 256, mixture: { web: 100 }, eval: { tasks: [WORLD_TASKS.facts], limits: { [WORLD_TASKS.facts]: 4 } } },
      { name: "code", untilTokens: 512, mixture: { web: 70, python: 15, javascript: 15 }, eval: tasks },
      { name: "math", untilTokens: 768, mixture: { web: 50, python: 10, javascript: 10, math: 30 }, eval: tasks }
    ],
    evaluation: { ...(base.evaluation as object), batchSize: 4 },
    ablation: { source: "web", tokens: 128, tasks: [WORLD_TASKS.facts], limits: { [WORLD_TASKS.facts]: 4 }, heldOut: [path.join(world, "eval", "world", "edu-pages.jsonl")] },
    // A few SFT steps of 32 rows on the world's chats, evaluated through the chat template on the last stage's tasks.
    postTraining: postTraining ?? { sft: { data: [path.join(world, CHATS_FILE)], seqLen: 32, batchSize: 4, gradAccum: 8, epochs: 1, lr: 3e-3, saveEvery: 2 } },
    report: { title: "tiny", logEvery: 2, progress: "none" }
  })
}

describe("the full run", () => {
  it.live("runs a tiny world end to end, and a run failing mid-stage resumes to the same final weights", () =>
    Effect.gen(function*() {
      const root = temp()
      const world = path.join(root, "world")
      yield* writeDefaultWorld(world, { scale: 0.04 })
      const annotator = worldAnnotatorFromDir(world)

      const straight = path.join(root, "straight")
      const config = yield* tinyConfig(world, straight)
      const done = yield* fullRun({ config, resume: false, annotator })
      expect(done._tag).toBe("Finished")
      const report = yield* readRunReport(path.join(straight, "report.json"))
      expect(report.stages.map((s) => s.name)).toEqual(["web", "code", "math"])
      expect(report.stages.map((s) => s.steps)).toEqual([4, 4, 4])
      expect(report.stages[1]!.evaluation.map((e) => e.task)).toEqual([WORLD_TASKS.facts, WORLD_TASKS.arithmetic, WORLD_TASKS.code])
      expect(report.stages[0]!.decision?.nextStage).toBe("code")
      expect(report.stages[1]!.decision?.policy).toBe("rule")
      expect(report.stages.at(-1)!.loss.at(-1)!.step).toBe(12)
      expect(report.data.sources.map((s) => s.name)).toEqual(["web", "python", "javascript", "math"])
      expect(report.data.sources[0]!.steps.map((s) => s.name)).toContain("minhash")
      // The ablation: two arms of 2 steps each, the unclassified one on the documents the threshold read.
      const ablation = report.ablation!
      expect(ablation.arms.map((a) => [a.arm, a.steps, a.tokens])).toEqual([["classified", 2, 128], ["unclassified", 2, 128]])
      const threshold = report.data.sources[0]!.steps.find((s) => s.kind === "threshold")!
      expect(ablation.arms.map((a) => a.documents)).toEqual([threshold.documentsKept, threshold.documentsIn])
      for (const arm of ablation.arms) expect(arm.evaluation[0]!.metrics.map((m) => m.name)).toEqual(["acc", "acc_norm", "prob_correct"])
      expect(ablation.verdict).toMatch(/^At 128 tokens each, .* bits per byte/)
      for (const arm of ablation.arms) {
        expect(arm.heldOut!.documents).toBe(60)
        expect(arm.heldOut!.bitsPerByte).toBeGreaterThan(0)
        // Both arms are scored on the same text.
        expect(arm.heldOut!.bytes).toBe(ablation.arms[0]!.heldOut!.bytes)
      }
      expect(readFileSync(path.join(straight, "report.html"), "utf8")).toContain("Does the web classifier help?")
      expect(readdirSync(path.join(straight, "final")).sort()).toEqual(["config.json", "generation_config.json", "model.safetensors", "special_tokens_map.json", "tokenizer.json", "tokenizer_config.json"])
      // Post-training: SFT of OUT/final into a chat model in OUT/final-instruct, evaluated through its chat template.
      const sft = report.postTraining?.[0]
      expect(report.postTraining?.map((p) => p.name)).toEqual(["sft"])
      expect(sft!.steps).toBeGreaterThan(0)
      expect(sft!.loss.at(-1)!.step).toBe(sft!.steps)
      expect(sft!.loss.every((p) => Number.isFinite(p.loss) && p.tokens > 0)).toBe(true)
      expect(sft!.evaluation.map((e) => e.task)).toEqual([WORLD_TASKS.facts, WORLD_TASKS.arithmetic, WORLD_TASKS.code])
      expect(report.run.phases.map((p) => p.phase)).toEqual(expect.arrayContaining(["post sft", "eval post sft"]))
      const instruct = path.join(straight, "final-instruct")
      expect(JSON.parse(readFileSync(path.join(instruct, "tokenizer_config.json"), "utf8"))).toHaveProperty("chat_template")
      expect(JSON.parse(readFileSync(path.join(instruct, "config.json"), "utf8"))).toMatchObject({ bos_token_id: 1, eos_token_id: 2 })
      expect(existsSync(path.join(instruct, "trainer_state.json"))).toBe(false)
      expect(readFileSync(path.join(straight, "report.html"), "utf8")).toContain(`<section id="post-training">`)

      // DPO after SFT, from the same final model, on pairs made of the world's chats (another chat's reply rejected).
      const chats = readFileSync(path.join(world, CHATS_FILE), "utf8").trim().split("\n").map((l) => JSON.parse(l) as { messages: Array<{ role: string; content: string }> })
      const turn = (c: (typeof chats)[number], role: string) => c.messages.find((m) => m.role === role)!.content
      const pairsFile = path.join(root, "pairs.jsonl")
      writeFileSync(pairsFile, chats.slice(0, 8).map((c, i) => JSON.stringify({ prompt: turn(c, "user"), chosen: turn(c, "assistant"), rejected: turn(chats[i + 1]!, "assistant") })).join("\n") + "\n")
      const dpoOut = path.join(root, "dpo")
      const dpoConfig = yield* tinyConfig(world, dpoOut, {
        sft: { data: [path.join(world, CHATS_FILE)], seqLen: 32, batchSize: 4, gradAccum: 8, epochs: 1, lr: 3e-3, eval: false },
        dpo: { data: [pairsFile], batchSize: 2, gradAccum: 2, epochs: 1, lr: 1e-3, maxLength: 96, maxPromptLength: 48, eval: false }
      })
      const post = yield* runPostTraining({ config: dpoConfig, paths: runPaths(dpoOut), base: path.join(straight, "final"), log: () => undefined, onProgress: () => undefined })
      expect(post!.reports.map((p) => [p.name, p.steps, p.evaluation])).toEqual([["sft", sft!.steps, []], ["dpo", 2, []]])
      expect(post!.reports[1]!.loss.map((l) => l.step)).toEqual([1, 2])
      expect(post!.reports[1]!.loss[0]!.loss).toBeCloseTo(Math.log(2), 5) // the policy starts as the reference: σ(0)
      expect(readFileSync(path.join(dpoOut, "done", "final-instruct.json"), "utf8")).toContain(path.join(dpoOut, "post", "dpo", "checkpoints", "step-00000002"))

      // A run stopped by a failure at step 7 (mid "code", after its checkpoint at step 6), then resumed.
      const broken = path.join(root, "broken")
      const configB = yield* tinyConfig(world, broken)
      const failed = yield* Effect.exit(fullRun({
        config: configB, resume: false, annotator,
        onStep: (_, m) => (m.step === 7 ? Effect.fail(new FullRunError({ message: "injected failure" })) : Effect.void)
      }))
      expect(Exit.isFailure(failed)).toBe(true)
      const refused = yield* Effect.exit(fullRun({ config: configB, resume: false, annotator }))
      expect(Exit.isFailure(refused)).toBe(true)
      const steps: Array<number> = []
      const resumed = yield* fullRun({ config: configB, resume: true, annotator, onStep: (_, m) => Effect.sync(() => void steps.push(m.step)) })
      expect(resumed._tag).toBe("Finished")
      expect(steps).toEqual([7, 8, 9, 10, 11, 12])
      expect(Buffer.compare(readFileSync(path.join(broken, "final", "model.safetensors")), readFileSync(path.join(straight, "final", "model.safetensors")))).toBe(0)
      expect(Buffer.compare(readFileSync(path.join(broken, "final-instruct", "model.safetensors")), readFileSync(path.join(straight, "final-instruct", "model.safetensors")))).toBe(0)
      const again = yield* readRunReport(path.join(broken, "report.json"))
      expect(again.stages.map((s) => s.evaluation)).toEqual(report.stages.map((s) => s.evaluation.map((e) => ({ ...e, seconds: expect.any(Number) }))))
      expect(again.stages.map((s) => s.decision)).toEqual(report.stages.map((s) => s.decision))
      expect(again.ablation!.arms.map((a) => a.evaluation)).toEqual(ablation.arms.map((a) => a.evaluation.map((e) => ({ ...e, seconds: expect.any(Number) }))))
      expect(again.postTraining!.map((p) => [p.steps, p.loss.map((l) => l.loss), p.evaluation])).toEqual(
        report.postTraining!.map((p) => [p.steps, p.loss.map((l) => l.loss), p.evaluation.map((e) => ({ ...e, seconds: expect.any(Number) }))])
      )
    }).pipe(Effect.provide(services)), 180_000)

  it.live("the manual policy stops after a stage and continues with the edited mixture", () =>
    Effect.gen(function*() {
      const root = temp()
      const world = path.join(root, "world")
      yield* writeDefaultWorld(world, { scale: 0.04 })
      const annotator = worldAnnotatorFromDir(world)
      const out = path.join(root, "manual")
      const base = yield* tinyConfig(world, out)
      const { ablation: _, postTraining: _post, ...withoutAblation } = base
      const config: RunConfig = { ...withoutAblation, stages: base.stages.slice(0, 2), policy: { kind: "manual", wait: "exit" } }
      const first = yield* fullRun({ config, resume: false, annotator })
      expect(first._tag).toBe("WaitingForMixture")
      if (first._tag !== "WaitingForMixture") return
      const file = JSON.parse(readFileSync(first.file, "utf8")) as { mixture: Record<string, number> }
      writeFileSync(first.file, JSON.stringify({ ...file, mixture: { web: 1, python: 1 } }))
      const second = yield* fullRun({ config, resume: true, annotator })
      expect(second._tag).toBe("Finished")
      if (second._tag !== "Finished") return
      expect(second.report.stages[1]!.mixture).toEqual({ web: 0.5, python: 0.5 })
      expect(second.report.stages[0]!.decision).toMatchObject({ policy: "manual", rule: "edited-by-hand", after: { web: 0.5, python: 0.5 } })
    }).pipe(Effect.provide(services)), 180_000)
})
