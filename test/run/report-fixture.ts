/**
 * A plausible `report.json` for tests and for looking at the page: three stages over four sources, made-up numbers
 * shaped like the default run's (a funnel that drops about half the web, a classifier at F1 ≈ 0.8, a loss that
 * falls from ~10.8, a rule policy that raises math after a stage where the math tasks lag). Not real data;
 * deterministic, so a test may compare two renders byte for byte.
 */
import type { RunReport, StageReport } from "../../src/run/report/schema.ts"

/** A small linear congruential generator: the same numbers on every machine. */
const random = (seed: number) => {
  let s = seed >>> 0
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0
    return s / 2 ** 32
  }
}

const round = (x: number, digits = 4) => Number(x.toFixed(digits))

const stageNames = ["stable-web", "stable-math", "decay"] as const
const mixtures: ReadonlyArray<Record<string, number>> = [
  { web: 0.75, code: 0.15, math: 0.05, chat: 0.05 },
  { web: 0.65, code: 0.15, math: 0.15, chat: 0.05 },
  { web: 0.55, code: 0.15, math: 0.2, chat: 0.1 }
]
const tasks = ["facts-mc", "arithmetic", "code-exec"] as const
/** Main metric per stage and task, rising with the curriculum (math after stage 2). */
const scores: ReadonlyArray<ReadonlyArray<number>> = [
  [0.31, 0.08, 0.05],
  [0.38, 0.21, 0.09],
  [0.44, 0.29, 0.14]
]

const tokensPerStep = 8192
const stageSteps = [120, 60, 40]
const peakLr = 3e-3
const warmup = 20

