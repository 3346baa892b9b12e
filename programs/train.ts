/**
 * Train a SmolLM2-family model on WebGPU.
 *
 *   npx tsx programs/train.ts --preset tiny --data ids.jsonl --seq-len 64 --batch-size 4 --steps 100 --out runs/tiny
 *   npx tsx programs/train.ts --init path/to/hf-model --data ids.jsonl ... --resume
 *
 * --data is an ids JSONL file (each line {"ids": [...]} one pre-packed sequence of seq_len + 1 tokens, used in
 * file order), a folder of token shards (programs/tokenizer.ts shard), or a mixture
 * `web=0.9:shards/web,code=0.1:shards/code` sampled by token share with --seed.
 * Writes OUT/metrics.jsonl (every step) and OUT/checkpoints/step-N (HF folder + trainer state). With
 * --tokenizer tokenizer.json every checkpoint also holds the tokenizer, so transformers' AutoTokenizer loads it.
 */
import { Console, Effect, Option, Stream } from "effect"
import { Command, Flag } from "effect/cli"
import { defaulting, runMain } from "../src/cli/program.ts"
import { makeProgress, type Report } from "../src/data/progress/Progress.ts"
import { describeAdapter } from "../src/gpu/adapter.ts"
import { Gpu } from "../src/gpu/Gpu.ts"
import { type PresetName, presets } from "../src/model/config.ts"
import { resolveTrainingData } from "../src/train/mixture-spec.ts"
import { smollm2AdamW } from "../src/train/optimizer.ts"
import {
  checkTrainOptions,
  defaultWarmup,
  fraction,
  type ModelInit,
  nonNegative,
  nonNegativeInteger,
  type NumberRule,
  positive,
  positiveInteger,
  type TrainOptions,
  TrainOptionsError
} from "../src/train/options.ts"
import { checkRunFolder } from "../src/train/run-folder.ts"
import { stepFields } from "../src/train/step-log.ts"
import { train } from "../src/train/trainer.ts"

/** Checked as the command line is parsed, so a bad value stops the program before any work, naming its flag. */
const checked = (rule: NumberRule) => Flag.filter((n: number) => rule.holds(n), () => rule.expected)

/** Runs the loop on the GPU, the steps' progress on stderr (see src/data/progress), a summary on stdout. */
const runTraining = (options: TrainOptions) =>
  Effect.gen(function*() {
    const gpu = yield* Gpu
    yield* Console.error(`Training on ${describeAdapter(gpu.adapter)}`)
    const started = performance.now()
    let last: { step: number; loss: number } | undefined
    const progress = makeProgress()
    const steps = progress.task("train", { unit: "steps", rateUnit: null })
    let report: Report | undefined
    yield* train(options).pipe(
      Stream.runForEach((m) =>
        Effect.sync(() => {
          last = m
          report = { done: m.step, total: options.steps, fields: stepFields(m) }
          if (m.step >= options.steps) steps.finish(report)
          else steps.update(report)
          if (m.checkpoint !== undefined) progress.log(`step ${m.step}: saved ${m.checkpoint}`)
        })
      ),
      // A run that stops early (the data ran out, a failure) still ends its line with the last step's numbers.
      Effect.ensuring(Effect.sync(() => report !== undefined && steps.finish(report)))
    )
    const seconds = (performance.now() - started) / 1000
    yield* Console.log(
      last === undefined
        ? `Nothing to do: ${options.out} is already at step ${options.steps} or beyond.`
        : `Done: step ${last.step}, loss ${last.loss.toFixed(4)}, ${seconds.toFixed(1)} s. Metrics in ${options.out}/metrics.jsonl.`
    )
  })

