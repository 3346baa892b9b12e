/**
 * The run folder and its completion markers. Each phase writes its outputs first and then, atomically, a marker
 * `OUT/done/<phase>.json` holding what the report needs of it; `--resume` skips a phase whose marker exists and
 * reads the figures back from it, so a run killed at any moment (SIGKILL) redoes at most the unfinished phase —
 * datatrove's completion markers, one level up.
 *
 *   OUT/world/                          the default world, when no config was given
 *   OUT/curation/<source>/              filtered/ (kept, dropped, logs), classifier/ (annotation, model),
 *                                       scored/, curated/ (the documents the source contributes)
 *   OUT/tokenizer/tokenizer.json        trained or copied
 *   OUT/shards/<source>/                token shards (datatrove's layout)
 *   OUT/stages/<stage>/train/           the trainer's run folder (checkpoints/step-N, metrics.jsonl)
 *   OUT/stages/<stage>/mixture.json     `manual` policy: the mixture a person edits before `--resume`
 *   OUT/final/                          the final model, a Hugging Face folder
 *   OUT/post/sft/, OUT/post/dpo/        post-training's run folders (sft-rows.jsonl, checkpoints/step-N, metrics.jsonl)
 *   OUT/final-instruct/                 the chat model post-training made, a Hugging Face folder with its chat template
 *   OUT/report.json, OUT/report.html
 */
import { Effect, FileSystem, Schema } from "effect"
import * as path from "node:path"
import { writeFileAtomic } from "../../data/io/atomic.ts"

export class FullRunError extends Schema.TaggedError<FullRunError>()("FullRunError", {
  message: Schema.String
}) {}

export const runPaths = (out: string) => ({
  out,
  world: path.join(out, "world"),
  done: path.join(out, "done"),
  curation: (source: string) => path.join(out, "curation", source),
  tokenizer: path.join(out, "tokenizer", "tokenizer.json"),
  shards: (source: string) => path.join(out, "shards", source),
  stage: (stage: string) => path.join(out, "stages", stage),
  stageTrain: (stage: string) => path.join(out, "stages", stage, "train"),
  manualMixture: (stage: string) => path.join(out, "stages", stage, "mixture.json"),
  final: path.join(out, "final"),
  post: (phase: "sft" | "dpo") => path.join(out, "post", phase),
  finalInstruct: path.join(out, "final-instruct")
})
export type RunPaths = ReturnType<typeof runPaths>

const markerFile = (p: RunPaths, phase: string) => path.join(p.done, `${phase.replace(/[^A-Za-z0-9_.-]+/g, "_")}.json`)

const MarkerFile = Schema.Struct({ phase: Schema.String, seconds: Schema.Number, value: Schema.Unknown })

/** The marker of `phase` (its result decoded with `schema`, and its seconds), or undefined when the phase has not finished. */
export const readMarker = <A, I>(p: RunPaths, phase: string, schema: Schema.Codec<A, I>) =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const file = markerFile(p, phase)
    if (!(yield* fs.exists(file).pipe(Effect.orElseSucceed(() => false)))) return undefined
    const bad = (e: { readonly message: string }) => new FullRunError({ message: `${file} is not a marker this version can read (${e.message}); remove it to redo the phase` })
    const text = yield* fs.readFileString(file).pipe(Effect.mapError(bad))
    const marker = yield* Schema.decodeUnknownEffect(Schema.fromJsonString(MarkerFile))(text).pipe(Effect.mapError(bad))
    const value = yield* Schema.decodeUnknownEffect(schema)(marker.value).pipe(Effect.mapError(bad))
    return { value, seconds: marker.seconds }
  })

/** Writes the marker of `phase` (after its outputs): the phase is finished. */
export const writeMarker = <A, I>(p: RunPaths, phase: string, schema: Schema.Codec<A, I>, value: A, seconds: number) =>
  Effect.gen(function*() {
    const encoded = yield* Schema.encodeEffect(schema)(value).pipe(Effect.orDie)
    yield* writeFileAtomic(markerFile(p, phase), JSON.stringify({ phase, seconds, value: encoded }, null, 2) + "\n")
  })

/** Does OUT hold any finished phase (a run that `--resume` would continue)? */
export const hasMarkers = (p: RunPaths) =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    if (!(yield* fs.exists(p.done).pipe(Effect.orElseSucceed(() => false)))) return false
    return (yield* fs.readDirectory(p.done).pipe(Effect.orElseSucceed(() => []))).some((f) => f.endsWith(".json"))
  })

export interface PhaseResult<A> {
  readonly phase: string
  readonly value: A
  readonly seconds: number
  /** Finished by an earlier session, skipped now. */
  readonly resumed: boolean
}

/** Runs `phase` unless its marker exists; returns the marker's value either way (`resumed` when skipped). */
export const runPhase = <A, I, E, R>(p: RunPaths, phase: string, schema: Schema.Codec<A, I>, body: Effect.Effect<A, E, R>) =>
  Effect.gen(function*() {
    const done = yield* readMarker(p, phase, schema)
    if (done !== undefined) return { phase, value: done.value, seconds: done.seconds, resumed: true } satisfies PhaseResult<A>
    const started = performance.now()
    const value = yield* body
    const seconds = (performance.now() - started) / 1000
    yield* writeMarker(p, phase, schema, value, seconds)
    return { phase, value, seconds, resumed: false } satisfies PhaseResult<A>
  })
