/**
 * Example: curation only, datatrove-style. One source goes through FineWeb's heuristic filters, MinHash dedup, a
 * quality classifier and its score threshold. These are the same steps the full run applies to each source
 * (`curateSource`). Every document ends up kept or dropped with its reason, and the funnel is printed and written
 * to OUT/funnel.json.
 *
 *   npx tsx programs/examples/curate-only.ts [--out DIR]         the default world's web pages, written to OUT/world
 *   npx tsx programs/examples/curate-only.ts --input pages.jsonl --model CLASSIFIER_DIR [--min-score 3]
 *
 * With `--input` and no `--model`, the threshold reads the `int_score` the documents carry (FineWeb-Edu's column).
 * To change the steps, edit `source` below: every field is in docs/run-config.md (`sources.<name>`).
 */
import { Console, Effect, Option, Schema } from "effect"
import { Command, Flag } from "effect/cli"
import * as path from "node:path"
import { writeFileAtomic } from "../../src/data/io/atomic.ts"
import { atLeast, defaulting, positive, runMain } from "../../src/cli/program.ts"
import { Source } from "../../src/run/config.ts"
import { curateSource } from "../../src/run/pipeline/curate.ts"
import { worldAnnotatorFromDir } from "../../src/run/world/world-annotator.ts"
import { SOURCE_FILES, writeDefaultWorld } from "../../src/run/world/write-world.ts"

const command = Command.make("curate-only", {
  out: Flag.String("out").pipe(defaulting("runs/examples/curate-only", "The output folder")),
  input: Flag.String("input").pipe(Flag.withDescription("JSONL/Parquet files or folders to curate (repeatable; default: the world's web pages)"), Flag.atLeast(0)),
  model: Flag.String("model").pipe(Flag.withDescription("A trained quality classifier folder (programs/classifier.ts train)"), Flag.optional),
  minScore: Flag.Int("min-score").pipe(atLeast(0), defaulting(3, "Keep documents whose int_score reaches this (FineWeb-Edu: 3)")),
  scale: Flag.Finite("scale").pipe(positive, defaulting(1, "The world's size relative to the default run's"))
}, (a) =>
  Effect.gen(function*() {
    const out = path.resolve(a.out)
    const world = path.join(out, "world")
    const ownInput = a.input.length > 0
    if (!ownInput) yield* writeDefaultWorld(world, { scale: a.scale })
    const source = yield* Schema.decodeUnknownEffect(Source)({
      paths: ownInput ? a.input : [path.join(world, SOURCE_FILES.web)],
      dedup: "minhash", // filters: FineWeb's four by default
      classifier: Option.isSome(a.model) ? { model: a.model.value }
        : ownInput ? "none"
        // The world's stand-in annotator labels a sample; an n-gram classifier learns from it (the full run's way).
        : { train: { annotate: { prompt: "fineweb-edu", budget: 600 }, kind: "ngram", epochs: 20 } },
      threshold: { minScore: a.minScore }
    })
    const dir = path.join(out, "curation")
    const curated = yield* curateSource({
      name: "web", source, dir, seed: 42, tasks: 1, log: (line) => process.stderr.write(`${line}\n`),
      annotator: ownInput ? undefined : worldAnnotatorFromDir(world)
    })
    const f = curated.funnel
    yield* writeFileAtomic(path.join(out, "funnel.json"), JSON.stringify(f, null, 2) + "\n")
    yield* Console.log(`${f.documents} documents read`)
    for (const s of f.steps) {
      const reasons = s.dropped.map((d) => `${d.reason} ${d.documents}`).join(", ")
      yield* Console.log(`  ${s.name.padEnd(18)} ${String(s.documentsIn).padStart(6)} in  ${String(s.documentsKept).padStart(6)} kept  ${String(s.documentsIn - s.documentsKept).padStart(6)} dropped${reasons === "" ? "" : ` (${reasons})`}`)
    }
    const kept = f.steps.at(-1)?.documentsKept ?? f.documents
    if (f.classifier !== undefined) yield* Console.log(`classifier: F1 ${f.classifier.binary.f1.toFixed(3)} at score ${f.classifier.binary.threshold} on ${f.classifier.documents} held-out documents`)
    yield* Console.log(`kept ${kept} of ${f.documents}: ${curated.inputs.join(", ")}\ndropped documents, with metadata.filter_reason: ${path.join(dir, "filtered", "dropped")}, ${path.join(dir, "dropped")}`)
  }))

command.pipe(Command.run({ version: "0.1.0" }), runMain)
