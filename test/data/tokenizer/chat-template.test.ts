import { NodeServices } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import { Effect, FileSystem } from "effect"
import {
  type ChatMessage,
  ChatTemplateError,
  defaultChatTemplate,
  loadChatTemplate,
  makeChatTemplate,
  SMOLLM2_CHAT_TEMPLATE,
  SMOLLM2_DEFAULT_SYSTEM_PROMPT
} from "../../../src/data/tokenizer/chat-template.ts"

const defaultSystem = `<|im_start|>system\n${SMOLLM2_DEFAULT_SYSTEM_PROMPT}<|im_end|>\n`

const chat: ReadonlyArray<ChatMessage> = [
  { role: "user", content: "What is 2 + 2?" },
  { role: "assistant", content: "4." },
  { role: "user", content: "And 3 + 3?" },
  { role: "assistant", content: "6, since 3 + 3 = 6." }
]

/** The failure of an effect, which must be a ChatTemplateError. */
const templateFailure = <A, R>(effect: Effect.Effect<A, unknown, R>) =>
  Effect.flip(effect).pipe(Effect.map((e) => {
    expect(e).toBeInstanceOf(ChatTemplateError)
    return e as ChatTemplateError
  }))

describe("SmolLM2's chat template", () => {
  it("is the alignment-handbook text, with the default system prompt wording of the recipe notes", () => {
    expect(SMOLLM2_DEFAULT_SYSTEM_PROMPT).toBe("You are a helpful AI assistant named SmolLM, trained by Hugging Face")
    expect(SMOLLM2_CHAT_TEMPLATE).toContain(SMOLLM2_DEFAULT_SYSTEM_PROMPT + "<|im_end|>")
    expect(SMOLLM2_CHAT_TEMPLATE.startsWith("{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}")).toBe(true)
  })

  it.effect("inserts the default system prompt when the first message is not a system one", () =>
    Effect.gen(function*() {
      const t = yield* defaultChatTemplate()
      const text = yield* t.render([{ role: "user", content: "Hi" }, { role: "assistant", content: "Hello! How can I help?" }])
      expect(text).toBe(
        "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n" +
          "<|im_start|>user\nHi<|im_end|>\n" +
          "<|im_start|>assistant\nHello! How can I help?<|im_end|>\n"
      )
    }))

  it.effect("keeps an explicit system prompt and adds no default one", () =>
    Effect.gen(function*() {
      const t = yield* defaultChatTemplate()
      const text = yield* t.render([
        { role: "system", content: "You answer in French." },
        { role: "user", content: "Hello" },
        { role: "assistant", content: "Bonjour" }
      ])
      expect(text).toBe(
        "<|im_start|>system\nYou answer in French.<|im_end|>\n<|im_start|>user\nHello<|im_end|>\n<|im_start|>assistant\nBonjour<|im_end|>\n"
      )
    }))

  it.effect("renders a multi-turn chat turn by turn, and a generation prompt only when asked", () =>
    Effect.gen(function*() {
      const t = yield* defaultChatTemplate()
      const turns = "<|im_start|>user\nWhat is 2 + 2?<|im_end|>\n<|im_start|>assistant\n4.<|im_end|>\n" +
        "<|im_start|>user\nAnd 3 + 3?<|im_end|>\n<|im_start|>assistant\n6, since 3 + 3 = 6.<|im_end|>\n"
      expect(yield* t.render(chat)).toBe(defaultSystem + turns)
      expect(yield* t.render(chat, { addGenerationPrompt: false })).toBe(defaultSystem + turns)
      const prompt = yield* t.render(chat.slice(0, 3), { addGenerationPrompt: true })
      expect(prompt).toBe(
        defaultSystem + "<|im_start|>user\nWhat is 2 + 2?<|im_end|>\n<|im_start|>assistant\n4.<|im_end|>\n" +
          "<|im_start|>user\nAnd 3 + 3?<|im_end|>\n<|im_start|>assistant\n"
      )
    }))

  it.effect("locates every message's content in the rendered text", () =>
    Effect.gen(function*() {
      const t = yield* defaultChatTemplate()
      const { spans, text } = yield* t.renderWithSpans(chat)
      expect(spans.map((s) => s === undefined ? undefined : text.slice(s.start, s.end))).toEqual(chat.map((m) => m.content))
      expect(spans.map((s) => s?.role)).toEqual(["user", "assistant", "user", "assistant"])
      // Each content sits right after its own header, not at an earlier copy of the same words.
      expect(text.slice(spans[3]!.start - "<|im_start|>assistant\n".length, spans[3]!.start)).toBe("<|im_start|>assistant\n")
    }))

  it.effect("finds a content that also occurs in the template's own text or in another message", () =>
    Effect.gen(function*() {
      const t = yield* defaultChatTemplate()
      const messages = [{ role: "user", content: "assistant" }, { role: "assistant", content: "assistant" }, { role: "user", content: "" }, {
        role: "assistant",
        content: "<|im_start|>"
      }]
      const { spans, text } = yield* t.renderWithSpans(messages)
      expect(text.slice(spans[1]!.start - 10, spans[1]!.end + 10)).toBe("assistant\nassistant<|im_end|>")
      expect(spans[2]!.end - spans[2]!.start).toBe(0)
      expect(text.slice(spans[3]!.start, spans[3]!.end)).toBe("<|im_start|>")
    }))
})

