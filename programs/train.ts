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
import { NodeRuntime, NodeServices } from "@effect/platform-node"
import { Console, Effect, FileSystem, Option, Stream } from "effect"
import { Command, Flag } from "effect/cli"
import { describeAdapter } from "../src/gpu/adapter.ts"
import { Gpu } from "../src/gpu/Gpu.ts"
import { type PresetName, presets } from "../src/model/config.ts"
import { smollm2AdamW } from "../src/train/optimizer.ts"
import type { MixtureSource } from "../src/data/mixture/Mixture.ts"
import type { ShardError } from "../src/data/shards/format.ts"
import { listTokenShards } from "../src/data/shards/reader.ts"
import { type ModelInit, type TrainingData, train } from "../src/train/trainer.ts"

const presetNames = Object.keys(presets) as Array<PresetName>

/** `--data`: a .jsonl file of ids, a folder of token shards, or `name=weight:folder,…` for a mixture. */
const parseData = (spec: string, seed: number): Effect.Effect<TrainingData, Error | ShardError, FileSystem.FileSystem> =>
  Effect.gen(function*() {
    if (spec.endsWith(".jsonl")) return { _tag: "IdsJsonl", path: spec }
    const parts = spec.split(",").map((part) => {
      const m = /^([^=]+)=([0-9.eE+-]+):(.+)$/.exec(part)
      return m === null ? { name: "data", weight: 1, dir: part } : { name: m[1]!, weight: Number(m[2]), dir: m[3]! }
    })
    if (parts.length > 1 && parts.some((p) => p.name === "data")) {
      return yield* Effect.fail(new Error(`--data ${spec}: a mixture is name=weight:folder,name=weight:folder`))
    }
    const sources: Array<MixtureSource> = []
    for (const p of parts) {
      const shards = yield* listTokenShards(p.dir)
      if (shards.length === 0) return yield* Effect.fail(new Error(`--data: no .ds token shards in ${p.dir}`))
      sources.push({ name: p.name, weight: p.weight, shards })
    }
    return { _tag: "Mixture", seed, sources }
  })

const command = Command.make(
  "train",
  {
    init: Flag.String("init").pipe(Flag.withDescription("Start from this Hugging Face model folder"), Flag.optional),
    preset: Flag.Literals("preset", presetNames).pipe(Flag.withDescription("Start from random weights of this shape"), Flag.optional),
    data: Flag.String("data").pipe(Flag.withDescription(
      "ids JSONL (one {\"ids\": [...]} of seq_len + 1 tokens per line), or token shards: a folder of .ds files, " +
        "or a mixture name=weight:folder,name=weight:folder"
    )),
    seqLen: Flag.Int("seq-len").pipe(Flag.withDefault(256)),
    batchSize: Flag.Int("batch-size").pipe(Flag.withDefault(4)),
    gradAccum: Flag.Int("grad-accum").pipe(Flag.withDefault(1)),
    steps: Flag.Int("steps").pipe(Flag.withDefault(100)),
    lr: Flag.Finite("lr").pipe(Flag.withDescription("Peak learning rate (SmolLM2: 3e-3 for 135M/360M, 5e-4 for 1.7B)"), Flag.withDefault(3e-3)),
    warmup: Flag.Int("warmup").pipe(Flag.withDescription("Linear warmup steps (SmolLM2: 2000)"), Flag.withDefault(2000)),
    decayFraction: Flag.Finite("decay-fraction").pipe(Flag.withDescription("WSD: last fraction of steps decaying linearly to 0"), Flag.withDefault(0.2)),
    schedule: Flag.Literals("schedule", ["wsd", "cosine"]).pipe(Flag.withDefault("wsd" as const)),
    weightDecay: Flag.Finite("weight-decay").pipe(Flag.withDefault(smollm2AdamW.weightDecay)),
    clip: Flag.Finite("clip").pipe(Flag.withDescription("Global gradient-norm clipping (0: off)"), Flag.withDefault(smollm2AdamW.clip)),
    seed: Flag.Int("seed").pipe(Flag.withDefault(8)),
    out: Flag.String("out"),
    saveEvery: Flag.Int("save-every").pipe(Flag.withDescription("Checkpoint every N steps (0: only at the end)"), Flag.withDefault(0)),
    saveDtype: Flag.Literals("save-dtype", ["f32", "bf16"]).pipe(Flag.withDefault("f32" as const)),
    resume: Flag.Boolean("resume").pipe(Flag.withDescription("Continue from the newest checkpoint in --out"), Flag.withDefault(false)),
    tokenizer: Flag.String("tokenizer").pipe(
      Flag.withDescription(
        "A tokenizer.json to put in every checkpoint (with tokenizer_config.json and special_tokens_map.json); " +
          "without it a resumed run keeps its checkpoint's tokenizer"
      ),
      Flag.optional
    )
  },
  (a) =>
    Effect.gen(function*() {
      const init: ModelInit | undefined = Option.isSome(a.init)
        ? { _tag: "HfFolder", dir: a.init.value }
        : Option.isSome(a.preset) ? { _tag: "Config", config: presets[a.preset.value], seed: a.seed } : undefined
      if (init === undefined || (Option.isSome(a.init) && Option.isSome(a.preset))) {
        return yield* Effect.fail(new Error("give exactly one of --init DIR or --preset NAME"))
      }
      const data = yield* parseData(a.data, a.seed)
      const gpu = yield* Gpu
      yield* Console.error(`Training on ${describeAdapter(gpu.adapter)}`)
      const started = performance.now()
      let last: { step: number; loss: number } | undefined
      yield* train({
        out: a.out,
        init,
        data,
        seqLen: a.seqLen,
        batchSize: a.batchSize,
        gradAccum: a.gradAccum,
        steps: a.steps,
        schedule: { kind: a.schedule, peak: a.lr, warmup: a.warmup, totalSteps: a.steps, decayFraction: a.decayFraction },
        optimizer: { ...smollm2AdamW, weightDecay: a.weightDecay, clip: a.clip },
        saveEvery: a.saveEvery,
        saveDtype: a.saveDtype === "f32" ? "float32" : "bfloat16",
        resume: a.resume,
        ...(Option.isSome(a.tokenizer) ? { tokenizer: a.tokenizer.value } : {})
      }).pipe(
        Stream.runForEach((m) =>
          Effect.sync(() => {
            last = m
            const eta = ((a.steps - m.step) * m.seconds).toFixed(0)
            process.stderr.write(
              `step ${m.step}/${a.steps}  loss ${m.loss.toFixed(4)}  lr ${m.lr.toExponential(2)}  grad norm ${m.gradNorm.toFixed(3)}  ` +
                `${m.tokensPerSecond.toFixed(0)} tok/s  ${m.gflopsPerSecond.toFixed(2)} GFLOP/s  ETA ${eta} s` +
                `${m.checkpoint === undefined ? "" : `  saved ${m.checkpoint}`}\n`
            )
          })
        )
      )
      const seconds = (performance.now() - started) / 1000
      yield* Console.log(
        last === undefined
          ? `Nothing to do: ${a.out} is already at step ${a.steps} or beyond.`
          : `Done: step ${last.step}, loss ${last.loss.toFixed(4)}, ${seconds.toFixed(1)} s. Metrics in ${a.out}/metrics.jsonl.`
      )
    }).pipe(Effect.provide(Gpu.layer))
).pipe(Command.withDescription("Train a Llama (SmolLM2) model on WebGPU"))

command.pipe(Command.run({ version: "0.1.0" }), Effect.provide(NodeServices.layer), NodeRuntime.runMain)
