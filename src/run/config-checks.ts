/**
 * Checks between fields of the run config, run as the last step of decoding. Each problem names the field that
 * has to change (`stages[2].mixture.math: unknown source "math"`), so the message says where to edit, not only
 * what is wrong.
 */
import { Schema } from "effect"
import { isKnownTask } from "../eval/jobs.ts"
import { builtinTasks } from "../eval/tasks.ts"
import { codeTaskNames } from "../eval/code-tasks.ts"
import { presets } from "../model/config.ts"
import type { RunConfigFields } from "./config.ts"
import { formatTokenCount } from "./config-field.ts"
import { decayStartStep, stageSpans, tokensPerStep, totalSteps } from "./stage-steps.ts"

type Fields = typeof RunConfigFields.Type

export interface ConfigProblem {
  readonly path: ReadonlyArray<PropertyKey>
  readonly message: string
}

const taskList = (): string => [...new Set([...builtinTasks.map((t) => t.name.split(":")[0]!), ...builtinTasks.map((t) => t.name), ...codeTaskNames])].join(", ")
const count = (n: number): string => n.toLocaleString("en-US")
const list = (names: Iterable<string>): string => [...names].join(", ")

/** The fields a shape override sets that an `init` checkpoint already fixes. */
const SHAPE_KEYS = ["hiddenSize", "intermediateSize", "numHiddenLayers", "numAttentionHeads", "numKeyValueHeads", "tieWordEmbeddings", "vocabSize", "rmsNormEps", "initializerRange"] as const

const checkStages = (c: Fields, problems: Array<ConfigProblem>): void => {
  const sourceNames = Object.keys(c.sources)
  const before = problems.length
  const seen = new Map<string, number>()
  c.stages.forEach((stage, i) => {
    const at = (...rest: Array<PropertyKey>) => ["stages", i, ...rest]
    const first = seen.get(stage.name)
    if (first !== undefined) problems.push({ path: at("name"), message: `"${stage.name}" is already the name of stages[${first}]` })
    else seen.set(stage.name, i)
    const previous = c.stages[i - 1]
    if (previous !== undefined && stage.untilTokens <= previous.untilTokens) {
      problems.push({
        path: at("untilTokens"),
        message: `${formatTokenCount(stage.untilTokens)} does not come after stages[${i - 1}]'s ${formatTokenCount(previous.untilTokens)}: untilTokens counts from the start of the run, so it increases stage by stage`
      })
    }
    const weights = Object.entries(stage.mixture)
    if (weights.length === 0) problems.push({ path: at("mixture"), message: "a stage needs at least one source with a positive weight" })
    for (const [name] of weights) {
      if (!Object.hasOwn(c.sources, name)) problems.push({ path: at("mixture", name), message: `unknown source "${name}" (sources: ${list(sourceNames)})` })
    }
    stage.eval.tasks.forEach((task, t) => {
      if (!isKnownTask(task)) problems.push({ path: at("eval", "tasks", t), message: `unknown task "${task}" (known: ${taskList()})` })
    })
    for (const task of Object.keys(stage.eval.limits)) {
      if (!stage.eval.tasks.includes(task)) problems.push({ path: at("eval", "limits", task), message: `"${task}" is not among this stage's eval.tasks (${list(stage.eval.tasks) || "none"})` })
    }
  })
  if (problems.length > before) return
  // Steps: only meaningful once the stage list itself is sound.
  const perStep = tokensPerStep(c.training)
  stageSpans(c).forEach((span, i) => {
    if (span.endStep <= span.startStep) {
      problems.push({
        path: ["stages", i, "untilTokens"],
        message: `the stage is shorter than one optimizer step (${count(perStep)} tokens = training.seqLen × batchSize × gradAccum)`
      })
    }
  })
  if (problems.length > before) return
  const total = totalSteps(c)
  const spans = stageSpans(c)
  const last = spans.at(-1)!
  if (c.training.schedule === "wsd") {
    const decayStart = decayStartStep(c)
    if (decayStart < last.startStep) {
      const inStage = spans.find((s) => decayStart >= s.startStep && decayStart < s.endStep)!
      const most = (total - last.startStep) / total
      problems.push({
        path: ["training", "decayFraction"],
        message: `the decay (the last ${count(total - decayStart)} of ${count(total)} steps) would start at step ${count(decayStart)}, in stage "${inStage.name}"; ` +
          `it must stay inside the last stage "${last.name}" (steps ${count(last.startStep)}–${count(total)}): use at most ${Math.floor(most * 1e4) / 1e4} or lengthen the last stage`
      })
    }
    if (c.training.warmup >= decayStart) {
      problems.push({ path: ["training", "warmup"], message: `${count(c.training.warmup)} warmup steps reach the decay, which starts at step ${count(decayStart)}: the run would never train at training.lr` })
    }
  } else if (c.training.warmup >= total) {
    problems.push({ path: ["training", "warmup"], message: `${count(c.training.warmup)} warmup steps are not fewer than the run's ${count(total)} steps` })
  }
}

