/**
 * Supervised fine-tuning from the command line (issue 12).
 *
 *   npx tsx programs/sft.ts prepare --tokenizer tokenizer.json --input chats.jsonl --output rows.jsonl \
 *     [--template tokenizer_config.json | chat_template.jinja] [--format auto|messages|sharegpt|alpaca] [--end-of-turn "<|im_end|>"]
 *
 * `prepare` writes one line per conversation, in input order: `{"id", "text", "ids", "mask"}`, the rendered chat,
 * its ids (HF-exact, as `apply_chat_template(tokenize=True)`), and 1 for each token the loss is taken on (assistant
 * contents and their closing `<|im_end|>`). It is the inspectable form of what training sees. Inputs: SmolTalk
 * `messages`, ShareGPT `conversations` or Alpaca records, as JSONL, a JSON array or Parquet; a bad record stops the
 * run with its file and line (or Parquet row), an input with no conversations stops it naming the file (for `train`
 * too), and the output is written through a temporary file, so a failed run leaves none.
 *
 *   npx tsx programs/sft.ts train --init base-model/ --input chats.jsonl --out runs/sft \
 *     [--packing concat|bfd] [--loss assistant|all] [--epochs 2] [--lr …] [--decontaminate humaneval.jsonl,ifeval.jsonl]
 *
 * `train` fine-tunes a Hugging Face checkpoint on conversations (or `--prepared` rows): decontaminated against the
 * evaluation texts given, rendered and tokenized with the tokenizer of `--init` (or `--tokenizer`), packed into rows
 * of seq_len + 1 (OUT/sft-rows.jsonl, every epoch in training order), then trained with the trainer (cosine schedule,
 * warmup ratio 0.1) into OUT/checkpoints/step-N, each a chat model: config BOS/EOS `<|im_start|>`/`<|im_end|>`, and
 * the chat template in `tokenizer_config.json`. Defaults are SmolLM2's SFT (notes smollm2-recipe.md §7.2, §11).
 */
import { Console, Effect, Option, Stream } from "effect"
import { Command, Flag } from "effect/cli"
import { atLeast, defaulting, fraction, nonNegative, positive, runMain } from "../src/cli/program.ts"
import { makeProgress, type Report } from "../src/data/progress/Progress.ts"
import { describeAdapter } from "../src/gpu/adapter.ts"
import { Gpu } from "../src/gpu/Gpu.ts"
import { TrainOptionsError } from "../src/train/options.ts"
import type { SftSource } from "../src/train/sft-data.ts"
import { sftAdamW, sftDefaults } from "../src/train/sft-defaults.ts"
import { prepareSftRun } from "../src/train/sft-run.ts"
import { stepFields } from "../src/train/step-log.ts"
import { train as runTrainer, type TrainOptions } from "../src/train/trainer.ts"
import { writeLinesAtomic } from "../src/data/io/jsonl.ts"
import { defaultChatTemplate, loadChatTemplate } from "../src/data/tokenizer/chat-template.ts"
import { conversationError, noConversations, readConversations } from "../src/data/tokenizer/conversations.ts"
import { CHATML_END_OF_TURN, sftExampleLine, tokenizeConversation } from "../src/data/tokenizer/sft-example.ts"
import { loadTokenizer } from "../src/data/tokenizer/Tokenizer.ts"

