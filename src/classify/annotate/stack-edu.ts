import { educationalScorePattern, type PromptTemplate } from "./AnnotationPrompt.ts"

/**
 * Stack-Edu's 15 languages ([P] §3.4, Table 7: the 15 largest of StarCoder2Data) and the per-language prompt.
 *
 * The paper prints the Python prompt (App. D.1) and says the other 14 swap the example of an advanced topic in
 * the third criterion, naming JavaScript's ("asynchronous programming"). Only those two examples are published;
 * the other 13 below are ours, chosen as an advanced topic of each language. The rest of the text is the
 * Python prompt with the language's name in place of "Python".
 */
export const stackEduLanguages = {
  python: { display: "Python", advancedTopic: "deep learning" }, // [P] App. D.1
  javascript: { display: "JavaScript", advancedTopic: "asynchronous programming" }, // [P] App. D.1
  cpp: { display: "C++", advancedTopic: "template metaprogramming" },
  markdown: { display: "Markdown", advancedTopic: "complex table layouts" },
  c: { display: "C", advancedTopic: "pointer arithmetic" },
  java: { display: "Java", advancedTopic: "multithreading" },
  sql: { display: "SQL", advancedTopic: "window functions" },
  php: { display: "PHP", advancedTopic: "database access" },
  csharp: { display: "C#", advancedTopic: "LINQ" },
  typescript: { display: "TypeScript", advancedTopic: "generic types" },
  shell: { display: "Shell", advancedTopic: "process substitution" },
  swift: { display: "Swift", advancedTopic: "protocol-oriented programming" },
  go: { display: "Go", advancedTopic: "goroutines and channels" },
  rust: { display: "Rust", advancedTopic: "ownership and lifetimes" },
  ruby: { display: "Ruby", advancedTopic: "metaprogramming" }
} as const

export type StackEduLanguage = keyof typeof stackEduLanguages

export const isStackEduLanguage = (s: string): s is StackEduLanguage => Object.hasOwn(stackEduLanguages, s)

export const stackEduTemplate = (language: StackEduLanguage): PromptTemplate => {
  const { display, advancedTopic } = stackEduLanguages[language]
  return {
    name: `stack-edu-${language}`,
    placeholder: "<EXAMPLE>",
    scorePattern: educationalScorePattern,
    maxScore: 5,
    template: `Below is an extract from a ${display} program. Evaluate whether it has a high educational value and could help teach coding. Use the additive 5-point scoring system described below. Points are accumulated based on the satisfaction of each criterion:
- Add 1 point if the program contains valid ${display} code, even if it's not educational, like boilerplate code, configs, and niche concepts.
- Add another point if the program addresses practical concepts, even if it lacks comments.
- Award a third point if the program is suitable for educational use and introduces key concepts in programming, even if the topic is advanced (e.g., ${advancedTopic}). The code should be well-structured and contain some comments.
- Give a fourth point if the program is self-contained and highly relevant to teaching programming. It should be similar to a school exercise, a tutorial, or a ${display} course section.
- Grant a fifth point if the program is outstanding in its educational value and is perfectly suited for teaching programming. It should be well-written, easy to understand, and contain step-by-step explanations and comments.
The extract: <EXAMPLE>
After examining the extract:
- Briefly justify your total score, up to 100 words.
- Conclude with the score using the format: "Educational score: <total points>"`
  }
}
