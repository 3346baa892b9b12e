/**
 * Direct preference optimization from the command line (issue 12, item 5).
 *
 *   npx tsx programs/dpo.ts --init sft-model/ --input ultrafeedback.jsonl --out runs/dpo \
 *     [--beta 0.5] [--lr 1e-6] [--epochs 2] [--batch-size 2] [--grad-accum 64] [--max-length 1024] [--max-prompt-length 512]
 *
 * Input: the UltraFeedback-binarized layout, `{"prompt", "chosen", "rejected"}` with `chosen`/`rejected` message
 * lists ending with the assistant reply (or plain strings, the reply to `prompt`), as JSONL, a JSON array or Parquet
 * (what the dataset ships); rendered with the chat template, truncated as TRL does. A bad record stops the run with
 * its file and line (or Parquet row), and so does an input with no pairs. The reference model is `--init` itself: its log-probs are computed once into
 * OUT/reference-logps.jsonl (reused on resume), then the policy trains with the sigmoid loss; OUT/metrics.jsonl has
 * TRL's loss, rewards/chosen, rewards/rejected, rewards/accuracies and rewards/margins per step, and
 * OUT/checkpoints/step-N are chat models. Defaults are SmolLM2's DPO (notes smollm2-recipe.md §7.3, §11).
 */
import { Console, Effect, Option, Stream } from "effect"
import { Command, Flag } from "effect/cli"
import { atLeast, defaulting, fraction, nonNegative, positive, runMain } from "../src/cli/program.ts"
import { makeProgress, type Report } from "../src/data/progress/Progress.ts"
import { describeAdapter } from "../src/gpu/adapter.ts"
import { Gpu } from "../src/gpu/Gpu.ts"
import { type DpoOptions, dpoStepFields, trainDpo } from "../src/train/dpo.ts"
import { smollm2DpoLengths } from "../src/train/dpo-data.ts"
import { smollm2DpoBeta } from "../src/train/dpo-loss.ts"
import { dpoGlobalBatch, prepareDpoRun } from "../src/train/dpo-run.ts"
import { sftAdamW } from "../src/train/sft-defaults.ts"

