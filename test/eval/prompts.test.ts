import { describe, expect, it } from "@effect/vitest"
import { fewshotContext } from "../../src/eval/evaluate.ts"
import * as P from "../../src/eval/prompts.ts"

// Expected strings written from lighteval @ ea46419 default_prompts.py and smollm2/tasks.py by hand.
describe("lighteval prompt functions", () => {
  it("ARC: 'Question: …\\nAnswer:' with space-prefixed choices, gold by label", () => {
    const d = P.arc({ question: "Which is a gas?", choices: { text: ["ice", "steam"], label: ["1", "2"] }, answerKey: "2" })
    expect(d).toEqual({ query: "Question: Which is a gas?\nAnswer:", choices: [" ice", " steam"], gold: [1], instruction: "" })
  })

  it("HellaSwag (SmolLM2's): capitalize() lowercases the rest, [title] becomes '. ', brackets go, endings get a space", () => {
    const d = P.hellaswag({
      activity_label: "Cooking",
      ctx_a: "Preheat the oven. [title] Mix the Flour.",
      ctx_b: "then THE cook",
      endings: ["adds [step] eggs.", "leaves  the room."],
      label: "1"
    })
    expect(d.query).toBe("Cooking: Preheat the oven.. Mix the Flour. Then the cook ")
    expect(d.choices).toEqual([" adds eggs.", " leaves the room."])
    expect(d.gold).toEqual([1])
  })

  it("PIQA, OpenBookQA and CommonsenseQA cloze forms", () => {
    expect(P.piqa({ goal: "Open a jar", sol1: "twist", sol2: "pull", label: 1 })).toMatchObject({
      query: "Question: Open a jar\nAnswer:", choices: [" twist", " pull"], gold: [1]
    })
    expect(P.openbookqa({ question_stem: "Fog forms near", choices: { text: ["a marsh", "a desert"], label: ["A", "B"] }, answerKey: " A" }))
      .toMatchObject({ query: "Fog forms near", choices: [" a marsh", " a desert"], gold: [0] })
    expect(P.commonsenseQa({ question: "Where?", choices: { text: ["bank", "mall"], label: ["A", "B"] }, answerKey: "B" }))
      .toMatchObject({ query: "Where?", choices: [" bank", " mall"], gold: [1] })
  })

  it("Winogrande: lighteval scores option + rest after one context; partial scoring swaps the contexts", () => {
    const row = { sentence: "Sarah beat Maria so _ was  sad.", option1: "Sarah", option2: "Maria", answer: "2" }
    expect(P.winogrande(row)).toEqual({
      query: "Sarah beat Maria so ", choices: ["Sarah was  sad.", "Maria was  sad."], gold: [1], instruction: ""
    })
    expect(P.winograndePartial(row)).toMatchObject({
      contexts: ["Sarah beat Maria so Sarah", "Sarah beat Maria so Maria"], choices: [" was  sad.", " was  sad."], gold: [1]
    })
    expect(() => P.winogrande({ ...row, sentence: "no blank" })).toThrow(/exactly one "_"/)
  })

  it("MMLU cloze (SmolLM2) and MCF (lighteval mmlu_harness)", () => {
    const row = { subject: "high_school_physics", question: "Unit of force?", choices: ["newton", "joule", "watt", "volt"], answer: "A" }
    expect(P.mmluCloze(row)).toEqual({
      query: "The following are questions about high school physics.\nQuestion: Unit of force?\nAnswer:",
      choices: [" newton", " joule", " watt", " volt"],
      gold: [0],
      instruction: "The following are questions about high school physics.\n",
      group: "high_school_physics"
    })
    expect(P.mmluMcf({ ...row, answer: 2 }).query).toBe(
      "The following are multiple choice questions (with answers) about high school physics.\n\nUnit of force?\nA. newton\nB. joule\nC. watt\nD. volt\nAnswer:"
    )
    expect(P.mmluMcf({ ...row, answer: 2 }).choices).toEqual([" A", " B", " C", " D"])
  })

  it("few-shot context: instruction once, then examples with their gold target, joined by blank lines", () => {
    const ex = P.gsm8k({ question: "1+1?", answer: "1+1=2\n#### 2" })
    const doc = P.gsm8k({ question: "2+2?", answer: "#### 4" })
    expect(fewshotContext(doc, [ex, ex])).toBe("Question: 1+1?\nAnswer: 1+1=2\n#### 2\n\nQuestion: 1+1?\nAnswer: 1+1=2\n#### 2\n\nQuestion: 2+2?\nAnswer:")
    const m = (q: string, a: number) => P.mmluCloze({ subject: "law", question: q, choices: ["a", "b", "c", "d"], answer: a })
    expect(fewshotContext(m("Q2", 0), [m("Q1", 1)])).toBe(
      "The following are questions about law.\nQuestion: Q1\nAnswer: b\n\nQuestion: Q2\nAnswer:"
    )
  })
})