const prepare = Command.make(
  "prepare",
  {
    tokenizer: Flag.String("tokenizer").pipe(Flag.withDescription("A Hugging Face tokenizer.json (byte-level BPE)")),
    input: Flag.String("input").pipe(Flag.withDescription("Conversations: .jsonl, .json (array or JSON Lines) or .parquet")),
    output: Flag.String("output").pipe(Flag.withDescription("JSONL with {\"id\", \"text\", \"ids\", \"mask\"} per conversation, same order")),
    template: Flag.String("template").pipe(
      Flag.withDescription("A tokenizer_config.json with a chat_template, or a .jinja file (default: SmolLM2-Instruct's ChatML template)"),
      Flag.optional
    ),
    format: Flag.Literals("format", ["auto", "messages", "sharegpt", "alpaca"]).pipe(
      Flag.withDescription("Record layout; auto decides from the first record's fields"),
      Flag.withDefault("auto")
    ),
    endOfTurn: Flag.String("end-of-turn").pipe(
      Flag.withDescription("Marker closing an assistant turn, trained on with it (\"\" for none)"),
      Flag.withDefault(CHATML_END_OF_TURN)
    )
  },
  ({ tokenizer, input, output, template, format, endOfTurn }) =>
    Effect.gen(function*() {
      const t = yield* loadTokenizer(tokenizer)
      const chat = Option.isSome(template) ? yield* loadChatTemplate(template.value) : yield* defaultChatTemplate()
      const started = performance.now()
      let conversationsRead = 0
      let tokens = 0
      let targets = 0
      const lines = readConversations(input, { format }).pipe(
        Stream.mapEffect(({ conversation, location }) =>
          tokenizeConversation(chat, t, conversation, { endOfTurn }).pipe(
            // The record's place goes into the message: the template or tokenizer problem is about this record.
            Effect.mapError((e) => conversationError(input, location, e.message, e))
          )
        ),
        Stream.tap((e) =>
          Effect.sync(() => {
            conversationsRead++
            tokens += e.ids.length
            for (const m of e.mask) targets += m
          })
        ),
        Stream.map(sftExampleLine),
        // Failing inside the stream leaves no output file: an empty one would read as a finished, empty dataset.
        Stream.concat(Stream.suspend(() => conversationsRead === 0 ? Stream.fail(noConversations(input)) : Stream.empty))
      )
      const count = yield* writeLinesAtomic(output, lines)
      const seconds = (performance.now() - started) / 1000
      const share = tokens === 0 ? 0 : (100 * targets) / tokens
      yield* Console.error(
        `${count} conversations, ${tokens} tokens, ${targets} targets (${share.toFixed(1)}%) with ${chat.name} in ${seconds.toFixed(2)} s → ${output}`
      )
    }).pipe(Effect.scoped)
).pipe(Command.withDescription("Render conversations with a chat template and write their ids and assistant-only loss masks"))

