import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { BpeTokenizer } from "../../src/data/tokenizer/core.ts"
import { defaultChatTemplate, makeChatTemplate } from "../../src/data/tokenizer/chat-template.ts"
import { chatPromptMessages } from "../../src/eval/chat-prompts.ts"
import { buildInstances, generationRequests, logLikelihoodRequests } from "../../src/eval/evaluate.ts"
import { encodePair } from "../../src/eval/LanguageModel.ts"
import * as P from "../../src/eval/prompts.ts"
import { builtinTasks, type TaskSpec } from "../../src/eval/tasks.ts"
import { trainedTokenizerJson } from "../data/tokenizer/reference.ts"

const spec = (name: string): TaskSpec => builtinTasks.find((t) => t.name === name)!
const SYSTEM = "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n"

describe("evaluation prompts through a chat template (lighteval --use_chat_template)", () => {
  it.effect("ARC, zero-shot: the query is the user turn and each choice is scored after the assistant header", () =>
    Effect.gen(function*() {
      const chatTemplate = yield* defaultChatTemplate()
      const doc = P.arc({ question: "Which gas do plants take in?", choices: { text: ["oxygen", "carbon dioxide"], label: ["A", "B"] }, answerKey: "B" })
      const instances = yield* buildInstances({ spec: spec("arc:easy"), docs: [doc] }, { chatTemplate })
      const context = SYSTEM + "<|im_start|>user\nQuestion: Which gas do plants take in?\nAnswer:<|im_end|>\n<|im_start|>assistant\n"
      expect(logLikelihoodRequests(instances)).toEqual([
        { context, continuation: " oxygen" },
        { context, continuation: " carbon dioxide" }
      ])
      // tok_encode_pair moves the header's trailing newline into the continuation, as lighteval scores it.
      const tokenizer = BpeTokenizer.fromJson(trainedTokenizerJson())
      const codec = { encode: (t: string) => Array.from(tokenizer.encode(t, { addSpecialTokens: false })), decode: (ids: ReadonlyArray<number>) => tokenizer.decode(ids), eosId: 0 }
      const pair = encodePair(codec, context, " carbon dioxide")
      expect(tokenizer.decode(pair.context).endsWith("<|im_start|>assistant")).toBe(true)
      expect(tokenizer.decode(pair.continuation)).toBe("\n carbon dioxide")
    }))

  it.effect("MMLU one-shot: the instruction opens the first user turn, the example is a user/assistant exchange with its gold verbatim", () =>
    Effect.gen(function*() {
      const chatTemplate = yield* defaultChatTemplate()
      const row = (question: string, choices: Array<string>, answer: number) => ({ subject: "high_school_biology", question, choices, answer })
      const doc = P.mmluCloze(row("Where is DNA kept?", ["nucleus", "skin"], 0))
      const example = P.mmluCloze(row("What carries oxygen in blood?", ["red blood cells", "bones"], 0))
      const task = { spec: { ...spec("mmlu"), numFewshot: 1 }, docs: [doc], fewshotDocs: [example] }
      const [inst] = yield* buildInstances(task, { chatTemplate })
      expect(inst!.fewshot).toBe(1)
      expect(inst!.context).toBe(
        SYSTEM +
          "<|im_start|>user\nThe following are questions about high school biology.\nQuestion: What carries oxygen in blood?\nAnswer:<|im_end|>\n" +
          "<|im_start|>assistant\n red blood cells<|im_end|>\n" +
          "<|im_start|>user\nQuestion: Where is DNA kept?\nAnswer:<|im_end|>\n<|im_start|>assistant\n"
      )
    }))

  it.effect("GSM8K: the generation stops at the template's EOS instead of the task's stop strings", () =>
    Effect.gen(function*() {
      const chatTemplate = yield* defaultChatTemplate()
      const doc = P.gsm8k({ question: "Tom has 2 apples and buys 3. How many?", answer: "2+3=5\n#### 5" })
      const task = { spec: { ...spec("gsm8k"), numFewshot: 0 }, docs: [doc] }
      const instances = yield* buildInstances(task, { chatTemplate })
      expect(generationRequests(task.spec, instances, { chatTemplate })).toEqual([{
        prompt: SYSTEM + "<|im_start|>user\nQuestion: Tom has 2 apples and buys 3. How many?\nAnswer:<|im_end|>\n<|im_start|>assistant\n",
        maxTokens: 256,
        stop: ["<|im_end|>"]
      }])
      // Without the template, nothing changes.
      const plain = yield* buildInstances(task, {})
      expect(generationRequests(task.spec, plain)).toEqual([{ prompt: "Question: Tom has 2 apples and buys 3. How many?\nAnswer:", maxTokens: 256, stop: ["Question:", "Question"] }])
    }))

  it.effect("a system prompt takes the instruction with it; a template's own EOS and layout are used", () =>
    Effect.gen(function*() {
      expect(chatPromptMessages("Instr. ", [{ query: "q1", answer: " a1" }], "q2", "Sys. ")).toEqual([
        { role: "system", content: "Sys. Instr. " },
        { role: "user", content: "q1" },
        { role: "assistant", content: " a1" },
        { role: "user", content: "q2" }
      ])
      const llama = yield* makeChatTemplate(
        "{% for m in messages %}[{{ m.role }}]{{ m.content }}{{ eos_token }}{% endfor %}{% if add_generation_prompt %}[assistant]{% endif %}",
        { name: "toy", specialTokens: { eos_token: "</s>" } }
      )
      const doc = P.piqa({ goal: "Open a jar", sol1: "twist the lid", sol2: "shake it", label: 0 })
      const [inst] = yield* buildInstances({ spec: spec("piqa"), docs: [doc] }, { chatTemplate: llama })
      expect(inst!.context).toBe("[user]Question: Open a jar\nAnswer:</s>[assistant]")
      expect(generationRequests({ ...spec("gsm8k") }, [inst!], { chatTemplate: llama })[0]!.stop).toEqual(["</s>"])
    }))
})
