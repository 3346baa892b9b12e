/**
 * A DPO run from its settings: a chat model's Hugging Face folder and preference pairs become `trainDpo`'s options —
 * tokenizer and chat template, the pairs tokenized and truncated as TRL does, and SmolLM2's defaults for what the
 * settings leave open (notes smollm2-recipe.md §7.3, §11). `programs/dpo.ts` and the full run's post-training both
 * start here.
 */
import { Effect, Path } from "effect"
import { defaultChatTemplate, loadChatTemplate } from "../data/tokenizer/chat-template.ts"
import { loadTokenizer } from "../data/tokenizer/Tokenizer.ts"
import { type DpoOptions, dpoSchedule, dpoSteps } from "./dpo.ts"
import { type DpoExample, readPreferencePairs } from "./dpo-data.ts"
import { checkRunFolder } from "./run-folder.ts"
import { sftAdamW } from "./sft-defaults.ts"

/** The handbook's global batch: 8 devices × 2 pairs × accumulation 8. */
export const dpoGlobalBatch = 128

export interface DpoRunSettings {
  /** The policy and reference model: a Hugging Face folder. */
  readonly init: string
  /** Preference-pair files, read in order as one set. */
  readonly inputs: ReadonlyArray<string>
  readonly out: string
  /** A tokenizer.json (default: the one in `init`). */
  readonly tokenizer?: string | undefined
  /** A tokenizer_config.json with a chat_template, or a .jinja file (default: SmolLM2-Instruct's ChatML). */
  readonly template?: string | undefined
  readonly beta: number
  readonly lr: number
  readonly warmupRatio: number
  readonly epochs: number
  /** Pairs per micro-batch. */
  readonly batchSize: number
  /** Default: a global batch of `dpoGlobalBatch` pairs. */
  readonly gradAccum?: number | undefined
  readonly maxLength: number
  readonly maxPromptLength: number
  readonly seed: number
  readonly weightDecay: number
  readonly clip: number
  readonly saveEvery: number
  readonly saveDtype: "float32" | "bfloat16"
  readonly resume: boolean
  readonly overwrite: boolean
  /** Lines a person reads about the data and the plan. */
  readonly log: (line: string) => Effect.Effect<void>
}

/** Prepares a DPO run (see the file's comment): the options of `trainDpo` and its step count. */
export const prepareDpoRun = (s: DpoRunSettings) =>
  Effect.gen(function*() {
    const path = yield* Path.Path
    yield* checkRunFolder(s.out, { resume: s.resume, overwrite: s.overwrite })
    const tokenizerPath = s.tokenizer ?? path.join(s.init, "tokenizer.json")
    const t = yield* loadTokenizer(tokenizerPath)
    const chat = s.template !== undefined ? yield* loadChatTemplate(s.template) : yield* defaultChatTemplate()
    const pairs: Array<DpoExample> = []
    for (const input of s.inputs) pairs.push(...(yield* readPreferencePairs(input, chat, t, { maxLength: s.maxLength, maxPromptLength: s.maxPromptLength })))
    const tokens = pairs.reduce((sum, p) => sum + 2 * p.prompt.length + p.chosen.length + p.rejected.length, 0)
    const options: DpoOptions = {
      out: s.out, init: { _tag: "HfFolder", dir: s.init }, pairs, pairsFile: s.inputs.join(","), beta: s.beta,
      pairsPerBatch: s.batchSize, gradAccum: s.gradAccum ?? Math.max(1, Math.ceil(dpoGlobalBatch / s.batchSize)),
      epochs: s.epochs, seed: s.seed, lr: s.lr, warmupRatio: s.warmupRatio, optimizer: { ...sftAdamW, weightDecay: s.weightDecay, clip: s.clip },
      saveEvery: s.saveEvery, saveDtype: s.saveDtype, resume: s.resume, overwrite: s.overwrite,
      tokenizer: tokenizerPath, chatTemplate: chat.source
    }
    const steps = dpoSteps(options)
    yield* s.log(
      `${pairs.length} pairs (${tokens} tokens) with ${chat.name}; ${steps} steps of ${options.pairsPerBatch}×${options.gradAccum} pairs, ` +
        `β ${s.beta}, lr ${s.lr} cosine, warmup ${dpoSchedule(options).warmup}`
    )
    return { options, steps }
  })