const checkModel = (c: Fields, problems: Array<ConfigProblem>): void => {
  const m = c.model
  if (m.preset === undefined && m.init === undefined) problems.push({ path: ["model"], message: `give model.preset (${list(Object.keys(presets))}) or model.init (a Hugging Face model folder)` })
  if (m.preset !== undefined && m.init !== undefined) problems.push({ path: ["model", "init"], message: "give model.preset or model.init, not both: an init checkpoint has its own shape" })
  if (m.init !== undefined) {
    for (const key of SHAPE_KEYS) {
      if (m.overrides[key] !== undefined) problems.push({ path: ["model", "overrides", key], message: "an init checkpoint fixes the model's shape; only ropeTheta and maxPositionEmbeddings may change" })
    }
    return
  }
  if (m.preset === undefined) return
  const shape = { ...presets[m.preset], ...m.overrides }
  if (shape.numAttentionHeads % shape.numKeyValueHeads !== 0) {
    problems.push({ path: ["model", "overrides", "numKeyValueHeads"], message: `numAttentionHeads ${shape.numAttentionHeads} is not a multiple of numKeyValueHeads ${shape.numKeyValueHeads}` })
  }
  const headDim = shape.hiddenSize / shape.numAttentionHeads
  if (!Number.isInteger(headDim) || headDim % 2 !== 0) {
    problems.push({ path: ["model", "overrides", "hiddenSize"], message: `hiddenSize ${shape.hiddenSize} / numAttentionHeads ${shape.numAttentionHeads} = ${headDim}: the head dimension must be an even integer for RoPE` })
  }
  if (c.training.seqLen > shape.maxPositionEmbeddings) {
    problems.push({ path: ["training", "seqLen"], message: `${c.training.seqLen} is longer than the model's maxPositionEmbeddings ${shape.maxPositionEmbeddings} (${m.preset}; set model.overrides.maxPositionEmbeddings)` })
  }
  if ("train" in c.tokenizer && m.overrides.vocabSize !== undefined && c.tokenizer.train.vocabSize > m.overrides.vocabSize) {
    problems.push({ path: ["tokenizer", "train", "vocabSize"], message: `${c.tokenizer.train.vocabSize} tokens do not fit the model's ${m.overrides.vocabSize} embedding rows (model.overrides.vocabSize)` })
  }
}

const checkSources = (c: Fields, problems: Array<ConfigProblem>): void => {
  const sourceNames = Object.keys(c.sources)
  for (const [name, source] of Object.entries(c.sources)) {
    const at = (...rest: Array<PropertyKey>) => ["sources", name, ...rest]
    source.filters.forEach((f, i) => {
      if (source.filters.indexOf(f) !== i) problems.push({ path: at("filters", i), message: `"${f}" is already in the list` })
    })
    if (typeof source.classifier === "object" && "train" in source.classifier) {
      const train = source.classifier.train
      const annotate = train.annotate
      if (annotate.prompt === "stack-edu" && annotate.language === undefined) {
        problems.push({ path: at("classifier", "train", "annotate", "language"), message: "the stack-edu prompt needs a language (one of the 15 Stack-Edu languages)" })
      }
      if (annotate.prompt !== "stack-edu" && annotate.language !== undefined) {
        problems.push({ path: at("classifier", "train", "annotate", "language"), message: "only the stack-edu prompt takes a language" })
      }
      if (train.kind === "encoder" && train.base === undefined) {
        problems.push({ path: at("classifier", "train", "base"), message: "an encoder classifier needs the encoder to start from (an HF folder, e.g. snowflake-arctic-embed-m)" })
      }
      if (train.kind === "encoder" && train.buckets !== undefined) {
        problems.push({ path: at("classifier", "train", "buckets"), message: "only kind: ngram hashes n-grams into buckets" })
      }
      if (train.kind === "ngram" && train.base !== undefined) {
        problems.push({ path: at("classifier", "train", "base"), message: "only kind: encoder starts from a base model" })
      }
    }
    const threshold = source.threshold
    if (threshold !== undefined) {
      for (const score of Object.keys(threshold.downsample)) {
        const n = Number(score)
        if (!/^[0-5]$/.test(score)) problems.push({ path: at("threshold", "downsample", score), message: "keys are scores 0–5" })
        else if (n >= threshold.minScore) problems.push({ path: at("threshold", "downsample", score), message: `score ${n} is already kept (threshold.minScore ${threshold.minScore}); downsample applies below it` })
      }
    }
  }
  if ("train" in c.tokenizer && c.tokenizer.train.mixture !== undefined) {
    for (const name of Object.keys(c.tokenizer.train.mixture)) {
      if (!Object.hasOwn(c.sources, name)) problems.push({ path: ["tokenizer", "train", "mixture", name], message: `unknown source "${name}" (sources: ${list(sourceNames)})` })
    }
  }
}

