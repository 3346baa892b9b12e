/**
 * Next-token log-probabilities of token sequences under a model:
 *
 *   npx tsx programs/score.ts --model DIR --input IDS.jsonl --output OUT.jsonl [--batch-size 8]
 *
 * Each input line {"ids": [...]} gives one output line {"logprobs": [...]} (n − 1 values, f32), in order:
 * log p(ids[i+1] | ids[0..i]). Prints the perplexity over all scored tokens.
 */
import { NodeRuntime, NodeServices } from "@effect/platform-node"
import { Console, Effect, FileSystem, Schema } from "effect"
import { Command, Flag } from "effect/cli"
import { describeAdapter } from "../src/gpu/adapter.ts"
import { Gpu } from "../src/gpu/Gpu.ts"
import { loadHfModel } from "../src/model/checkpoint.ts"
import { makeScorer } from "../src/model/scorer.ts"

class ScoreInputError extends Schema.TaggedError<ScoreInputError>()("ScoreInputError", { message: Schema.String }) {}

const IdsLine = Schema.fromJsonString(Schema.Struct({ ids: Schema.Array(Schema.Int) }))

const command = Command.make(
  "score",
  {
    model: Flag.String("model").pipe(Flag.withDescription("Hugging Face model folder (config.json + model.safetensors)")),
    input: Flag.String("input").pipe(Flag.withDescription("ids JSONL: one {\"ids\": [...]} per line")),
    output: Flag.String("output"),
    batchSize: Flag.Int("batch-size").pipe(Flag.withDefault(8))
  },
  (a) =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const gpu = yield* Gpu
      const model = yield* loadHfModel(a.model)
      const lines = (yield* fs.readFileString(a.input)).split("\n")
      const sequences: Array<ReadonlyArray<number>> = []
      for (const [i, line] of lines.entries()) {
        if (line.trim() === "") continue
        const parsed = Schema.decodeUnknownResult(IdsLine)(line)
        if (parsed._tag === "Failure") return yield* new ScoreInputError({ message: `${a.input}:${i + 1}: ${parsed.failure.message}` })
        const ids = parsed.success.ids
        const bad = ids.find((t) => t < 0 || t >= model.config.vocabSize)
        if (bad !== undefined) return yield* new ScoreInputError({ message: `${a.input}:${i + 1}: token id ${bad} is outside the vocabulary of ${model.config.vocabSize}` })
        if (ids.length > model.config.maxPositionEmbeddings) {
          return yield* new ScoreInputError({ message: `${a.input}:${i + 1}: ${ids.length} tokens exceed max_position_embeddings ${model.config.maxPositionEmbeddings}` })
        }
        sequences.push(ids)
      }
      yield* Console.error(`Scoring ${sequences.length} sequences on ${describeAdapter(gpu.adapter)}`)
      const maxLength = sequences.reduce((m, s) => Math.max(m, s.length), 2)
      const scorer = yield* makeScorer(gpu, model, maxLength, Math.min(a.batchSize, Math.max(1, sequences.length)))
      const results = yield* scorer.score(sequences)
      const text = results.map((lp) => JSON.stringify({ logprobs: Array.from(lp) }) + "\n").join("")
      // Written beside the target and renamed, so a killed run never leaves half an output.
      yield* fs.writeFileString(`${a.output}.tmp`, text)
      yield* fs.rename(`${a.output}.tmp`, a.output)
      const tokens = results.reduce((n, lp) => n + lp.length, 0)
      const nll = -results.reduce((s, lp) => s + lp.reduce((t, v) => t + v, 0), 0)
      yield* Console.log(`${sequences.length} sequences, ${tokens} tokens scored, perplexity ${Math.exp(nll / Math.max(1, tokens)).toFixed(4)} → ${a.output}`)
    }).pipe(Effect.scoped, Effect.provide(Gpu.layer))
).pipe(Command.withDescription("Next-token log-probabilities of token sequences under a model"))

command.pipe(Command.run({ version: "0.1.0" }), Effect.provide(NodeServices.layer), NodeRuntime.runMain)
