/**
 * Example: a data ablation, the SmolLM2 way of deciding a mixture ([P] §3: train small models at equal tokens on
 * each candidate, compare them on the same evaluation). Two short runs on the default world: web pages alone, and
 * web with 30% math. Both curate the same sources the same way, so they differ only in the mixture. The evaluations
 * are printed side by side; each run's report is in OUT/<arm>/report.html.
 *
 *   npx tsx programs/examples/two-stage-ablation.ts [--out DIR] [--tokens 40000] [--limit 10] [--set KEY=VALUE ...]
 *
 * To ablate something else, edit `ARMS` (a mixture over the world's sources: web, python, javascript, math) or
 * `armConfig`: any field of the run config (docs/run-config.md) can differ between arms, e.g. a source's threshold.
 */
import { Console, Effect } from "effect"
import { Command, Flag } from "effect/cli"
import * as path from "node:path"
import { atLeast, defaulting, positive, runMain } from "../../src/cli/program.ts"
import { Gpu } from "../../src/gpu/Gpu.ts"
import { type ConfigOverride, parseOverride } from "../../src/run/config-overrides.ts"
import { decodeRunConfig, RunConfigError } from "../../src/run/load-config.ts"
import { fullRun } from "../../src/run/pipeline/run.ts"
import { defaultRunConfigInput, WORLD_TASKS } from "../../src/run/world/run-config.ts"
import { worldAnnotatorFromDir } from "../../src/run/world/world-annotator.ts"
import { writeDefaultWorld } from "../../src/run/world/write-world.ts"

const ARMS = [
  { name: "web", mixture: { web: 100 } },
  { name: "web-math", mixture: { web: 70, math: 30 } }
]
const TASKS = [WORLD_TASKS.facts, WORLD_TASKS.arithmetic]

/** One arm's run: the default world's web and math curation, one stage of `tokens` on the arm's mixture. */
const armConfig = (world: string, out: string, arm: typeof ARMS[number], o: { tokens: number; limit: number; scale: number }, overrides: ReadonlyArray<ConfigOverride>) => {
  // The default run's classifier ablation and SFT are left out: the two arms differ only in their mixture.
  const { ablation: _, postTraining: __, ...base } = defaultRunConfigInput(world)
  return decodeRunConfig({
    ...base,
    out: path.join(out, arm.name),
    sources: { web: base.sources["web"]!, math: base.sources["math"]! },
    stages: [{ name: arm.name, untilTokens: o.tokens, mixture: arm.mixture, eval: { tasks: TASKS, limits: { [WORLD_TASKS.arithmetic]: o.limit } } }],
    training: { ...base.training, warmup: Math.floor(o.tokens / 1024 / 10) }, // the default world's 4 × 256 tokens a step
    policy: { kind: "fixed" },
    report: { ...base.report, title: `Ablation arm ${arm.name} (world scale ${o.scale})` }
  }, overrides)
}

const command = Command.make("two-stage-ablation", {
  out: Flag.String("out").pipe(defaulting("runs/examples/two-stage-ablation", "The folder of both runs; a rerun with the same settings continues them")),
  tokens: Flag.Int("tokens").pipe(atLeast(1024), defaulting(40_000, "Training tokens of each run")),
  limit: Flag.Int("limit").pipe(atLeast(1), defaulting(10, "world-arithmetic examples (decoding is slow without a GPU; world-facts runs in full)")),
  scale: Flag.Finite("scale").pipe(positive, defaulting(0.5, "The world's size relative to the default run's")),
  set: Flag.String("set").pipe(Flag.withDescription("Override a run-config field in both runs, KEY=VALUE (repeatable)"), Flag.atLeast(0))
}, (a) =>
  Effect.gen(function*() {
    const out = path.resolve(a.out)
    const world = path.join(out, "world")
    yield* writeDefaultWorld(world, { scale: a.scale })
    const overrides = yield* Effect.forEach(a.set, (text) => {
      const o = parseOverride(text)
      return "path" in o ? Effect.succeed(o) : Effect.fail(new RunConfigError({ problems: [{ path: "", message: o.message, override: o.source }], message: `${o.source}: ${o.message}` }))
    })
    const rows: Array<Array<string>> = [["arm", "mixture", "tokens", ...TASKS]]
    for (const arm of ARMS) {
      yield* Console.error(`── arm ${arm.name} ──`)
      const config = yield* armConfig(world, out, arm, a, overrides)
      const done = yield* fullRun({ config, resume: true, annotator: worldAnnotatorFromDir(world), command: process.argv.slice(1).join(" ") })
        .pipe(Effect.provide(Gpu.layer))
      if (done._tag !== "Finished") return
      const stage = done.report.stages[0]!
      const score = (task: string) => stage.evaluation.find((e) => e.task === task)?.metrics[0]
      rows.push([arm.name, Object.entries(stage.mixture).map(([k, w]) => `${k} ${Math.round(w * 100)}%`).join(" · "), stage.tokens.toLocaleString("en-US"),
        ...TASKS.map((t) => { const m = score(t); return m === undefined ? "-" : `${m.value.toFixed(3)} ${m.name}` })])
    }
    const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)))
    for (const r of rows) yield* Console.log(r.map((cell, c) => cell.padEnd(widths[c]!)).join("  ").trimEnd())
  }))

command.pipe(Command.run({ version: "0.1.0" }), runMain)
