import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { SMOLLM2_CHAT_TEMPLATE, SMOLLM2_INSTRUCT_SPECIAL_TOKENS } from "../../src/data/tokenizer/chat-template.ts"
import { trainBpe, WordCounter } from "../../src/data/tokenizer/train.ts"
import { presets } from "../../src/model/config.ts"
import { tokenizerFiles } from "../../src/model/tokenizer-files.ts"

/** SmolLM2's 17 special tokens, ids 0–16 in this order (its base tokenizer.json). */
const smollm2Specials = [
  "<|endoftext|>", "<|im_start|>", "<|im_end|>", "<repo_name>", "<reponame>", "<file_sep>", "<filename>", "<gh_stars>",
  "<issue_start>", "<issue_comment>", "<issue_closed>", "<jupyter_start>", "<jupyter_text>", "<jupyter_code>",
  "<jupyter_output>", "<jupyter_script>", "<empty_output>"
]

const tokenizerBytes = () => {
  const counter = new WordCounter()
  for (let i = 0; i < 30; i++) counter.add(`The cat sat on the mat ${i} times; hello world, said the program.`)
  return new TextEncoder().encode(JSON.stringify(trainBpe(counter, { vocabSize: 400, specialTokens: smollm2Specials })))
}

const flags = { lstrip: false, normalized: false, rstrip: false, single_word: false }

describe("a chat checkpoint's special tokens", () => {
  it.effect("are SmolLM2-Instruct's: bos <|im_start|>, eos and pad <|im_end|>, unk <|endoftext|>, the two ChatML markers as additional", () =>
    Effect.gen(function*() {
      // The config an SFT run writes: BOS/EOS moved to ChatML's ids 1 and 2 (SmolLM2-Instruct's config.json).
      const config = { ...presets.tiny, bosTokenId: 1, eosTokenId: 2, maxPositionEmbeddings: 8192 }
      const files = yield* tokenizerFiles("tokenizer.json", tokenizerBytes(), config, { chatTemplate: SMOLLM2_CHAT_TEMPLATE })
      const tokenizerConfig = JSON.parse(files.get("tokenizer_config.json") as string) as Record<string, unknown>
      // HuggingFaceTB/SmolLM2-135M-Instruct's tokenizer_config.json, written out by hand (its added_tokens_decoder
      // aside, which tokenizer.json carries here, and tokenizer_class GPT2Tokenizer, which loads the same fast tokenizer).
      expect({
        bos_token: tokenizerConfig["bos_token"],
        eos_token: tokenizerConfig["eos_token"],
        pad_token: tokenizerConfig["pad_token"],
        unk_token: tokenizerConfig["unk_token"],
        additional_special_tokens: tokenizerConfig["additional_special_tokens"],
        model_max_length: tokenizerConfig["model_max_length"],
        clean_up_tokenization_spaces: tokenizerConfig["clean_up_tokenization_spaces"],
        chat_template: tokenizerConfig["chat_template"]
      }).toEqual({
        bos_token: "<|im_start|>",
        eos_token: "<|im_end|>",
        pad_token: "<|im_end|>",
        unk_token: "<|endoftext|>",
        additional_special_tokens: ["<|im_start|>", "<|im_end|>"],
        model_max_length: 8192,
        clean_up_tokenization_spaces: false,
        chat_template:
          "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}{{ '<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n' }}{% endif %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
      })
      // Its special_tokens_map.json, whole.
      expect(JSON.parse(files.get("special_tokens_map.json") as string)).toEqual({
        additional_special_tokens: ["<|im_start|>", "<|im_end|>"],
        bos_token: { content: "<|im_start|>", ...flags },
        eos_token: { content: "<|im_end|>", ...flags },
        pad_token: { content: "<|im_end|>", ...flags },
        unk_token: { content: "<|endoftext|>", ...flags }
      })
      // The tokens the chat template is rendered with are the same four.
      expect(SMOLLM2_INSTRUCT_SPECIAL_TOKENS).toEqual({ bos_token: "<|im_start|>", eos_token: "<|im_end|>", pad_token: "<|im_end|>", unk_token: "<|endoftext|>" })
    }))

  it.effect("a base checkpoint keeps SmolLM2's base tokens: everything <|endoftext|>, no ChatML markers", () =>
    Effect.gen(function*() {
      const files = yield* tokenizerFiles("tokenizer.json", tokenizerBytes(), { ...presets.tiny, bosTokenId: 0, eosTokenId: 0 })
      const tokenizerConfig = JSON.parse(files.get("tokenizer_config.json") as string) as Record<string, unknown>
      expect([tokenizerConfig["bos_token"], tokenizerConfig["eos_token"], tokenizerConfig["pad_token"], tokenizerConfig["unk_token"]])
        .toEqual(["<|endoftext|>", "<|endoftext|>", "<|endoftext|>", "<|endoftext|>"])
      expect("additional_special_tokens" in tokenizerConfig).toBe(false)
      expect("chat_template" in tokenizerConfig).toBe(false)
    }))
})