const command = Command.make(
  "train",
  {
    init: Flag.String("init").pipe(Flag.withDescription("Start from this Hugging Face model folder (give this or --preset)"), Flag.optional),
    preset: Flag.Literals("preset", Object.keys(presets) as Array<PresetName>).pipe(
      Flag.withDescription("Start from random weights of this shape, drawn with --seed (give this or --init)"),
      Flag.optional
    ),
    data: Flag.String("data").pipe(Flag.withDescription(
      "ids JSONL (one {\"ids\": [...]} of seq_len + 1 tokens per line), or token shards: a folder of .ds files, " +
        "or a mixture name=weight:folder,name=weight:folder (required)"
    )),
    out: Flag.String("out").pipe(Flag.withDescription("The run's folder: OUT/checkpoints/step-N and OUT/metrics.jsonl (required)")),
    seqLen: Flag.Int("seq-len").pipe(checked(positiveInteger), defaulting(256, "Tokens each position sees (a row holds seq_len + 1)")),
    batchSize: Flag.Int("batch-size").pipe(checked(positiveInteger), defaulting(4, "Rows per micro-batch")),
    gradAccum: Flag.Int("grad-accum").pipe(checked(positiveInteger), defaulting(1, "Micro-batches per optimizer step")),
    steps: Flag.Int("steps").pipe(checked(positiveInteger), defaulting(100, "Optimizer steps of the whole run")),
    lr: Flag.Finite("lr").pipe(checked(positive), defaulting(3e-3, "Peak learning rate (SmolLM2: 3e-3 for 135M/360M, 5e-4 for 1.7B)", "3e-3")),
    warmup: Flag.Int("warmup").pipe(
      checked(nonNegativeInteger),
      Flag.withDescription("Linear warmup steps (SmolLM2: 2000) (default: min(2000, a tenth of --steps))"),
      Flag.optional
    ),
    decayFraction: Flag.Finite("decay-fraction").pipe(checked(fraction), defaulting(0.2, "WSD: last fraction of steps decaying linearly to 0")),
    schedule: Flag.Literals("schedule", ["wsd", "cosine"]).pipe(defaulting("wsd", "Learning-rate schedule: warmup-stable-decay or cosine")),
    weightDecay: Flag.Finite("weight-decay").pipe(checked(nonNegative), defaulting(smollm2AdamW.weightDecay, "AdamW weight decay of the matrices")),
    clip: Flag.Finite("clip").pipe(checked(nonNegative), defaulting(smollm2AdamW.clip, "Global gradient-norm clipping (0: off)")),
    seed: Flag.Int("seed").pipe(defaulting(8, "Seed of the initial weights (--preset) and of the mixture's sampling")),
    saveEvery: Flag.Int("save-every").pipe(checked(nonNegativeInteger), defaulting(0, "Checkpoint every N steps (0: only at the end)")),
    saveDtype: Flag.Literals("save-dtype", ["f32", "bf16"]).pipe(
      defaulting("f32", "Weights in model.safetensors (the trainer state keeps f32 either way)")
    ),
    resume: Flag.Boolean("resume").pipe(defaulting(false, "Continue from the newest checkpoint in --out", "off")),
    overwrite: Flag.Boolean("overwrite").pipe(defaulting(false, "Delete the checkpoints and metrics already in --out, then train from the start", "off")),
    tokenizer: Flag.String("tokenizer").pipe(
      Flag.withDescription(
        "A tokenizer.json to put in every checkpoint (with tokenizer_config.json and special_tokens_map.json) " +
          "(default: none; a resumed run keeps its checkpoint's tokenizer)"
      ),
      Flag.optional
    )
  },
  (a) =>
    Effect.gen(function*() {
      if (Option.isSome(a.init) === Option.isSome(a.preset)) {
        return yield* new TrainOptionsError({ flag: "--init/--preset", message: "give exactly one of --init DIR or --preset NAME" })
      }
      const init: ModelInit = Option.isSome(a.init)
        ? { _tag: "HfFolder", dir: a.init.value }
        : { _tag: "Config", config: presets[Option.getOrThrow(a.preset)], seed: a.seed }
      const warmup = Option.getOrElse(a.warmup, () => defaultWarmup(a.steps))
      const options: TrainOptions = {
        out: a.out,
        init,
        data: yield* resolveTrainingData(a.data, a.seed),
        seqLen: a.seqLen,
        batchSize: a.batchSize,
        gradAccum: a.gradAccum,
        steps: a.steps,
        schedule: { kind: a.schedule, peak: a.lr, warmup, totalSteps: a.steps, decayFraction: a.decayFraction },
        optimizer: { ...smollm2AdamW, weightDecay: a.weightDecay, clip: a.clip },
        saveEvery: a.saveEvery,
        saveDtype: a.saveDtype === "f32" ? "float32" : "bfloat16",
        resume: a.resume,
        overwrite: a.overwrite,
        ...(Option.isSome(a.tokenizer) ? { tokenizer: a.tokenizer.value } : {})
      }
      // Both again inside train(); here they run before the GPU is opened.
      yield* checkTrainOptions(options)
      yield* checkRunFolder(options.out, options)
      yield* runTraining(options).pipe(Effect.provide(Gpu.layer))
    })
).pipe(Command.withDescription("Train a Llama (SmolLM2) model on WebGPU"))

command.pipe(Command.run({ version: "0.1.0" }), runMain)
