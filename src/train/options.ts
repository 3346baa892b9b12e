/**
 * What a training run is asked to do, and the checks it passes before any work: a bad number names the flag that
 * set it (each option here is one flag of programs/train.ts), instead of failing later inside the GPU layer or,
 * worse, training with it (a negative learning rate trains, just backwards).
 */
import { Effect, Schema } from "effect"
import type { LlamaConfig } from "../model/config.ts"
import type { TrainingData } from "./data.ts"
import type { AdamWOptions } from "./optimizer.ts"
import type { ScheduleOptions } from "./schedule.ts"

export type ModelInit =
  | { readonly _tag: "Config"; readonly config: LlamaConfig; readonly seed: number }
  | {
    readonly _tag: "HfFolder"
    readonly dir: string
    /**
     * BOS/EOS ids to give the model's config instead of the folder's: SFT makes a base model a chat model, whose
     * turns begin with `<|im_start|>` and end with `<|im_end|>` (SmolLM2-Instruct's config.json: 1 and 2).
     */
    readonly specialTokenIds?: { readonly bosTokenId: number | null; readonly eosTokenId: number | null }
  }

export interface TrainOptions {
  readonly out: string
  readonly init: ModelInit
  readonly data: TrainingData
  readonly seqLen: number
  readonly batchSize: number
  readonly gradAccum: number
  /** Optimizer steps of the whole run. */
  readonly steps: number
  readonly schedule: ScheduleOptions
  readonly optimizer: AdamWOptions
  /** Checkpoint every N steps (0: only at the end). */
  readonly saveEvery: number
  readonly saveDtype: "float32" | "bfloat16"
  /** Continue from the newest checkpoint in `out` if there is one. */
  readonly resume: boolean
  /** Delete the checkpoints and metrics already in `out` first (without it, or `resume`, such a folder is refused). */
  readonly overwrite?: boolean
  /**
   * A `tokenizer.json` to put in every checkpoint, byte for byte, with the `tokenizer_config.json` and
   * `special_tokens_map.json` that `AutoTokenizer.from_pretrained` needs (checked against the model config before
   * the first step). Unset, a resumed run keeps the tokenizer of the checkpoint it resumes from, if that has one.
   */
  readonly tokenizer?: string
  /** A chat model's template, put into every checkpoint's `tokenizer_config.json` (with `tokenizer`). */
  readonly chatTemplate?: string
  /** Split tensors larger than this across bindings (default: the device's limit); tests lower it. */
  readonly maxBindingBytes?: number
}

export class TrainOptionsError extends Schema.TaggedError<TrainOptionsError>()("TrainOptionsError", {
  /** The command-line flag of the option, e.g. "--seq-len". */
  flag: Schema.String,
  message: Schema.String
}) {}

/** What a number must be; the program checks its flags with the same rules when it parses them. */
export interface NumberRule {
  readonly holds: (n: number) => boolean
  /** Completes "expected …". */
  readonly expected: string
}

export const positiveInteger: NumberRule = { holds: (n) => Number.isSafeInteger(n) && n > 0, expected: "an integer ≥ 1" }
export const nonNegativeInteger: NumberRule = { holds: (n) => Number.isSafeInteger(n) && n >= 0, expected: "an integer ≥ 0" }
export const positive: NumberRule = { holds: (n) => Number.isFinite(n) && n > 0, expected: "a number > 0" }
export const nonNegative: NumberRule = { holds: (n) => Number.isFinite(n) && n >= 0, expected: "a number ≥ 0" }
export const fraction: NumberRule = { holds: (n) => Number.isFinite(n) && n >= 0 && n <= 1, expected: "a fraction between 0 and 1" }

/** Each number of a run, the flag that sets it and its rule. */
const numbersOf = (o: TrainOptions): ReadonlyArray<readonly [flag: string, value: number, rule: NumberRule]> => [
  ["--seq-len", o.seqLen, positiveInteger],
  ["--batch-size", o.batchSize, positiveInteger],
  ["--grad-accum", o.gradAccum, positiveInteger],
  ["--steps", o.steps, positiveInteger],
  ["--lr", o.schedule.peak, positive],
  ["--warmup", o.schedule.warmup, nonNegativeInteger],
  ["--decay-fraction", o.schedule.decayFraction, fraction],
  ["--weight-decay", o.optimizer.weightDecay, nonNegative],
  ["--clip", o.optimizer.clip, nonNegative],
  ["--save-every", o.saveEvery, nonNegativeInteger]
]

/** Fails with the first option that cannot run, naming its flag. */
export const checkTrainOptions = (o: TrainOptions): Effect.Effect<void, TrainOptionsError> => {
  const bad = numbersOf(o).find(([, value, rule]) => !rule.holds(value))
  if (bad !== undefined) {
    const [flag, value, rule] = bad
    return Effect.fail(new TrainOptionsError({ flag, message: `${flag} ${value}: expected ${rule.expected}` }))
  }
  if (o.resume && o.overwrite === true) {
    return Effect.fail(new TrainOptionsError({ flag: "--overwrite", message: "--resume continues the run in --out and --overwrite deletes it: give one of them" }))
  }
  return Effect.void
}

/** SmolLM2's warmup (2000 steps), shortened to a tenth of a run too short for it. */
export const defaultWarmup = (steps: number): number => Math.min(2000, Math.floor(steps / 10))

/** Schedules that run but not as meant: said before the first step, not discovered in the loss curve. */
export const scheduleWarnings = (s: ScheduleOptions): ReadonlyArray<string> => {
  if (s.warmup >= s.totalSteps) {
    return [`--warmup ${s.warmup} is not below --steps ${s.totalSteps}: the run never leaves warmup and never trains at --lr ${s.peak}`]
  }
  const decayStart = s.totalSteps - Math.round(s.totalSteps * s.decayFraction)
  if (s.kind === "wsd" && s.warmup > decayStart) {
    return [`--warmup ${s.warmup} runs into the decay, which starts at step ${decayStart} (--decay-fraction ${s.decayFraction}): the run never trains at --lr ${s.peak}`]
  }
  return []
}
