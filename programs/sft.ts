/**
 * Supervised fine-tuning from the command line (issue 12).
 *
 *   npx tsx programs/sft.ts prepare --tokenizer tokenizer.json --input chats.jsonl --output rows.jsonl \
 *     [--template tokenizer_config.json | chat_template.jinja] [--format auto|messages|sharegpt|alpaca] [--end-of-turn "<|im_end|>"]
 *
 * `prepare` writes one line per conversation, in input order: `{"id", "text", "ids", "mask"}`, the rendered chat,
 * its ids (HF-exact, as `apply_chat_template(tokenize=True)`), and 1 for each token the loss is taken on (assistant
 * contents and their closing `<|im_end|>`). It is the inspectable form of what training sees. Inputs: SmolTalk
 * `messages`, ShareGPT `conversations` or Alpaca records, as JSONL, a JSON array or Parquet; a bad record stops the
 * run with its file and line (or Parquet row), and the output is written through a temporary file, so a failed run
 * leaves none.
 */
import { Console, Effect, Option, Stream } from "effect"
import { Command, Flag } from "effect/cli"
import { runMain } from "../src/cli/program.ts"
import { writeLinesAtomic } from "../src/data/io/jsonl.ts"
import { defaultChatTemplate, loadChatTemplate } from "../src/data/tokenizer/chat-template.ts"
import { conversationError, readConversations } from "../src/data/tokenizer/conversations.ts"
import { CHATML_END_OF_TURN, sftExampleLine, tokenizeConversation } from "../src/data/tokenizer/sft-example.ts"
import { loadTokenizer } from "../src/data/tokenizer/Tokenizer.ts"

const prepare = Command.make(
  "prepare",
  {
    tokenizer: Flag.String("tokenizer").pipe(Flag.withDescription("A Hugging Face tokenizer.json (byte-level BPE)")),
    input: Flag.String("input").pipe(Flag.withDescription("Conversations: .jsonl, .json (array or JSON Lines) or .parquet")),
    output: Flag.String("output").pipe(Flag.withDescription("JSONL with {\"id\", \"text\", \"ids\", \"mask\"} per conversation, same order")),
    template: Flag.String("template").pipe(
      Flag.withDescription("A tokenizer_config.json with a chat_template, or a .jinja file (default: SmolLM2-Instruct's ChatML template)"),
      Flag.optional
    ),
    format: Flag.Literals("format", ["auto", "messages", "sharegpt", "alpaca"]).pipe(
      Flag.withDescription("Record layout; auto decides from the first record's fields"),
      Flag.withDefault("auto")
    ),
    endOfTurn: Flag.String("end-of-turn").pipe(
      Flag.withDescription("Marker closing an assistant turn, trained on with it (\"\" for none)"),
      Flag.withDefault(CHATML_END_OF_TURN)
    )
  },
  ({ tokenizer, input, output, template, format, endOfTurn }) =>
    Effect.gen(function*() {
      const t = yield* loadTokenizer(tokenizer)
      const chat = Option.isSome(template) ? yield* loadChatTemplate(template.value) : yield* defaultChatTemplate()
      const started = performance.now()
      let tokens = 0
      let targets = 0
      const lines = readConversations(input, { format }).pipe(
        Stream.mapEffect(({ conversation, location }) =>
          tokenizeConversation(chat, t, conversation, { endOfTurn }).pipe(
            // The record's place goes into the message: the template or tokenizer problem is about this record.
            Effect.mapError((e) => conversationError(input, location, e.message, e))
          )
        ),
        Stream.tap((e) =>
          Effect.sync(() => {
            tokens += e.ids.length
            for (const m of e.mask) targets += m
          })
        ),
        Stream.map(sftExampleLine)
      )
      const count = yield* writeLinesAtomic(output, lines)
      const seconds = (performance.now() - started) / 1000
      const share = tokens === 0 ? 0 : (100 * targets) / tokens
      yield* Console.error(
        `${count} conversations, ${tokens} tokens, ${targets} targets (${share.toFixed(1)}%) with ${chat.name} in ${seconds.toFixed(2)} s → ${output}`
      )
    }).pipe(Effect.scoped)
).pipe(Command.withDescription("Render conversations with a chat template and write their ids and assistant-only loss masks"))

Command.make("sft").pipe(
  Command.withDescription("Supervised fine-tuning: prepare conversations (train comes next)"),
  Command.withSubcommands([prepare]),
  Command.run({ version: "0.1.0" }),
  runMain
)
