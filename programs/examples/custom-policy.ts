/**
 * Example: a mixture policy of your own. `fullRun` takes `policy`, a function from the evaluations so far to the
 * next stage's mixture and a decision record (src/run/pipeline/policy.ts); this one moves weight to the domain
 * whose tasks scored lowest after each stage. Its decisions land in OUT/report.json and OUT/report.html, marked
 * `policy: custom`, beside the evaluations they read.
 *
 *   npx tsx programs/examples/custom-policy.ts [--out DIR] [--tokens 20000] [--limit 10] [--set training.lr=1e-3 ...]
 *
 * To write your own: change `DOMAINS` (which sources feed which tasks) and `raiseLowest`; the run is the default
 * world's three stages, web → +code → +math, shrunk to `--tokens` per stage (a minute or two on 2 cores, no GPU).
 */
import { Console, Effect } from "effect"
import { Command, Flag } from "effect/cli"
import * as path from "node:path"
import { atLeast, defaulting, positive, runMain } from "../../src/cli/program.ts"
import { Gpu } from "../../src/gpu/Gpu.ts"
import { parseOverride } from "../../src/run/config-overrides.ts"
import { decodeRunConfig, RunConfigError } from "../../src/run/load-config.ts"
import { type MixturePolicy, normalizeMixture } from "../../src/run/pipeline/policy.ts"
import { fullRun } from "../../src/run/pipeline/run.ts"
import { defaultRunConfigInput, WORLD_TASKS } from "../../src/run/world/run-config.ts"
import { worldAnnotatorFromDir } from "../../src/run/world/world-annotator.ts"
import { writeDefaultWorld } from "../../src/run/world/write-world.ts"

/** Which sources teach which of the world's tasks. */
const DOMAINS: ReadonlyArray<{ name: string; sources: ReadonlyArray<string>; tasks: ReadonlyArray<string> }> = [
  { name: "facts", sources: ["web"], tasks: [WORLD_TASKS.facts] },
  { name: "arithmetic", sources: ["math"], tasks: [WORLD_TASKS.arithmetic] },
  { name: "code", sources: ["python", "javascript"], tasks: [WORLD_TASKS.code] }
]
/** The share of the next stage's tokens moved to the lowest domain (split evenly among its sources). */
const STEP = 0.2

const raiseLowest: MixturePolicy = ({ stage, next, evaluations }) => {
  const before = normalizeMixture(next.mixture)
  const latest = evaluations.at(-1) ?? []
  const scored = DOMAINS.flatMap((d) => {
    const results = latest.filter((e) => d.tasks.includes(e.task))
    return results.length === 0 ? [] : [{ ...d, score: results.reduce((s, e) => s + e.metrics[0]!.value, 0) / results.length }]
  })
  if (scored.length === 0) return { problem: `stage ${stage.name} evaluated none of the tasks of ${DOMAINS.map((d) => d.name).join(", ")}` }
  const lowest = scored.reduce((low, d) => (d.score < low.score ? d : low)) // ties: the first listed
  const names = [...new Set([...Object.keys(before), ...lowest.sources])]
  const after = normalizeMixture(Object.fromEntries(names.map((k) => [k, (before[k] ?? 0) * (1 - STEP) + (lowest.sources.includes(k) ? STEP / lowest.sources.length : 0)])))
  return {
    mixture: after,
    decision: {
      policy: "custom", rule: "raise-lowest-domain", nextStage: next.name, before, after,
      inputs: scored.map((d) => ({ name: `${d.name}: ${d.tasks.join(", ")}`, value: d.score, ...(d === lowest ? { note: `lowest: ${d.sources.join("+")} +${STEP}` } : {}) })),
      reason: `${lowest.name} scored lowest after ${stage.name} (${lowest.score.toFixed(3)}), so ${STEP * 100}% of stage ${next.name}'s tokens go to ${lowest.sources.join(" and ")}; the configured mixture fills the rest.`
    }
  }
}

const command = Command.make("custom-policy", {
  out: Flag.String("out").pipe(defaulting("runs/examples/custom-policy", "The run folder; a rerun with the same settings continues the run there")),
  tokens: Flag.Int("tokens").pipe(atLeast(1024), defaulting(20_000, "Tokens per stage")),
  limit: Flag.Int("limit").pipe(atLeast(1), defaulting(10, "Examples of world-arithmetic and world-code per evaluation (decoding is slow without a GPU; world-facts runs in full)")),
  scale: Flag.Finite("scale").pipe(positive, defaulting(0.5, "The world's size relative to the default run's")),
  set: Flag.String("set").pipe(Flag.withDescription("Override a run-config field, KEY=VALUE (repeatable)"), Flag.atLeast(0))
}, (a) =>
  Effect.gen(function*() {
    const out = path.resolve(a.out)
    const world = path.join(out, "world")
    yield* writeDefaultWorld(world, { scale: a.scale }) // deterministic: a rerun writes the same files
    const { ablation: _, postTraining: __, ...base } = defaultRunConfigInput(world, { out }) // the policy is the point here
    const config = yield* decodeRunConfig({
      ...base,
      stages: base.stages.map((s, i) => ({
        ...s, untilTokens: (i + 1) * a.tokens, eval: { ...s.eval, limits: Object.fromEntries(Object.keys(s.eval?.limits ?? {}).map((t) => [t, a.limit])) }
      })),
      training: { ...base.training, warmup: Math.floor((3 * a.tokens) / 1024 / 10) }, // the world's 4 × 256 tokens a step
      report: { ...base.report, title: `A custom policy: raise the lowest domain (world scale ${a.scale})` }
    }, yield* Effect.forEach(a.set, (text) => {
      const o = parseOverride(text)
      return "path" in o ? Effect.succeed(o) : Effect.fail(new RunConfigError({ problems: [{ path: "", message: o.message, override: o.source }], message: `${o.source}: ${o.message}` }))
    }))
    const done = yield* fullRun({ config, out, resume: true, policy: raiseLowest, annotator: worldAnnotatorFromDir(world), command: process.argv.slice(1).join(" ") })
      .pipe(Effect.provide(Gpu.layer))
    if (done._tag !== "Finished") return
    for (const s of done.report.stages) {
      yield* Console.log(`${s.name}: trained on ${JSON.stringify(s.mixture)}; ${s.evaluation.map((e) => `${e.task} ${e.metrics[0]!.value.toFixed(3)}`).join(", ")}`)
      if (s.decision !== undefined) yield* Console.log(`  → ${s.decision.reason}`)
    }
  }))

command.pipe(Command.run({ version: "0.1.0" }), runMain)