const dpo = Command.make(
  "dpo",
  {
    init: Flag.String("init").pipe(Flag.withDescription("The policy and reference model: a Hugging Face folder (config.json, model.safetensors, tokenizer.json) (required)")),
    input: Flag.String("input").pipe(Flag.withDescription("Preference pairs {\"prompt\", \"chosen\", \"rejected\"} (UltraFeedback-binarized layout): .jsonl, .json or .parquet (required)")),
    out: Flag.String("out").pipe(Flag.withDescription("The run's folder: OUT/reference-logps.jsonl, OUT/checkpoints/step-N, OUT/metrics.jsonl (required)")),
    tokenizer: Flag.String("tokenizer").pipe(Flag.withDescription("A tokenizer.json (default: the one in --init)"), Flag.optional),
    template: Flag.String("template").pipe(
      Flag.withDescription("A tokenizer_config.json with a chat_template, or a .jinja file (default: SmolLM2-Instruct's ChatML template)"),
      Flag.optional
    ),
    beta: Flag.Finite("beta").pipe(positive, defaulting(smollm2DpoBeta, "β of the sigmoid loss (SmolLM2: 0.5)")),
    lr: Flag.Finite("lr").pipe(positive, defaulting(1e-6, "Peak learning rate (SmolLM2: 1e-6)")),
    warmupRatio: Flag.Finite("warmup-ratio").pipe(fraction, defaulting(0.1, "Warmup steps as a fraction of the run (rounded up), then cosine to 0")),
    epochs: Flag.Int("epochs").pipe(atLeast(1), defaulting(2, "Passes over the pairs (the paper: 2; the handbook config: 3)")),
    batchSize: Flag.Int("batch-size").pipe(atLeast(1), defaulting(2, "Pairs per micro-batch (2 rows each; the handbook: 2 per device)")),
    gradAccum: Flag.Int("grad-accum").pipe(atLeast(1), Flag.withDescription(`Micro-batches per optimizer step (default: a global batch of ${dpoGlobalBatch} pairs)`), Flag.optional),
    maxLength: Flag.Int("max-length").pipe(atLeast(2), defaulting(smollm2DpoLengths.maxLength, "Prompt + completion tokens at most")),
    maxPromptLength: Flag.Int("max-prompt-length").pipe(atLeast(1), defaulting(smollm2DpoLengths.maxPromptLength, "Prompt tokens kept (its end) when a pair is too long")),
    seed: Flag.Int("seed").pipe(defaulting(42, "Seed of the epochs' shuffles")),
    weightDecay: Flag.Finite("weight-decay").pipe(nonNegative, defaulting(sftAdamW.weightDecay, "AdamW weight decay (transformers' default)")),
    clip: Flag.Finite("clip").pipe(nonNegative, defaulting(sftAdamW.clip, "Global gradient-norm clipping (0: off)")),
    saveEvery: Flag.Int("save-every").pipe(atLeast(0), defaulting(0, "Checkpoint every N steps (0: only at the end)")),
    saveDtype: Flag.Literals("save-dtype", ["f32", "bf16"]).pipe(defaulting("f32", "Weights in model.safetensors (the trainer state keeps f32 either way)")),
    resume: Flag.Boolean("resume").pipe(defaulting(false, "Continue from the newest checkpoint in --out", "off")),
    overwrite: Flag.Boolean("overwrite").pipe(defaulting(false, "Delete the checkpoints and metrics already in --out first (the reference cache is reused for the same model and pairs)", "off"))
  },
  (a) =>
    Effect.gen(function*() {
      const { options, steps } = yield* prepareDpoRun({
        init: a.init, inputs: [a.input], out: a.out, tokenizer: Option.getOrUndefined(a.tokenizer), template: Option.getOrUndefined(a.template),
        beta: a.beta, lr: a.lr, warmupRatio: a.warmupRatio, epochs: a.epochs, batchSize: a.batchSize, gradAccum: Option.getOrUndefined(a.gradAccum),
        maxLength: a.maxLength, maxPromptLength: a.maxPromptLength, seed: a.seed, weightDecay: a.weightDecay, clip: a.clip,
        saveEvery: a.saveEvery, saveDtype: a.saveDtype === "f32" ? "float32" : "bfloat16", resume: a.resume, overwrite: a.overwrite,
        log: (line) => Console.error(line)
      })
      yield* runDpo(options, steps).pipe(Effect.provide(Gpu.layer))
    }).pipe(Effect.scoped)
).pipe(Command.withDescription("Align a chat model with preference pairs (DPO, sigmoid loss, cached reference log-probs)"))

/** The steps as a progress line on stderr, a summary on stdout. */
const runDpo = (options: DpoOptions, steps: number) =>
  Effect.gen(function*() {
    const gpu = yield* Gpu
    yield* Console.error(`Training on ${describeAdapter(gpu.adapter)}`)
    const progress = makeProgress()
    const task = progress.task("dpo", { unit: "steps", rateUnit: null })
    let report: Report | undefined
    let last: { step: number; loss: number; rewardsMargins: number; rewardsAccuracies: number } | undefined
    yield* trainDpo(options).pipe(
      Stream.runForEach((m) =>
        Effect.sync(() => {
          last = m
          report = { done: m.step, total: steps, fields: dpoStepFields(m) }
          if (m.step >= steps) task.finish(report)
          else task.update(report)
          if (m.checkpoint !== undefined) progress.log(`step ${m.step}: saved ${m.checkpoint}`)
        })
      ),
      Effect.ensuring(Effect.sync(() => report !== undefined && task.finish(report)))
    )
    yield* Console.log(last === undefined
      ? `Nothing to do: ${options.out} is already at step ${steps}.`
      : `Done: step ${last.step}, loss ${last.loss.toFixed(4)}, margin ${last.rewardsMargins.toFixed(4)}, accuracy ${last.rewardsAccuracies.toFixed(2)}. Metrics in ${options.out}/metrics.jsonl.`)
  })

dpo.pipe(Command.run({ version: "0.1.0" }), runMain)