const checkPolicy = (c: Fields, problems: Array<ConfigProblem>): void => {
  const policy = c.policy
  if (policy.kind === "fixed") return
  if (c.stages.length < 2) {
    problems.push({ path: ["policy", "kind"], message: `a ${policy.kind} policy revises the next stage's mixture, and this run has one stage: use kind: fixed or add stages` })
  }
  if (policy.kind !== "rule") return
  // Evaluations that can still change a mixture: those after every stage but the last.
  const evaluated = new Set(c.stages.slice(0, -1).flatMap((s) => s.eval.tasks))
  const owner = new Map<string, number>()
  const names = new Map<string, number>()
  policy.domains.forEach((domain, d) => {
    const at = (...rest: Array<PropertyKey>) => ["policy", "domains", d, ...rest]
    const sameName = names.get(domain.name)
    if (sameName !== undefined) problems.push({ path: at("name"), message: `"${domain.name}" is already the name of policy.domains[${sameName}]` })
    else names.set(domain.name, d)
    domain.sources.forEach((source, s) => {
      if (!Object.hasOwn(c.sources, source)) problems.push({ path: at("sources", s), message: `unknown source "${source}" (sources: ${list(Object.keys(c.sources))})` })
      const other = owner.get(source)
      if (other !== undefined && other !== d) problems.push({ path: at("sources", s), message: `"${source}" already belongs to policy.domains[${other}]: a source raised by two domains would be counted twice` })
      else owner.set(source, d)
    })
    domain.tasks.forEach((task, t) => {
      if (!isKnownTask(task)) problems.push({ path: at("tasks", t), message: `unknown task "${task}" (known: ${taskList()})` })
      else if (!evaluated.has(task)) problems.push({ path: at("tasks", t), message: `"${task}" is not in the eval.tasks of any stage before the last, so the rule could never see it` })
    })
    if (domain.minWeight > domain.maxWeight) problems.push({ path: at("minWeight"), message: `${domain.minWeight} is above maxWeight ${domain.maxWeight}` })
  })
}

const checkAblation = (c: Fields, problems: Array<ConfigProblem>): void => {
  const a = c.ablation
  if (a === undefined) return
  const source = c.sources[a.source]
  if (source === undefined) {
    problems.push({ path: ["ablation", "source"], message: `unknown source "${a.source}" (sources: ${list(Object.keys(c.sources))})` })
  } else if (source.classifier === "none" && source.threshold === undefined) {
    problems.push({ path: ["ablation", "source"], message: `source "${a.source}" has no classifier or threshold, so with and without it would be the same data` })
  }
  a.tasks.forEach((task, t) => {
    if (!isKnownTask(task)) problems.push({ path: ["ablation", "tasks", t], message: `unknown task "${task}" (known: ${taskList()})` })
  })
  for (const task of Object.keys(a.limits)) {
    if (!a.tasks.includes(task)) problems.push({ path: ["ablation", "limits", task], message: `"${task}" is not among ablation.tasks (${list(a.tasks)})` })
  }
  const perStep = tokensPerStep(c.training)
  if (a.tokens < perStep) problems.push({ path: ["ablation", "tokens"], message: `${formatTokenCount(a.tokens)} is less than one optimizer step (${count(perStep)} tokens = training.seqLen × batchSize × gradAccum)` })
}

const checkPostTraining = (c: Fields, problems: Array<ConfigProblem>): void => {
  const post = c.postTraining
  if (post === undefined) return
  if (post.dpo !== undefined && post.sft === undefined) {
    problems.push({ path: ["postTraining", "dpo"], message: "DPO tunes the SFT model (notes §7.3): add postTraining.sft, or leave dpo out" })
  }
  const sft = post.sft
  if (sft !== undefined) {
    const maxPositions = c.model.preset === undefined ? undefined : c.model.overrides.maxPositionEmbeddings ?? presets[c.model.preset].maxPositionEmbeddings
    if (sft.seqLen !== undefined && maxPositions !== undefined && sft.seqLen > maxPositions) {
      problems.push({ path: ["postTraining", "sft", "seqLen"], message: `${sft.seqLen} is longer than the model's maxPositionEmbeddings ${maxPositions}` })
    }
  }
  const dpo = post.dpo
  if (dpo !== undefined && dpo.maxPromptLength >= dpo.maxLength) {
    problems.push({ path: ["postTraining", "dpo", "maxPromptLength"], message: `${dpo.maxPromptLength} leaves no room for a completion within maxLength ${dpo.maxLength}` })
  }
}

/** Every problem of a structurally valid config, in field order. */
export const runConfigProblems = (c: Fields): Array<ConfigProblem> => {
  const problems: Array<ConfigProblem> = []
  if (Object.keys(c.sources).length === 0) problems.push({ path: ["sources"], message: "name at least one source" })
  checkSources(c, problems)
  checkModel(c, problems)
  checkStages(c, problems)
  checkPolicy(c, problems)
  checkAblation(c, problems)
  checkPostTraining(c, problems)
  return problems
}

/** The cross-field checks as a Schema filter, so that decoding alone rejects a config the run cannot follow. */
export const runConfigChecks = Schema.makeFilter<Fields>(
  (c) => runConfigProblems(c).map((p) => ({ path: p.path, issue: p.message })),
  { expected: "a run config whose fields agree" }
)
