import { describe, expect, it } from "@effect/vitest"
import { appendFileSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { AnnotationCache, annotationKey } from "../../src/classify/annotate/AnnotationCache.ts"
import type { AnnotationPrompt } from "../../src/classify/annotate/AnnotationPrompt.ts"
import { backoffDelayMs, parseRetryAfterMs } from "../../src/classify/annotate/backoff.ts"
import { parseChatBody } from "../../src/classify/annotate/chat-completion.ts"
import { builtinPrompt, promptFromText } from "../../src/classify/annotate/prompts.ts"
import { stackEduLanguages } from "../../src/classify/annotate/stack-edu.ts"

const prompt = (p: ReturnType<typeof builtinPrompt>): AnnotationPrompt => {
  if ("problem" in p) throw new Error(p.problem)
  return p
}

describe("annotation prompts", () => {
  it("puts the text where FineWeb-Edu's prompt has {text}, and reads the first 'Educational score: N'", () => {
    const p = prompt(builtinPrompt("fineweb-edu"))
    const rendered = p.render("Photosynthesis turns light into sugar. $& $1")
    expect(rendered).toContain("The extract: Photosynthesis turns light into sugar. $& $1.\n\nAfter examining the extract:")
    expect(rendered.startsWith("Below is an extract from a web page.")).toBe(true)
    expect(rendered.endsWith('- Conclude with the score using the format: "Educational score: <total points>"')).toBe(true)
    expect(p.parseScore("Clear and useful.\nEducational score: 4")).toBe(4)
    expect(p.parseScore("Educational score:3 ... later Educational score: 5")).toBe(3)
    expect(p.parseScore("Score: 4")).toEqual({ problem: expect.stringContaining("no match") })
    expect(p.parseScore("Educational score: 7")).toEqual({ problem: "score 7 is outside 0–5" })
  })

  it("has a Stack-Edu prompt for each of the 15 languages, Python's as printed in the paper", () => {
    expect(Object.keys(stackEduLanguages)).toHaveLength(15)
    const versions = new Set<string>()
    for (const language of Object.keys(stackEduLanguages) as Array<keyof typeof stackEduLanguages>) {
      const p = prompt(builtinPrompt("stack-edu", { language }))
      versions.add(p.version)
      expect(p.render("int main() {}")).toContain(`Below is an extract from a ${stackEduLanguages[language].display} program.`)
      expect(p.parseScore("Educational score: 2")).toBe(2)
    }
    expect(versions.size).toBe(15)
    const python = prompt(builtinPrompt("stack-edu", { language: "python" })).render("print(1)")
    expect(python).toContain("even if the topic is advanced (e.g., deep learning).")
    expect(python).toContain("The extract: print(1)\nAfter examining the extract:")
    expect("problem" in builtinPrompt("stack-edu")).toBe(true)
  })

  it("reads FineMath's 'Final score: N' on a 3- and a 5-point scale", () => {
    const three = prompt(builtinPrompt("finemath-3"))
    const five = prompt(builtinPrompt("finemath-5"))
    expect(three.render("x^2")).toContain("The text extract:\nx^2\nAfter examining the extract:")
    expect(three.parseScore("Final score: 3.")).toBe(3)
    expect(three.parseScore("Final score: 4")).toEqual({ problem: "score 4 is outside 0–3" })
    expect(five.parseScore("Final score: 4.")).toBe(4)
    expect(five.parseScore("Educational score: 4")).toEqual({ problem: expect.stringContaining("no match") })
  })

  it("versions a prompt by its content: truncation or a new wording is a new version", () => {
    const a = prompt(builtinPrompt("fineweb-edu"))
    expect(a.version).toMatch(/^fineweb-edu@[0-9a-f]{12}$/)
    expect(prompt(builtinPrompt("fineweb-edu")).version).toBe(a.version)
    expect(prompt(builtinPrompt("fineweb-edu", { maxChars: 5000 })).version).not.toBe(a.version)
    expect(prompt(builtinPrompt("fineweb-edu", { maxChars: 5 })).render("abcdefghij")).toContain("The extract: abcde.")
    const own = prompt(promptFromText("mine", "Rate this: {text}\nEducational score: <n>"))
    const reworded = prompt(promptFromText("mine", "Rate this, please: {text}\nEducational score: <n>"))
    expect(own.version).not.toBe(reworded.version)
    expect(own.render("hello")).toBe("Rate this: hello\nEducational score: <n>")
    expect(promptFromText("bad", "no placeholder")).toEqual({ problem: "bad: the prompt has no {text} placeholder" })
    expect("problem" in promptFromText("bad", "{text}", { scorePattern: /score: \d+/ })).toBe(true)
  })
})

describe("chat replies, backoff and cache", () => {
  it("takes choices[0].message.content and usage, and calls anything else malformed", () => {
    expect(parseChatBody(JSON.stringify({ choices: [{ message: { content: "hi" } }], usage: { prompt_tokens: 3, completion_tokens: 1 } })))
      .toEqual({ completion: "hi", usage: { prompt_tokens: 3, completion_tokens: 1 } })
    expect(parseChatBody(JSON.stringify({ choices: [{ message: { content: "hi" } }] }))).toEqual({ completion: "hi", usage: { prompt_tokens: 0, completion_tokens: 0 } })
    expect(parseChatBody("{oops")).toEqual({ problem: expect.stringContaining("not JSON") })
    expect(parseChatBody(JSON.stringify({ choices: [] }))).toEqual({ problem: expect.stringContaining("no choices[0].message.content") })
  })

  it("backs off exponentially with jitter, never below a Retry-After", () => {
    const policy = { baseMs: 100, maxMs: 1000, maxRetryAfterMs: 5000 }
    expect(backoffDelayMs(policy, 1, () => 0)).toBe(50)
    expect(backoffDelayMs(policy, 1, () => 1)).toBe(100)
    expect(backoffDelayMs(policy, 3, () => 1)).toBe(400)
    expect(backoffDelayMs(policy, 10, () => 1)).toBe(1000)
    expect(backoffDelayMs(policy, 1, () => 0, 2000)).toBe(2000)
    expect(backoffDelayMs(policy, 1, () => 0, 60_000)).toBe(5000)
    expect(parseRetryAfterMs("3", 0)).toBe(3000)
    expect(parseRetryAfterMs("0.25", 0)).toBe(250)
    expect(parseRetryAfterMs("Wed, 21 Oct 2015 07:28:10 GMT", Date.parse("Wed, 21 Oct 2015 07:28:00 GMT"))).toBe(10_000)
    expect(parseRetryAfterMs("soon", 0)).toBeUndefined()
  })

  it("keeps every complete cache line after a torn last one, and appends on a fresh line", () => {
    const file = join(mkdtempSync(join(tmpdir(), "smol-cache-")), "annotations.jsonl")
    const entry = (id: string, score: number | null) => ({
      key: annotationKey("p@1", "m", id, `text ${id}`), id, prompt: "p@1", model: "m", score, completion: `c ${id}`,
      usage: { prompt_tokens: 1, completion_tokens: 1 }, attempts: 1
    })
    writeFileSync(file, JSON.stringify(entry("a", 3)) + "\n" + JSON.stringify(entry("b", null)) + "\n")
    appendFileSync(file, JSON.stringify(entry("c", 1)).slice(0, 40)) // killed mid-write
    const cache = new AnnotationCache(file)
    expect(cache.load).toEqual({ entries: 2, tornBytes: 40, badLines: 0 })
    expect(cache.get(entry("a", 3).key)?.score).toBe(3)
    expect(cache.get(entry("b", null).key)?.score).toBeNull()
    cache.append(entry("d", 5))
    cache.close()
    const reopened = new AnnotationCache(file)
    expect(reopened.load).toEqual({ entries: 3, tornBytes: 0, badLines: 0 })
    expect(reopened.get(entry("d", 5).key)?.completion).toBe("c d")
    reopened.close()
    expect(readFileSync(file, "utf8").split("\n").filter((l) => l.length > 0)).toHaveLength(3)
  })

  it("keys by prompt version, model, id and text", () => {
    const k = annotationKey("p@1", "m", "id", "text")
    expect(annotationKey("p@2", "m", "id", "text")).not.toBe(k)
    expect(annotationKey("p@1", "m2", "id", "text")).not.toBe(k)
    expect(annotationKey("p@1", "m", "id2", "text")).not.toBe(k)
    expect(annotationKey("p@1", "m", "id", "text!")).not.toBe(k)
  })
})