describe("any chat template", () => {
  it.effect("passes the special tokens and tools as transformers does, and raise_exception fails the render", () =>
    Effect.gen(function*() {
      const source = "{{ bos_token }}{% for m in messages %}{% if m.role == 'tool' %}{{ raise_exception('no tools here') }}{% endif %}" +
        "[{{ m.role }}] {{ m.content }}{{ eos_token }}{% endfor %}{% if tools %}tools={{ tools | length }}{% endif %}"
      const t = yield* makeChatTemplate(source, { name: "custom", specialTokens: { bos_token: "<s>", eos_token: "</s>" } })
      expect(yield* t.render([{ role: "user", content: "hi" }], { tools: [{ name: "a" }, { name: "b" }] })).toBe("<s>[user] hi</s>tools=2")
      const e = yield* templateFailure(t.render([{ role: "tool", content: "{}" }]))
      expect(e.reason).toBe("Render")
      expect(e.message).toMatch(/custom: rendering failed: .*no tools here/)
    }))

  it.effect("keeps trim_blocks and lstrip_blocks on, as transformers' Jinja environment does", () =>
    Effect.gen(function*() {
      const t = yield* makeChatTemplate("{% for m in messages %}\n    {% if true %}\n{{ m.content }}\n    {% endif %}\n{% endfor %}", { name: "blocks" })
      expect(yield* t.render([{ role: "user", content: "a" }, { role: "user", content: "b" }])).toBe("a\nb\n")
    }))

  it.effect("locates stripped contents under a template that trims them (Llama 3 style)", () =>
    Effect.gen(function*() {
      const source = "{% for m in messages %}<|start_header_id|>{{ m.role }}<|end_header_id|>\n\n{{ m.content | trim }}<|eot_id|>{% endfor %}"
      const t = yield* makeChatTemplate(source, { name: "llama3" })
      const { spans, text } = yield* t.renderWithSpans([{ role: "user", content: "  hi \n" }, { role: "assistant", content: "\thello" }])
      expect(text).toBe("<|start_header_id|>user<|end_header_id|>\n\nhi<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\nhello<|eot_id|>")
      expect(spans.map((s) => text.slice(s!.start, s!.end))).toEqual(["hi", "hello"])
    }))

  it.effect("says which message it cannot locate when a template rewrites contents", () =>
    Effect.gen(function*() {
      const upper = yield* makeChatTemplate("{% for m in messages %}<{{ m.role }}>{{ m.content | upper }}{% endfor %}", { name: "upper" })
      const e = yield* templateFailure(upper.renderWithSpans([{ role: "user", content: "Hi" }, { role: "assistant", content: "yo" }]))
      expect(e.reason).toBe("Locate")
      expect(e.message).toMatch(/upper: cannot locate .* message 0 \(user\)/)
      const twice = yield* makeChatTemplate("{% for m in messages %}{{ m.content }}|{{ m.content }}{% endfor %}", { name: "twice" })
      const e2 = yield* templateFailure(twice.renderWithSpans([{ role: "user", content: "Hi" }]))
      expect(e2.message).toMatch(/twice: the template writes the content of message 0 \(user\) more than once/)
    }))

  it.effect("leaves a message the template does not write without a span", () =>
    Effect.gen(function*() {
      const t = yield* makeChatTemplate("{% for m in messages %}{% if m.role != 'system' %}{{ m.role }}: {{ m.content }}\n{% endif %}{% endfor %}", { name: "nosys" })
      const r = yield* t.renderWithSpans([{ role: "system", content: "S" }, { role: "user", content: "U" }])
      expect(r.text).toBe("user: U\n")
      expect(r.spans[0]).toBeUndefined()
      expect(r.text.slice(r.spans[1]!.start, r.spans[1]!.end)).toBe("U")
    }))

  it.effect("a template that does not parse is a Parse error naming it", () =>
    Effect.gen(function*() {
      const e = yield* templateFailure(makeChatTemplate("{% for m in messages %}{{ m.content }}", { name: "broken.jinja" }))
      expect(e.reason).toBe("Parse")
      expect(e.message).toMatch(/^broken\.jinja: the chat template does not parse/)
    }))
})

