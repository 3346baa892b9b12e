/**
 * A prompt as the command line chose it (a built-in one, or the text of a prompt file with its score pattern), in
 * a form that can be written to a sharded run's config and turned back into the same `AnnotationPrompt` by every
 * worker process. A prompt file's text is kept, not its path: a file edited while the tasks wait in a queue would
 * otherwise give ranks of one run different prompts.
 */
import { Effect, Schema } from "effect"
import { readFileSync } from "node:fs"
import * as path from "node:path"
import type { AnnotationPrompt } from "./AnnotationPrompt.ts"
import { AnnotationConfigError } from "./errors.ts"
import { builtinPrompt, builtinPromptNames, promptFromText } from "./prompts.ts"
import { isStackEduLanguage, stackEduLanguages } from "./stack-edu.ts"

export const PromptSpec = Schema.Union([
  Schema.Struct({
    kind: Schema.Literal("builtin"),
    name: Schema.Literals(builtinPromptNames),
    language: Schema.optional(Schema.String),
    maxChars: Schema.optional(Schema.Number)
  }),
  Schema.Struct({
    kind: Schema.Literal("text"),
    name: Schema.String,
    template: Schema.String,
    scorePattern: Schema.optional(Schema.String),
    maxScore: Schema.optional(Schema.Number),
    maxChars: Schema.optional(Schema.Number)
  })
])
export type PromptSpec = typeof PromptSpec.Type

/** The prompt flags of programs/annotate.ts, each given or not. */
export interface PromptFlags {
  readonly prompt?: typeof builtinPromptNames[number] | undefined
  readonly promptFile?: string | undefined
  readonly language?: string | undefined
  readonly scorePattern?: string | undefined
  readonly maxScore?: number | undefined
  readonly maxChars?: number | undefined
}

const fail = (message: string) => Effect.fail(new AnnotationConfigError({ message }))

/** The spec the flags ask for; reads the prompt file. */
export const promptSpecFromFlags = (o: PromptFlags): Effect.Effect<PromptSpec, AnnotationConfigError> =>
  Effect.gen(function*() {
    const maxChars = o.maxChars === undefined ? {} : { maxChars: o.maxChars }
    if ((o.promptFile === undefined) === (o.prompt === undefined)) return yield* fail("give exactly one of --prompt and --prompt-file")
    if (o.promptFile !== undefined) {
      const file = o.promptFile
      const template = yield* Effect.try({ try: () => readFileSync(file, "utf8"), catch: (e) => new AnnotationConfigError({ message: `${file}: ${(e as Error).message}` }) })
      return {
        kind: "text",
        name: path.basename(file).replace(/\.[^.]*$/, ""),
        template,
        ...(o.scorePattern === undefined ? {} : { scorePattern: o.scorePattern }),
        ...(o.maxScore === undefined ? {} : { maxScore: o.maxScore }),
        ...maxChars
      } as const
    }
    return { kind: "builtin", name: o.prompt!, ...(o.language === undefined ? {} : { language: o.language }), ...maxChars } as const
  })

/** The prompt of a spec, or why it cannot be one. */
export const promptOfSpec = (spec: PromptSpec): Effect.Effect<AnnotationPrompt, AnnotationConfigError> =>
  Effect.gen(function*() {
    if (spec.kind === "text") {
      let scorePattern: RegExp | undefined
      if (spec.scorePattern !== undefined) {
        const source = spec.scorePattern
        scorePattern = yield* Effect.try({ try: () => new RegExp(source), catch: (e) => new AnnotationConfigError({ message: `--score-pattern: ${(e as Error).message}` }) })
      }
      const p = promptFromText(spec.name, spec.template, { maxChars: spec.maxChars, scorePattern, maxScore: spec.maxScore })
      return "problem" in p ? yield* fail(p.problem) : p
    }
    const language = spec.language
    if (language !== undefined && !isStackEduLanguage(language)) {
      return yield* fail(`--language ${language}: not a Stack-Edu language (${Object.keys(stackEduLanguages).join(", ")})`)
    }
    const p = builtinPrompt(spec.name, { maxChars: spec.maxChars, language })
    return "problem" in p ? yield* fail(p.problem) : p
  })
