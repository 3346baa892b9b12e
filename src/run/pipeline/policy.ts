/**
 * The mixture policy: after a stage's evaluation, the mixture the next stage trains on, and the record of why.
 * A pure function of the evaluations so far and the config, so the report can show its inputs and a test can
 * hand it made-up numbers. Three kinds (config `policy.kind`):
 *
 * - `fixed`: the next stage's mixture as configured.
 * - `rule`: SmolLM2's stage-2 move ([P] §4.3: math and code lagged after stage 1, so their shares rose), made a
 *   rule: a domain lags when its score (the mean main metric of its tasks) rose by less than `minGain` since the
 *   previous evaluation, or is below its `target`; a lagging domain's sources gain `step` of the mixture, within
 *   the domain's `minWeight`/`maxWeight`, and the other sources shrink in proportion.
 * - `manual`: a person's mixture (read from the file the run wrote for them to edit), recorded as given.
 */
import type { PolicyConfig, StageConfig } from "../config.ts"
import type { PolicyDecision, TaskEvaluation } from "../report/schema.ts"

export type Mixture = Readonly<Record<string, number>>

/** Weights as token shares summing to 1 (zero weights dropped), rounded to 6 digits so reports read well. */
export const normalizeMixture = (m: Mixture): Record<string, number> => {
  const total = Object.values(m).reduce((a, b) => a + b, 0)
  if (total <= 0) return {}
  return Object.fromEntries(Object.entries(m).filter(([, w]) => w > 0).map(([k, w]) => [k, Number((w / total).toFixed(6))]))
}

/** A task's main metric (the first, as the report and charts use it). */
const mainMetric = (e: TaskEvaluation): number => e.metrics[0]!.value

/** The mean main metric of `tasks` in `evaluation`, or undefined when none of them was evaluated. */
const domainScore = (evaluation: ReadonlyArray<TaskEvaluation>, tasks: ReadonlyArray<string>): number | undefined => {
  const found = evaluation.filter((e) => tasks.includes(e.task))
  return found.length === 0 ? undefined : found.reduce((s, e) => s + mainMetric(e), 0) / found.length
}

const fmt = (x: number) => Number(x.toFixed(4)).toString()

export interface PolicyInputs {
  readonly policy: PolicyConfig
  /** The stage just evaluated. */
  readonly stage: StageConfig
  /** The stage whose mixture is decided. */
  readonly next: StageConfig
  /** Evaluations of every finished stage, in order; the last is the stage just evaluated. */
  readonly evaluations: ReadonlyArray<ReadonlyArray<TaskEvaluation>>
  /** `manual`: the mixture the person wrote (absent: the policy cannot decide yet). */
  readonly edited?: Mixture
}

/** A policy: what `decideNextMixture` is for the config's kinds; a program may pass its own to `fullRun`. */
export type MixturePolicy = (inputs: PolicyInputs) => PolicyOutcome | { readonly problem: string }

export interface PolicyOutcome {
  readonly mixture: Record<string, number>
  readonly decision: PolicyDecision
}

/**
 * Raises `sources`' share of `mixture` (normalized) to `target`, splitting it among them in proportion to their
 * current weights (evenly when none has one) and shrinking the others in proportion.
 */
const setShare = (mixture: Record<string, number>, sources: ReadonlyArray<string>, target: number): Record<string, number> => {
  const inDomain = (k: string) => sources.includes(k)
  const domain = sources.reduce((s, k) => s + (mixture[k] ?? 0), 0)
  const rest = 1 - domain
  const out: Record<string, number> = {}
  for (const [k, w] of Object.entries(mixture)) if (!inDomain(k)) out[k] = rest > 0 ? (w * (1 - target)) / rest : 0
  for (const k of sources) out[k] = domain > 0 ? ((mixture[k] ?? 0) * target) / domain : target / sources.length
  return normalizeMixture(out)
}

/** The next stage's mixture and the decision record. Fails (returns a `problem`) only for `manual` without an edited mixture. */
export const decideNextMixture: MixturePolicy = (i) => {
  const before = normalizeMixture(i.next.mixture)
  const base = { policy: i.policy.kind, nextStage: i.next.name, before }
  if (i.policy.kind === "fixed") {
    return { mixture: before, decision: { ...base, rule: "keep", inputs: [], after: before, reason: `The policy is fixed: ${i.next.name} trains on its configured mixture.` } }
  }
  if (i.policy.kind === "manual") {
    if (i.edited === undefined) return { problem: `the manual policy needs the mixture of stage ${i.next.name}` }
    const after = normalizeMixture(i.edited)
    const same = JSON.stringify(after) === JSON.stringify(before)
    return {
      mixture: after,
      decision: { ...base, rule: "edited-by-hand", inputs: [], after, reason: same ? `Left as configured by the person who reviewed ${i.stage.name}'s evaluation.` : `Edited by hand after ${i.stage.name}'s evaluation.` }
    }
  }
  const latest = i.evaluations.at(-1) ?? []
  const previous = i.evaluations.length >= 2 ? i.evaluations.at(-2) : undefined
  let mixture = before
  const inputs: Array<PolicyDecision["inputs"][number]> = []
  const raised: Array<string> = []
  for (const d of i.policy.domains) {
    const name = `${d.name}: ${d.tasks.join(", ")}`
    const score = domainScore(latest, d.tasks)
    if (score === undefined) {
      inputs.push({ name, value: 0, note: `not evaluated after ${i.stage.name}: no change` })
      continue
    }
    const prior = previous === undefined ? undefined : domainScore(previous, d.tasks)
    const gain = prior === undefined ? undefined : score - prior
    const belowTarget = d.target !== undefined && score < d.target
    const slow = gain !== undefined && gain < i.policy.minGain
    const why = [
      ...(belowTarget ? [`below target ${fmt(d.target!)}`] : []),
      ...(slow ? [`gain ${fmt(gain!)} < minGain ${fmt(i.policy.minGain)}`] : [])
    ]
    const entry = { name, value: score, ...(prior === undefined ? {} : { previous: prior }) }
    if (why.length === 0) {
      inputs.push({ ...entry, note: gain === undefined ? "first evaluation, no target: no change" : `improving: gain ${fmt(gain)} ≥ minGain ${fmt(i.policy.minGain)}` })
      continue
    }
    const share = d.sources.reduce((s, k) => s + (mixture[k] ?? 0), 0)
    const target = Math.min(d.maxWeight, Math.max(d.minWeight, share + i.policy.step))
    if (target <= share + 1e-9) {
      inputs.push({ ...entry, note: `lags: ${why.join(", ")}; already at ${fmt(share)} ≥ maxWeight ${fmt(d.maxWeight)}` })
      continue
    }
    mixture = setShare(mixture, d.sources, target)
    inputs.push({ ...entry, note: `lags: ${why.join(", ")}; ${d.sources.join("+")} ${fmt(share)} → ${fmt(target)}` })
    raised.push(`${d.name} (${d.sources.join(", ")}) from ${fmt(share)} to ${fmt(target)} of the mixture, as its tasks lag (${why.join(", ")})`)
  }
  const reason = raised.length === 0
    ? `No domain lags after ${i.stage.name}: ${i.next.name} trains on its configured mixture.`
    : `Raised ${raised.join("; ")}.`
  return { mixture, decision: { ...base, rule: "raise-lagging-domains", inputs, after: mixture, reason } }
}
