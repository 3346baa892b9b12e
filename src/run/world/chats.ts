/**
 * Instruction chats in SmolTalk's layout (`{"messages": [{"role", "content"}, …]}`, [P] §7.2): questions about the
 * world's facts, word problems and small coding requests with good answers, for supervised fine-tuning after
 * pretraining (`postTraining.sft.data`).
 */
import { pythonBody, pythonPrompt, FUNCTIONS } from "./code-files.ts"
import type { WorldFacts } from "./facts.ts"
import { makeWordProblem } from "./math-text.ts"
import type { WorldRandom } from "./random.ts"

export interface ChatMessage {
  readonly role: "system" | "user" | "assistant"
  readonly content: string
}

export interface Chat {
  readonly messages: ReadonlyArray<ChatMessage>
}

const SYSTEM = "You are a helpful assistant who answers clearly and explains your reasoning."
const THANKS = ["Thanks, that helps!", "Great, thank you.", "Thank you, that makes sense now."]
const WELCOME = ["You're welcome! Ask me anything else.", "Glad it helped.", "Happy to help, good luck!"]

const firstExchange = (rng: WorldRandom, w: WorldFacts): [string, string] => {
  switch (rng.int(0, 2)) {
    case 0: {
      const f = rng.pick(w.facts)
      return [f.question, `${f.statement} ${rng.pick(f.explanations)}`]
    }
    case 1: {
      const p = makeWordProblem(rng)
      return [p.question, `${p.steps.join(" ")} The answer is ${p.answer}.`]
    }
    default: {
      const f = rng.pick(FUNCTIONS)
      const ask = `Write a Python function ${f.name}(${f.params.join(", ")}) that does this: ${f.doc}`
      return [ask, `Here is one way to write it:\n\n\`\`\`python\n${pythonPrompt(f)}${pythonBody(f)}\`\`\`\n\n${f.why}`]
    }
  }
}

/** `count` conversations, some with a system prompt and a follow-up turn. */
export const makeChats = (rng: WorldRandom, w: WorldFacts, count: number): Array<Chat> =>
  Array.from({ length: count }, () => {
    const [question, answer] = firstExchange(rng, w)
    const messages: Array<ChatMessage> = [
      ...(rng.chance(0.3) ? [{ role: "system" as const, content: SYSTEM }] : []),
      { role: "user", content: question },
      { role: "assistant", content: answer },
      ...(rng.chance(0.3) ? [{ role: "user" as const, content: rng.pick(THANKS) }, { role: "assistant" as const, content: rng.pick(WELCOME) }] : [])
    ]
    return { messages }
  })
