/**
 * The toolkit's main job: the SmolLM2 method end to end from one config — curate each source (filters, dedup,
 * a quality classifier trained on annotated samples, its threshold), train a tokenizer, tokenize, train a
 * curriculum of stages under one WSD schedule, evaluate after each stage and let the policy revise the next
 * stage's mixture — then write the final model (OUT/final, a Hugging Face folder), OUT/report.json and
 * OUT/report.html.
 *
 *   npx tsx programs/full-run.ts                               the default world (written to OUT/world), no GPU needed
 *   npx tsx programs/full-run.ts --config configs/run.yaml --out runs/mine [--set training.lr=3e-4 ...]
 *   npx tsx programs/full-run.ts --out runs/mine --resume      continue a killed run, or one the manual policy stopped
 */
import { Console, Effect, FileSystem, Option } from "effect"
import { Command, Flag } from "effect/cli"
import * as path from "node:path"
import { defaulting, runMain } from "../src/cli/program.ts"
import { Gpu } from "../src/gpu/Gpu.ts"
import { type ConfigOverride, parseOverride } from "../src/run/config-overrides.ts"
import { decodeRunConfig, loadRunConfig, RunConfigError } from "../src/run/load-config.ts"
import { FullRunError, hasMarkers, runPaths } from "../src/run/pipeline/layout.ts"
import type { WorldAnnotatorLayer } from "../src/run/pipeline/curate.ts"
import { fullRun } from "../src/run/pipeline/run.ts"
import { defaultRunConfigInput } from "../src/run/world/run-config.ts"
import { worldAnnotatorFromDir } from "../src/run/world/world-annotator.ts"
import { writeDefaultWorld } from "../src/run/world/write-world.ts"

const command = Command.make(
  "full-run",
  {
    config: Flag.String("config").pipe(Flag.withDescription("The run config, YAML or JSON (default: the embedded default world, written to OUT/world)"), Flag.optional),
    out: Flag.String("out").pipe(Flag.withDescription("The run folder (default: the config's `out`, runs/full-run)"), Flag.optional),
    resume: Flag.Boolean("resume").pipe(defaulting(false, "Continue the run in OUT, skipping finished phases", "off")),
    set: Flag.String("set").pipe(Flag.withDescription("Override a config field, KEY=VALUE (repeatable), e.g. --set training.lr=3e-4"), Flag.atLeast(0))
  },
  (a) =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const overrides: Array<ConfigOverride> = []
      for (const text of a.set) {
        const o = parseOverride(text)
        if ("message" in o) return yield* new RunConfigError({ problems: [{ path: "", message: o.message, override: o.source }], message: `${o.source}: ${o.message}` })
        overrides.push(o)
      }
      const out = path.resolve(Option.getOrElse(a.out, () => "runs/full-run"))
      if (!a.resume && (yield* hasMarkers(runPaths(out)))) {
        return yield* new FullRunError({ message: `${out} already holds a run; pass --resume to continue it, or give another --out` })
      }
      let annotator: WorldAnnotatorLayer | undefined
      let config
      if (Option.isSome(a.config)) {
        config = yield* loadRunConfig(a.config.value, overrides)
      } else {
        const world = runPaths(out).world
        // The config first: a bad --set is reported before anything is written.
        config = yield* decodeRunConfig(defaultRunConfigInput(world, { out }), overrides)
        // The world is deterministic: a resumed run reuses the one it wrote.
        if (!(a.resume && (yield* fs.exists(path.join(world, "world.json"))))) {
          yield* Console.error(`Writing the default world to ${world}`)
          yield* writeDefaultWorld(world, {})
        }
        annotator = worldAnnotatorFromDir(world)
      }
      const outcome = yield* fullRun({
        config, out, resume: a.resume, command: ["full-run", ...process.argv.slice(2)].join(" "),
        title: Option.isSome(a.config) ? path.basename(a.config.value) : "The default world",
        ...(annotator === undefined ? {} : { annotator })
      }).pipe(Effect.provide(Gpu.layer))
      if (outcome._tag === "WaitingForMixture") {
        yield* Console.log(`Stopped for the manual policy: edit ${outcome.file}, then run again with --resume.`)
      } else {
        yield* Console.log(`Final model: ${path.join(outcome.out, "final")}\nReport: ${path.join(outcome.out, "report.html")}`)
      }
    })
).pipe(Command.withDescription("Curate, tokenize, train in stages, evaluate and report: the whole SmolLM2 recipe from one config"))

command.pipe(Command.run({ version: "0.1.0" }), runMain)
