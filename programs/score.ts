/**
 * Next-token log-probabilities of token sequences under a model:
 *
 *   npx tsx programs/score.ts --model DIR --input IDS.jsonl --output OUT.jsonl [--batch-size 8]
 *
 * Each input line {"ids": [...]} gives one output line {"logprobs": [...]} (n − 1 values, f32), in order:
 * log p(ids[i+1] | ids[0..i]). Prints the perplexity over all scored tokens.
 */
import { Console, Effect, Stream } from "effect"
import { Command, Flag } from "effect/cli"
import { runMain } from "../src/cli/program.ts"
import { writeLinesAtomic } from "../src/data/io/jsonl.ts"
import { describeAdapter } from "../src/gpu/adapter.ts"
import { Gpu } from "../src/gpu/Gpu.ts"
import { loadHfModel } from "../src/model/checkpoint.ts"
import { makeScorer, perplexity, readScoreInput } from "../src/model/scorer.ts"

const command = Command.make(
  "score",
  {
    model: Flag.Directory("model", { mustExist: true }).pipe(Flag.withDescription("Hugging Face model folder (config.json + model.safetensors) (required)")),
    input: Flag.File("input", { mustExist: true }).pipe(Flag.withDescription("ids JSONL: one {\"ids\": [...]} per line (required)")),
    output: Flag.String("output").pipe(Flag.withDescription("JSONL: one {\"logprobs\": [...]} per input line, in order (required)")),
    batchSize: Flag.Int("batch-size").pipe(
      Flag.filter((n) => Number.isSafeInteger(n) && n >= 1, () => "an integer ≥ 1"),
      Flag.withDescription("Sequences per forward pass (default: 8)"),
      Flag.withDefault(8)
    )
  },
  (a) =>
    Effect.gen(function*() {
      const model = yield* loadHfModel(a.model)
      // Every line is checked before the GPU starts.
      const sequences = yield* readScoreInput(a.input, model.config)
      const results = yield* Effect.gen(function*() {
        const gpu = yield* Gpu
        yield* Console.error(`Scoring ${sequences.length} sequences on ${describeAdapter(gpu.adapter)}`)
        const maxLength = sequences.reduce((m, s) => Math.max(m, s.length), 2)
        const scorer = yield* makeScorer(gpu, model, maxLength, Math.min(a.batchSize, Math.max(1, sequences.length)))
        return yield* scorer.score(sequences)
      }).pipe(Effect.scoped, Effect.provide(Gpu.layer))
      yield* writeLinesAtomic(a.output, Stream.fromIterable(results).pipe(Stream.map((lp) => JSON.stringify({ logprobs: Array.from(lp) }))))
      const { tokens, perplexity: ppl } = perplexity(results)
      yield* Console.log(`${sequences.length} sequences, ${tokens} tokens scored, perplexity ${ppl.toFixed(4)} → ${a.output}`)
    })
).pipe(Command.withDescription("Next-token log-probabilities of token sequences under a model"))

command.pipe(Command.run({ version: "0.1.0" }), runMain)