describe("loadChatTemplate", () => {
  it.effect("reads a tokenizer_config.json (string or named list, tokens as text or objects) and a .jinja file", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const dir = yield* fs.makeTempDirectoryScoped()
      const source = "{{ bos_token }}{% for m in messages %}{{ m.role }}={{ m.content }}{{ eos_token }}{% endfor %}"
      yield* fs.writeFileString(`${dir}/a.json`, JSON.stringify({ chat_template: source, bos_token: "<s>", eos_token: { content: "</s>", special: true } }))
      const a = yield* loadChatTemplate(`${dir}/a.json`)
      expect(yield* a.render([{ role: "user", content: "x" }])).toBe("<s>user=x</s>")
      yield* fs.writeFileString(`${dir}/b.json`, JSON.stringify({ chat_template: [{ name: "tool_use", template: "T" }, { name: "default", template: source }] }))
      const b = yield* loadChatTemplate(`${dir}/b.json`)
      // No tokens in the config: SmolLM2-Instruct's.
      expect(yield* b.render([{ role: "user", content: "x" }])).toBe("<|im_start|>user=x<|im_end|>")
      yield* fs.writeFileString(`${dir}/chat_template.jinja`, SMOLLM2_CHAT_TEMPLATE)
      const c = yield* loadChatTemplate(`${dir}/chat_template.jinja`)
      expect(yield* c.render([{ role: "user", content: "x" }])).toBe(defaultSystem + "<|im_start|>user\nx<|im_end|>\n")
    }).pipe(Effect.scoped, Effect.provide(NodeServices.layer)))

  it.effect("a config without a chat template, or a missing file, is a Read error naming the file", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const dir = yield* fs.makeTempDirectoryScoped()
      yield* fs.writeFileString(`${dir}/base.json`, JSON.stringify({ eos_token: "<|endoftext|>" }))
      const e = yield* templateFailure(loadChatTemplate(`${dir}/base.json`))
      expect(e.reason).toBe("Read")
      expect(e.message).toContain(`${dir}/base.json: no "chat_template"`)
      const missing = yield* templateFailure(loadChatTemplate(`${dir}/nope.jinja`))
      expect(missing.reason).toBe("Read")
      expect(missing.message).toContain(`${dir}/nope.jinja`)
    }).pipe(Effect.scoped, Effect.provide(NodeServices.layer)))
})
