/**
 * An SFT run from its settings: a base Hugging Face folder and conversations become the trainer's options —
 * tokenizer and chat template, the ChatML ids a chat model's config takes, decontamination, packed rows written to
 * OUT/sft-rows.jsonl, and SmolLM2's defaults for what the settings leave open (notes smollm2-recipe.md §7.2, §11).
 * `programs/sft.ts train` and the full run's post-training both start here, so the two cannot drift apart.
 */
import { Effect, FileSystem, Path } from "effect"
import { writeFileAtomic } from "../data/io/atomic.ts"
import { defaultChatTemplate, loadChatTemplate } from "../data/tokenizer/chat-template.ts"
import { loadTokenizer } from "../data/tokenizer/Tokenizer.ts"
import { loadHfConfig } from "../model/checkpoint.ts"
import { parameterCount } from "../model/config.ts"
import { makeDecontaminator, readEvaluationTexts } from "./decontaminate.ts"
import { checkTrainOptions, TrainOptionsError } from "./options.ts"
import { checkRunFolder } from "./run-folder.ts"
import { packedRowJson, prepareSftData, type SftSource } from "./sft-data.ts"
import { sftAdamW, sftDefaults } from "./sft-defaults.ts"
import type { LossOn, Packing } from "./sft-packing.ts"
import type { TrainOptions } from "./trainer.ts"

/** How errors name a setting: the program's flags, or the run config's fields. */
export interface SftSettingNames {
  readonly tokenizer: string
  readonly batchSize: string
  readonly gradAccum: string
  readonly resume: string
  readonly overwrite: string
}

export const sftFlagNames: SftSettingNames = {
  tokenizer: "--tokenizer",
  batchSize: "--batch-size",
  gradAccum: "--grad-accum",
  resume: "--resume",
  overwrite: "--overwrite"
}

export interface SftRunSettings {
  /** The base model: a Hugging Face folder. */
  readonly init: string
  readonly source: SftSource
  /** The run folder: OUT/sft-rows.jsonl, OUT/checkpoints/step-N, OUT/metrics.jsonl. */
  readonly out: string
  /** A tokenizer.json (default: the one in `init`). */
  readonly tokenizer?: string | undefined
  /** A tokenizer_config.json with a chat_template, or a .jinja file (default: SmolLM2-Instruct's ChatML). */
  readonly template?: string | undefined
  readonly packing: Packing
  /** Default: every token with concat (the paper's), assistant tokens with bfd. */
  readonly loss?: LossOn | undefined
  /** Default: min(8192, the model's max_position_embeddings). */
  readonly seqLen?: number | undefined
  readonly batchSize: number
  /** Default: a global batch of 128 rows, SmolLM2's. */
  readonly gradAccum?: number | undefined
  readonly epochs: number
  /** Default: SmolLM2's for the model's size. */
  readonly lr?: number | undefined
  readonly warmupRatio: number
  readonly weightDecay: number
  readonly clip: number
  /** Read at most this many conversations, from the start. */
  readonly limit?: number | undefined
  /** Evaluation files whose 10-grams a conversation must not share. */
  readonly decontaminate: ReadonlyArray<string>
  readonly seed: number
  readonly saveEvery: number
  readonly saveDtype: "float32" | "bfloat16"
  readonly resume: boolean
  readonly overwrite: boolean
  /** Lines a person reads about the data and the plan (stderr in the program, the run's log in the full run). */
  readonly log: (line: string) => Effect.Effect<void>
  /** Default: the program's flags. */
  readonly names?: SftSettingNames
}