const train = Command.make(
  "train",
  {
    init: Flag.String("init").pipe(Flag.withDescription("The base model: a Hugging Face folder (config.json, model.safetensors, tokenizer.json) (required)")),
    input: Flag.String("input").pipe(Flag.withDescription("Conversations: .jsonl, .json or .parquet (give this or --prepared)"), Flag.optional),
    prepared: Flag.String("prepared").pipe(Flag.withDescription("Rows written by `sft.ts prepare` (give this or --input)"), Flag.optional),
    out: Flag.String("out").pipe(Flag.withDescription("The run's folder: OUT/sft-rows.jsonl, OUT/checkpoints/step-N, OUT/metrics.jsonl (required)")),
    tokenizer: Flag.String("tokenizer").pipe(Flag.withDescription("A tokenizer.json (default: the one in --init)"), Flag.optional),
    template: Flag.String("template").pipe(
      Flag.withDescription("A tokenizer_config.json with a chat_template, or a .jinja file (default: SmolLM2-Instruct's ChatML template)"),
      Flag.optional
    ),
    format: Flag.Literals("format", ["auto", "messages", "sharegpt", "alpaca"]).pipe(defaulting("auto", "Record layout of --input")),
    packing: Flag.Literals("packing", ["concat", "bfd"]).pipe(
      defaulting("concat", "concat: the paper's (EOS between conversations, exact rows, attention across them); bfd: best-fit decreasing, attention within each conversation")
    ),
    loss: Flag.Literals("loss", ["assistant", "all"]).pipe(
      Flag.withDescription("Targets of the loss: assistant tokens (the masks) or every token (default: all with concat, as the paper; assistant with bfd)"),
      Flag.optional
    ),
    seqLen: Flag.Int("seq-len").pipe(atLeast(1), Flag.withDescription("Tokens each position sees (default: min(8192, the model's max_position_embeddings))"), Flag.optional),
    batchSize: Flag.Int("batch-size").pipe(atLeast(1), defaulting(4, "Rows per micro-batch (SmolLM2: 4 per device)")),
    gradAccum: Flag.Int("grad-accum").pipe(atLeast(1), Flag.withDescription("Micro-batches per optimizer step (default: a global batch of 128 rows, SmolLM2's)"), Flag.optional),
    epochs: Flag.Int("epochs").pipe(atLeast(1), defaulting(sftDefaults.epochs, "Passes over the rows (SmolLM2: 2)")),
    lr: Flag.Finite("lr").pipe(positive, Flag.withDescription("Peak learning rate (default: SmolLM2's, 1e-3 below 1B parameters, 3e-4 for 1.7B)"), Flag.optional),
    warmupRatio: Flag.Finite("warmup-ratio").pipe(fraction, defaulting(sftDefaults.warmupRatio, "Warmup steps as a fraction of the run (rounded up), then cosine to 0")),
    weightDecay: Flag.Finite("weight-decay").pipe(nonNegative, defaulting(sftAdamW.weightDecay, "AdamW weight decay (transformers' default)")),
    clip: Flag.Finite("clip").pipe(nonNegative, defaulting(sftAdamW.clip, "Global gradient-norm clipping (0: off)")),
    decontaminate: Flag.String("decontaminate").pipe(
      Flag.withDescription("Comma-separated evaluation files (.jsonl/.json: every string; else the whole text): drop conversations sharing a 10-gram with them"),
      Flag.optional
    ),
    seed: Flag.Int("seed").pipe(defaulting(sftDefaults.seed, "Seed of the epochs' shuffles")),
    saveEvery: Flag.Int("save-every").pipe(atLeast(0), defaulting(0, "Checkpoint every N steps (0: only at the end)")),
    saveDtype: Flag.Literals("save-dtype", ["f32", "bf16"]).pipe(defaulting("f32", "Weights in model.safetensors (the trainer state keeps f32 either way)")),
    resume: Flag.Boolean("resume").pipe(defaulting(false, "Continue from the newest checkpoint in --out", "off")),
    overwrite: Flag.Boolean("overwrite").pipe(defaulting(false, "Delete the checkpoints and metrics already in --out first", "off"))
  },
  (a) =>
    Effect.gen(function*() {
      if (Option.isSome(a.input) === Option.isSome(a.prepared)) {
        return yield* new TrainOptionsError({ flag: "--input/--prepared", message: "give exactly one of --input FILE or --prepared FILE" })
      }
      const source: SftSource = Option.isSome(a.input)
        ? { _tag: "Conversations", path: a.input.value, format: a.format }
        : { _tag: "Prepared", path: Option.getOrThrow(a.prepared) }
      const optional = <A>(o: Option.Option<A>) => Option.getOrUndefined(o)
      const options = yield* prepareSftRun({
        init: a.init, source, out: a.out, tokenizer: optional(a.tokenizer), template: optional(a.template), packing: a.packing,
        loss: optional(a.loss), seqLen: optional(a.seqLen), batchSize: a.batchSize, gradAccum: optional(a.gradAccum), epochs: a.epochs,
        lr: optional(a.lr), warmupRatio: a.warmupRatio, weightDecay: a.weightDecay, clip: a.clip,
        decontaminate: Option.match(a.decontaminate, { onNone: () => [], onSome: (v) => v.split(",").filter((f) => f.length > 0) }),
        seed: a.seed, saveEvery: a.saveEvery, saveDtype: a.saveDtype === "f32" ? "float32" : "bfloat16", resume: a.resume, overwrite: a.overwrite,
        log: (line) => Console.error(line)
      })
      yield* runSft(options).pipe(Effect.provide(Gpu.layer))
    }).pipe(Effect.scoped)
).pipe(Command.withDescription("Fine-tune a base checkpoint on conversations into a chat model (packed rows, loss masks, cosine schedule)"))

/** The trainer's steps as a progress line on stderr, a summary on stdout. */
const runSft = (options: TrainOptions) =>
  Effect.gen(function*() {
    const gpu = yield* Gpu
    yield* Console.error(`Training on ${describeAdapter(gpu.adapter)}`)
    const progress = makeProgress()
    const task = progress.task("sft", { unit: "steps", rateUnit: null })
    let report: Report | undefined
    let last: { step: number; loss: number } | undefined
    yield* runTrainer(options).pipe(
      Stream.runForEach((m) =>
        Effect.sync(() => {
          last = m
          report = { done: m.step, total: options.steps, fields: stepFields(m) }
          if (m.step >= options.steps) task.finish(report)
          else task.update(report)
          if (m.checkpoint !== undefined) progress.log(`step ${m.step}: saved ${m.checkpoint}`)
        })
      ),
      Effect.ensuring(Effect.sync(() => report !== undefined && task.finish(report)))
    )
    yield* Console.log(last === undefined
      ? `Nothing to do: ${options.out} is already at step ${options.steps}.`
      : `Done: step ${last.step}, loss ${last.loss.toFixed(4)}. Metrics in ${options.out}/metrics.jsonl.`)
  })

Command.make("sft").pipe(
  Command.withDescription("Supervised fine-tuning: prepare conversations, train a chat model"),
  Command.withSubcommands([prepare, train]),
  Command.run({ version: "0.1.0" }),
  runMain
)
