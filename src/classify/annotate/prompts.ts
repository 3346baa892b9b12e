/**
 * The annotation prompts of the SmolLM2 recipe, word for word (sources in `../shared/notes/smollm2-recipe.md`):
 * FineWeb-Edu's additive 5-point prompt (§4, the HuggingFaceFW/fineweb-edu-classifier card), Stack-Edu's
 * per-language prompt (§5, [P] App. D.1) and FineMath's 3- and 5-point prompts (§6.4, [P] App. C.2–C.3).
 * Each keeps its original placeholder (`{text}`, `<EXAMPLE>`, `<EXTRACT>`) so it can be diffed against the source.
 */
import { educationalScorePattern, finalScorePattern, makePrompt, type AnnotationPrompt, type PromptOptions, type PromptTemplate } from "./AnnotationPrompt.ts"
import { stackEduTemplate, type StackEduLanguage } from "./stack-edu.ts"

export const fineWebEduTemplate: PromptTemplate = {
  name: "fineweb-edu",
  placeholder: "{text}",
  scorePattern: educationalScorePattern,
  maxScore: 5,
  template: `Below is an extract from a web page. Evaluate whether the page has a high educational value and could be useful in an educational setting for teaching from primary school to grade school levels using the additive 5-point scoring system described below. Points are accumulated based on the satisfaction of each criterion:

- Add 1 point if the extract provides some basic information relevant to educational topics, even if it includes some irrelevant or non-academic content like advertisements and promotional material.
- Add another point if the extract addresses certain elements pertinent to education but does not align closely with educational standards. It might mix educational content with non-educational material, offering a superficial overview of potentially useful topics, or presenting information in a disorganized manner and incoherent writing style.
- Award a third point if the extract is appropriate for educational use and introduces key concepts relevant to school curricula. It is coherent though it may not be comprehensive or could include some extraneous information. It may resemble an introductory section of a textbook or a basic tutorial that is suitable for learning but has notable limitations like treating concepts that are too complex for grade school students.
- Grant a fourth point if the extract highly relevant and beneficial for educational purposes for a level not higher than grade school, exhibiting a clear and consistent writing style. It could be similar to a chapter from a textbook or a tutorial, offering substantial educational content, including exercises and solutions, with minimal irrelevant information, and the concepts aren't too advanced for grade school students. The content is coherent, focused, and valuable for structured learning.
- Bestow a fifth point if the extract is outstanding in its educational value, perfectly suited for teaching either at primary school or grade school. It follows detailed reasoning, the writing style is easy to follow and offers profound and thorough insights into the subject matter, devoid of any non-educational or complex content.

The extract: {text}.

After examining the extract:
- Briefly justify your total score, up to 100 words.
- Conclude with the score using the format: "Educational score: <total points>"`
}

export const fineMath3Template: PromptTemplate = {
  name: "finemath-3",
  placeholder: "<EXTRACT>",
  scorePattern: finalScorePattern,
  maxScore: 3,
  template: `Evaluate the following text extract for its potential usefulness for studying mathematics up to high school and early undergraduate levels. Use the following 3-point scoring system described below. Points are accumulated based on the satisfaction of each criterion:
- Add 1 point if the extract contains some mathematical content, even if it's not very useful for studying or is an academic paper that is too advanced.
- Add another point if the extract demonstrates logical reasoning in a mathematical context, even if it lacks step-by-step explanations or is too advanced.
- Award a third point if the extract is at an appropriate level (up to high school and early undergraduate levels) and contains clear mathematical deductions and step-by-step solutions to mathematical problems.
Question-answer formats (e.g., from educational websites or forums) are acceptable if they meet the criteria. Ignore any formatting errors or missing equations and make assumptions based on the overall content.
The text extract:
<EXTRACT>
After examining the extract:
- Briefly justify your total score, up to 100 words.
- Conclude with the score using the format: "Final score: <total points>".`
}

export const fineMath5Template: PromptTemplate = {
  name: "finemath-5",
  placeholder: "<EXTRACT>",
  scorePattern: finalScorePattern,
  maxScore: 5,
  template: `Evaluate the following text extract for its potential usefulness for studying mathematics up to high school and early undergraduate levels. Use the following 5-point scoring system described below. Points are accumulated based on the satisfaction of each criterion:
- Add 1 point if the extract contains some mathematical content, even if it's not very useful for studying, or if it contains non-academic content such as advertisements and generated pages for converting weight and currencies.
- Add another point if the extract touches on mathematical topics, even if it's poorly written if it's too complex such as an academic paper that is too advanced.
- Award a third point if the extract demonstrates problem solving or logical reasoning in a mathematical context, even if it lacks step-by-step explanations.
- Grant a fourth point if the extract is at an appropriate level (up to high school and early undergraduate levels) and contains clear mathematical deductions and step-by-step solutions to mathematical problems. It should be similar to a chapter from a textbook or a tutorial.
- Give a fifth point if the extract is outstanding in its educational value for teaching and studying mathematics in middle school and high school. It should include very detailed and easy to follow explanations.
Question-answer formats (e.g., from educational websites or forums) are acceptable if they meet the criteria.
The text extract:
<EXTRACT>
After examining the extract:
- Briefly justify your total score, up to 100 words.
- Conclude with the score using the format: Final score: <total points>.`
}

export const builtinPromptNames = ["fineweb-edu", "stack-edu", "finemath-3", "finemath-5"] as const
export type BuiltinPromptName = typeof builtinPromptNames[number]

/** A built-in prompt; `stack-edu` needs its language. */
export const builtinPrompt = (
  name: BuiltinPromptName,
  options: PromptOptions & { readonly language?: StackEduLanguage | undefined } = {}
): AnnotationPrompt | { readonly problem: string } => {
  switch (name) {
    case "fineweb-edu":
      return makePrompt(fineWebEduTemplate, options)
    case "finemath-3":
      return makePrompt(fineMath3Template, options)
    case "finemath-5":
      return makePrompt(fineMath5Template, options)
    case "stack-edu":
      return options.language === undefined
        ? { problem: "--prompt stack-edu needs --language (one of the 15 Stack-Edu languages)" }
        : makePrompt(stackEduTemplate(options.language), options)
  }
}

/**
 * A prompt from a file with a `{text}` placeholder. The score is read with `scorePattern` (default: either
 * "Educational score: N" or "Final score: N", the two formats of the recipe's prompts).
 */
export const promptFromText = (
  name: string,
  template: string,
  options: PromptOptions & { readonly scorePattern?: RegExp | undefined; readonly maxScore?: number | undefined } = {}
): AnnotationPrompt | { readonly problem: string } => {
  if (!template.includes("{text}")) return { problem: `${name}: the prompt has no {text} placeholder` }
  const scorePattern = options.scorePattern ?? /(?:Educational|Final) score:\s*(\d+)/
  // Count groups by matching the empty string against `pattern|` (every group is then undefined but present).
  if (new RegExp(`${scorePattern.source}|`).exec("")!.length < 2) return { problem: `score pattern /${scorePattern.source}/ has no capturing group for the score` }
  return makePrompt({ name, template, placeholder: "{text}", scorePattern, maxScore: options.maxScore ?? 5 }, options)
}