export const makeFixtureReport = (): RunReport => {
  const next = random(14)
  const totalSteps = stageSteps.reduce((a, b) => a + b, 0)
  const decayStart = totalSteps - stageSteps[2]!
  let step = 0
  const stages = stageNames.map((name, i): StageReport => {
    const loss = []
    for (let k = 0; k < stageSteps[i]!; k++) {
      step++
      if (step % 5 !== 0 && step !== 1) continue
      const lr = step <= warmup ? (peakLr * step) / warmup : step <= decayStart ? peakLr : peakLr * (totalSteps - step) / (totalSteps - decayStart)
      const value = 3.1 + 7.7 * Math.exp(-step / 28) + 0.25 * Math.exp(-step / 400) + (next() - 0.5) * 0.12 - (step > decayStart ? 0.15 * (step - decayStart) / stageSteps[2]! : 0)
      loss.push({ step, tokens: step * tokensPerStep, loss: round(value), lr: round(lr, 6), gradNorm: round(0.4 + next()), tokensPerSecond: round(5200 + next() * 400, 0) })
    }
    const evaluation = tasks.map((task, t) => {
      const value = scores[i]![t]!
      return {
        task,
        samples: 200,
        metrics: [
          { name: t === 2 ? "pass@1" : "acc", value, stderr: round(Math.sqrt((value * (1 - value)) / 200)) },
          ...(t === 0 ? [{ name: "acc_norm", value: round(value + 0.02), stderr: 0.033 }] : [])
        ],
        seconds: round(4 + next() * 6, 2)
      }
    })
    return {
      name,
      mixture: mixtures[i]!,
      tokens: stageSteps[i]! * tokensPerStep,
      steps: stageSteps[i]!,
      seconds: round(stageSteps[i]! * 1.6, 1),
      loss,
      evaluation
    }
  })
  stages[0] = {
    ...stages[0]!,
    decision: {
      policy: "rule",
      rule: "raise-lagging-domains",
      nextStage: "stable-math",
      inputs: [
        { name: "math (arithmetic)", value: 0.08, note: "lags: below target 0.2" },
        { name: "code (code-exec)", value: 0.05 }
      ],
      before: { web: 0.75, code: 0.15, math: 0.05, chat: 0.05 },
      after: mixtures[1]!,
      reason: "math scored 0.08 on arithmetic, below its target 0.2: its weight rose by 10 points (within its bound 0.3); web shrank in proportion."
    }
  }
  stages[1] = {
    ...stages[1]!,
    decision: {
      policy: "rule",
      rule: "raise-lagging-domains",
      nextStage: "decay",
      inputs: [
        { name: "math (arithmetic)", value: 0.21, previous: 0.08, note: "gain 0.13 ≥ minGain 0.01, above target: not lagging" },
        { name: "code (code-exec)", value: 0.09, previous: 0.05, note: "gain 0.04 ≥ minGain 0.01" }
      ],
      before: mixtures[2]!,
      after: mixtures[2]!,
      reason: "No domain lags: the decay stage keeps the mixture the config gives it."
    }
  }
  return {
    version: 1,
    run: {
      title: "Default run (fixture)",
      command: "npx tsx programs/full-run.ts",
      startedAt: "2026-05-01T09:00:00.000Z",
      seconds: 571.4,
      phases: [
        { phase: "curation", seconds: 62.3 },
        { phase: "tokenizer", seconds: 18.9 },
        ...stages.flatMap((s) => [{ phase: `train ${s.name}`, seconds: s.seconds }, { phase: `eval ${s.name}`, seconds: 24.5 }])
      ],
      seed: 42,
      adapter: "llvmpipe (LLVM 19.1.1, 256 bits), software",
      config: {
        seed: 42,
        out: "runs/full-run",
        model: { preset: "tiny" },
        training: { seqLen: 256, batchSize: 8, gradAccum: 4, lr: peakLr, warmup, schedule: "wsd", decayFraction: 0.18 },
        policy: { kind: "rule", domains: [{ name: "math", sources: ["math"], tasks: ["arithmetic"], target: 0.2, maxWeight: 0.3 }] }
      }
    },
    data: {
      sources: [
        {
          name: "web",
          documents: 12000,
          bytes: 31_400_000,
          steps: [
            { name: "gopher_repetition", kind: "filter", documentsIn: 12000, documentsKept: 10920, bytesIn: 31_400_000, bytesKept: 28_100_000, dropped: [{ reason: "dup_line_frac", documents: 610 }, { reason: "top_2_gram", documents: 470 }] },
            { name: "gopher_quality", kind: "filter", documentsIn: 10920, documentsKept: 9210, dropped: [{ reason: "gopher_short_doc", documents: 980 }, { reason: "gopher_below_alpha_threshold", documents: 730 }] },
            { name: "c4_quality", kind: "filter", documentsIn: 9210, documentsKept: 8650, dropped: [{ reason: "line_punct_ratio", documents: 560 }] },
            { name: "fineweb_quality", kind: "filter", documentsIn: 8650, documentsKept: 8400, dropped: [{ reason: "line_punct_ratio", documents: 150 }, { reason: "short_line_ratio", documents: 100 }] },
            { name: "minhash", kind: "dedup", documentsIn: 8400, documentsKept: 7310, dropped: [{ reason: "duplicate", documents: 1090 }] },
            { name: "threshold", kind: "threshold", documentsIn: 7310, documentsKept: 3950, dropped: [{ reason: "below_threshold", documents: 3360 }] }
          ],
          classifier: {
            kind: "ngram",
            model: "runs/full-run/classifiers/web",
            documents: 400,
            accuracy: 0.6275,
            macroF1: 0.5412,
            mse: 0.4831,
            binary: { threshold: 3, precision: 0.8123, recall: 0.7894, f1: 0.8007 },
            confusion: [
              [31, 9, 1, 0, 0, 0],
              [8, 62, 17, 2, 0, 0],
              [1, 15, 71, 14, 1, 0],
              [0, 2, 13, 58, 9, 0],
              [0, 0, 2, 15, 27, 4],
              [0, 0, 0, 1, 5, 11]
            ]
          },
          threshold: { minScore: 3 }
        },
        {
          name: "code",
          documents: 3000,
          bytes: 5_200_000,
          steps: [
            { name: "exact", kind: "dedup", documentsIn: 3000, documentsKept: 2790, dropped: [{ reason: "duplicate", documents: 210 }] },
            { name: "threshold", kind: "threshold", documentsIn: 2790, documentsKept: 1640, dropped: [{ reason: "below_threshold", documents: 1150 }] }
          ],
          threshold: { minScore: 3, byLanguage: { java: 2 } }
        },
        { name: "math", documents: 2000, bytes: 3_900_000, steps: [{ name: "minhash", kind: "dedup", documentsIn: 2000, documentsKept: 1880, dropped: [{ reason: "duplicate", documents: 120 }] }] },
        { name: "chat", documents: 1500, bytes: 2_100_000, steps: [] }
      ]
    },
    tokenizer: {
      kind: "trained",
      path: "runs/full-run/tokenizer/tokenizer.json",
      vocabSize: 8192,
      sources: [
        { source: "web", documents: 3950, tokens: 2_310_000 },
        { source: "code", documents: 1640, tokens: 880_000 },
        { source: "math", documents: 1880, tokens: 1_020_000 },
        { source: "chat", documents: 1500, tokens: 610_000 }
      ]
    },
    stages,
    ablation: {
      source: "web",
      tokens: 400_000,
      arms: (["classified", "unclassified"] as const).map((arm, k) => ({
        arm,
        documents: k === 0 ? 2210 : 4630,
        dataTokens: k === 0 ? 1_500_000 : 3_150_000,
        tokens: 400_000,
        steps: 49,
        seconds: 30.5 + k,
        loss: [10, 20, 30, 40, 49].map((s, j) => ({ step: s, tokens: s * tokensPerStep, loss: round(9 - 0.9 * j - 0.2 * k), lr: peakLr })),
        evaluation: [{ task: "facts-mc", samples: 58, metrics: [{ name: "acc", value: k === 0 ? 0.36 : 0.3, stderr: 0.06 }, { name: "prob_correct", value: k === 0 ? 0.33 : 0.29, stderr: 0.02 }] }],
        heldOut: { documents: 60, tokens: 11_925, bytes: 41_000, lossPerToken: k === 0 ? 2.2 : 3.35, bitsPerByte: k === 0 ? 0.9232 : 1.4058 }
      })),
      verdict: "At 400,000 tokens each, the model trained on classifier-filtered web predicts the held-out text better: 0.923 vs 1.406 bits per byte (34% less). On the tasks, with the classifier vs without: facts-mc prob_correct 0.330 vs 0.290, within noise."
    },
    postTraining: [
      {
        name: "sft",
        steps: 30,
        seconds: 41.2,
        loss: [1, 10, 20, 30].map((s, k) => ({ step: s, tokens: s * 4096, loss: round(2.9 - 0.35 * k), lr: round(1e-3 * (1 - s / 31), 6) })),
        evaluation: tasks.map((task, t) => ({ task, samples: 200, metrics: [{ name: t === 2 ? "pass@1" : "acc", value: round(scores[2]![t]! + 0.02), stderr: 0.03 }] }))
      }
    ],
    finalModel: "runs/full-run/final"
  }
}