/** Prepares an SFT run (see the file's comment): writes OUT/sft-rows.jsonl and returns the trainer's options. */
export const prepareSftRun = (s: SftRunSettings) =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    const names = s.names ?? sftFlagNames
    yield* checkRunFolder(s.out, { resume: s.resume, overwrite: s.overwrite })
    // Only the shape and special ids are needed here; the trainer reads the weights.
    const baseConfig = yield* loadHfConfig(s.init)
    const tokenizerPath = s.tokenizer ?? path.join(s.init, "tokenizer.json")
    const t = yield* loadTokenizer(tokenizerPath)
    const chat = s.template !== undefined ? yield* loadChatTemplate(s.template) : yield* defaultChatTemplate()
    const idOf = (token: string) => {
      const id = t.tokenToId(token)
      return id === undefined
        ? Effect.fail(new TrainOptionsError({ flag: names.tokenizer, message: `${tokenizerPath} has no ${token} token, which a ChatML chat model needs` }))
        : Effect.succeed(id)
    }
    const [imStart, imEnd] = [yield* idOf("<|im_start|>"), yield* idOf("<|im_end|>")]
    // concat's separator is the base model's EOS (`<|endoftext|>` for SmolLM2), as TRL's packing appended it.
    const separator = baseConfig.eosTokenId ?? imEnd
    const defaults = sftDefaults.forParameters(parameterCount(baseConfig))
    const seqLen = s.seqLen ?? Math.min(sftDefaults.maxSeqLength, baseConfig.maxPositionEmbeddings)
    const gradAccum = s.gradAccum ?? Math.max(1, Math.ceil(sftDefaults.globalBatch / s.batchSize))
    const loss = s.loss ?? (s.packing === "concat" ? "all" as const : "assistant" as const)

    const evaluationTexts: Array<string> = []
    for (const f of s.decontaminate) evaluationTexts.push(...(yield* readEvaluationTexts(f)))
    const decontaminator = s.decontaminate.length === 0 ? undefined : makeDecontaminator(evaluationTexts)
    const data = yield* prepareSftData({
      source: s.source, tokenizer: t, template: chat, packing: s.packing, loss, rowLength: seqLen + 1, separator,
      epochs: s.epochs, seed: s.seed, ...(decontaminator === undefined ? {} : { decontaminator }), ...(s.limit === undefined ? {} : { limit: s.limit })
    })
    if (decontaminator !== undefined) {
      yield* s.log(
        `Decontamination: dropped ${data.contaminated} of ${data.conversations} conversations sharing a 10-gram with ` +
          `${s.decontaminate.join(", ")} (${decontaminator.ngrams} distinct 10-grams)`
      )
    }
    yield* s.log(
      `${data.conversations - data.contaminated} conversations, ${data.tokens} tokens → ${data.rowsPerEpoch} rows of ${seqLen + 1} ` +
        `(${s.packing}, loss on ${loss === "all" ? "every token" : "assistant tokens"}: ${data.targets} targets per epoch), ${s.epochs} epoch(s)`
    )
    const rowsFile = path.join(s.out, "sft-rows.jsonl")
    const rowsText = data.rows.map((r) => packedRowJson(r) + "\n").join("")
    // A resumed run must see the rows it started with: the same inputs and settings give the same bytes.
    if (s.resume && (yield* fs.exists(rowsFile)) && (yield* fs.readFileString(rowsFile)) !== rowsText) {
      return yield* new TrainOptionsError({
        flag: names.resume,
        message: `${rowsFile} differs from the rows these inputs and settings give; resume with the run's own inputs, or ${names.overwrite}`
      })
    }
    yield* fs.makeDirectory(s.out, { recursive: true })
    yield* writeFileAtomic(rowsFile, rowsText)
    const steps = Math.floor(data.rows.length / (s.batchSize * gradAccum))
    if (steps === 0) {
      return yield* new TrainOptionsError({
        flag: names.gradAccum,
        message: `${data.rows.length} rows over ${s.epochs} epoch(s) do not fill one step of ${s.batchSize}×${gradAccum} rows; lower ${names.batchSize} or ${names.gradAccum}`
      })
    }
    const options: TrainOptions = {
      out: s.out,
      init: { _tag: "HfFolder", dir: s.init, specialTokenIds: { bosTokenId: imStart, eosTokenId: imEnd } },
      data: { _tag: "IdsJsonl", path: rowsFile },
      seqLen,
      batchSize: s.batchSize,
      gradAccum,
      steps,
      schedule: { kind: "cosine", peak: s.lr ?? defaults.lr, warmup: Math.ceil(steps * s.warmupRatio), totalSteps: steps, decayFraction: 0 },
      optimizer: { ...sftAdamW, weightDecay: s.weightDecay, clip: s.clip },
      saveEvery: s.saveEvery,
      saveDtype: s.saveDtype,
      resume: s.resume,
      overwrite: s.overwrite,
      tokenizer: tokenizerPath,
      chatTemplate: chat.source
    }
    yield* checkTrainOptions(options)
    yield* s.log(`${steps} steps of ${s.batchSize}×${gradAccum} rows, lr ${options.schedule.peak} cosine, warmup ${options.schedule.warmup}`)
    return options
  })
