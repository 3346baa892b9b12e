/**
 * Talk to a model: each message goes through the model's chat template (its tokenizer_config.json's
 * `chat_template`, else SmolLM2-Instruct's ChatML), and the reply streams to stdout token by token until
 * `<|im_end|>` (or the tokenizer's EOS, or --max-new-tokens).
 *
 *   npx tsx programs/chat.ts --model DIR                                  # interactive; /reset, /exit, Ctrl-D
 *   npx tsx programs/chat.ts --model DIR --prompt "Name three primes."    # one reply, then exit
 *   npx tsx programs/chat.ts --model DIR --temperature 0 --system "Answer in one word."
 *
 * Sampling follows transformers (temperature, then top-k, then top-p; src/eval/sampler.ts); temperature 0 is greedy.
 * The conversation is kept: each turn re-renders the history, and the KV cache of the previous turn is reused for
 * the prefix the new prompt shares with it (only the new message is computed). When the history no longer fits the
 * context, the oldest exchanges are left out. stdout carries only the replies; the "> " prompt, the settings and a
 * line per reply (tokens, tokens/s, cached and computed positions) go to stderr. Ctrl-C stops a reply being
 * written (it is then left out of the history); at the prompt it ends the session like Ctrl-D.
 */
import { Console, Deferred, Effect, FileSystem, Option } from "effect"
import { Command, Flag } from "effect/cli"
import * as path from "node:path"
import * as readline from "node:readline"
import { atLeast, defaulting, runMain } from "../src/cli/program.ts"
import { BpeTokenizer } from "../src/data/tokenizer/core.ts"
import { chatTemplateOfFolder } from "../src/eval/chat-prompts.ts"
import { type ChatReply, type ChatSession, makeChatSession } from "../src/eval/chat-session.ts"
import { EvalConfigError } from "../src/eval/errors.ts"
import { makeLlamaTokenModel } from "../src/eval/llama-token-model.ts"
import { samplingProblem } from "../src/eval/sampler.ts"
import { Gpu } from "../src/gpu/Gpu.ts"
import { loadHfModel } from "../src/model/checkpoint.ts"

const float = (name: string, check: (x: number) => boolean, expected: string) =>
  Flag.Finite(name).pipe(Flag.filter(check, () => expected))

const summary = (r: ChatReply): string => {
  const why = r.stoppedBy === "stop" ? "end of turn" : r.stoppedBy === "limit" ? "--max-new-tokens reached" : "context full"
  const rate = r.seconds > 0 ? (r.tokens / r.seconds).toFixed(1) : "∞"
  const dropped = r.droppedTurns > 0 ? `; ${r.droppedTurns} oldest exchange(s) left out to fit the context` : ""
  return `[${r.tokens} tokens, ${rate} tokens/s, ${why}; prompt: ${r.cachedPositions} positions from the cache, ${r.computedPositions} computed${dropped}]`
}

const command = Command.make(
  "chat",
  {
    model: Flag.Directory("model", { mustExist: true }).pipe(Flag.withDescription("Hugging Face model folder (config.json, model.safetensors, tokenizer files) (required)")),
    tokenizer: Flag.File("tokenizer", { mustExist: true }).pipe(Flag.withDescription("The model's tokenizer.json (default: MODEL/tokenizer.json)"), Flag.optional),
    system: Flag.String("system").pipe(Flag.withDescription("System prompt opening the conversation (default: the template's own; SmolLM2's names SmolLM)"), Flag.optional),
    prompt: Flag.String("prompt").pipe(Flag.withDescription("One message: print the reply and exit (default: an interactive session on stdin)"), Flag.optional),
    temperature: float("temperature", (x) => x >= 0, "a number ≥ 0").pipe(defaulting(0.2, "Sampling temperature; 0 is greedy (SmolLM2-Instruct's model card uses 0.2)")),
    topP: float("top-p", (x) => x > 0 && x <= 1, "a number in (0, 1]").pipe(defaulting(0.9, "Nucleus sampling: the smallest most-likely set with this mass; 1 is off (model card: 0.9)")),
    topK: Flag.Int("top-k").pipe(atLeast(0), defaulting(50, "Only the k most likely tokens; 0 is off (transformers' default: 50)")),
    seed: Flag.Int("seed").pipe(atLeast(0), defaulting(0, "Sampling seed; turn k uses seed + k, so a session replays exactly")),
    maxNewTokens: Flag.Int("max-new-tokens").pipe(atLeast(1), defaulting(512, "Most tokens in one reply")),
    maxLength: Flag.Int("max-length").pipe(atLeast(2), defaulting(2048, "Context in tokens (prompt and reply), capped by the model's max_position_embeddings"))
  },
  (a) =>
    Effect.gen(function*() {
      const sampling = { temperature: a.temperature, topK: a.topK, topP: a.topP, seed: a.seed }
      const problem = samplingProblem(sampling)
      if (problem !== undefined) return yield* new EvalConfigError({ message: problem })
      const tokenizerFile = Option.getOrElse(a.tokenizer, () => path.join(a.model, "tokenizer.json"))
      const fs = yield* FileSystem.FileSystem
      const json = yield* fs.readFileString(tokenizerFile).pipe(Effect.mapError((e) => new EvalConfigError({ message: `${tokenizerFile}: ${e.message}` })))
      const tokenizer = yield* Effect.try({
        try: () => BpeTokenizer.fromJson(json),
        catch: (e) => new EvalConfigError({ message: `${tokenizerFile}: not a tokenizer.json we can load: ${e instanceof Error ? e.message : String(e)}` })
      })
      const { template, origin } = yield* chatTemplateOfFolder(a.model)
      const hf = yield* loadHfModel(a.model)
      if (tokenizer.vocabSize > hf.config.vocabSize) {
        return yield* new EvalConfigError({ message: `${tokenizerFile} has ${tokenizer.vocabSize} tokens, more than the vocabulary of ${hf.config.vocabSize} of ${a.model}` })
      }
      // A reply ends at ChatML's end of turn, the template's EOS, or the model's EOS (a base model's <|endoftext|>).
      const stopTokens = new Map<number, string>()
      for (const t of ["<|im_end|>", template.specialTokens["eos_token"]]) {
        const id = t === undefined ? undefined : tokenizer.tokenToId(t)
        if (id !== undefined) stopTokens.set(id, t!)
      }
      if (hf.config.eosTokenId !== null) stopTokens.set(hf.config.eosTokenId, tokenizer.idToToken(hf.config.eosTokenId) ?? `id ${hf.config.eosTokenId}`)
      const gpu = yield* Gpu
      const model = yield* makeLlamaTokenModel(gpu, hf, { name: path.basename(path.resolve(a.model)), maxLength: a.maxLength, batchSize: 1 })
      const session = makeChatSession({
        template,
        tokenizer: { encode: (t, o) => tokenizer.encode(t, o), streamingDecoder: () => tokenizer.streamingDecoder() },
        model,
        ...(Option.isSome(a.system) ? { system: a.system.value } : {}),
        sampling,
        maxNewTokens: a.maxNewTokens,
        stopIds: new Set(stopTokens.keys())
      })
      yield* Console.error(
        `Chat template: ${origin}; stops at ${[...stopTokens.values()].join(", ")}; ` +
          (a.temperature === 0 ? "greedy" : `temperature ${a.temperature}, top-k ${a.topK}, top-p ${a.topP}, seed ${a.seed}`) +
          `; context ${model.maxLength} tokens`
      )
      const write = (text: string) => Effect.sync(() => void process.stdout.write(text))

      if (Option.isSome(a.prompt)) {
        const r = yield* session.reply(a.prompt.value, write)
        yield* write("\n")
        yield* Console.error(summary(r))
        return
      }
      yield* interactive(session, write)
    }).pipe(Effect.scoped, Effect.provide(Gpu.layer))
).pipe(Command.withDescription("Talk to a model through its chat template, replies streamed as they are generated"))

/** The read–reply loop over stdin: one message per line; /reset, /exit; end of input (Ctrl-D) ends it. */
const interactive = (session: ChatSession, write: (text: string) => Effect.Effect<void>) =>
  Effect.gen(function*() {
    const tty = process.stdin.isTTY === true
    const rl = readline.createInterface({ input: process.stdin, output: process.stderr, terminal: tty, prompt: "> " })
    const lines = rl[Symbol.asyncIterator]()
    let stopReply: Deferred.Deferred<void> | undefined
    // Ctrl-C (a TTY's readline reports it instead of signalling): stop the reply being written, else end the session.
    rl.on("SIGINT", () => {
      if (stopReply !== undefined) Effect.runSync(Deferred.succeed(stopReply, undefined))
      else rl.close()
    })
    yield* Effect.addFinalizer(() => Effect.sync(() => rl.close()))
    yield* Console.error("Type a message; /reset forgets the conversation, /exit (or Ctrl-D) ends it.")
    while (true) {
      rl.prompt()
      const next = yield* Effect.promise(() => lines.next())
      if (next.done === true) break
      const line = String(next.value).trim()
      if (line === "") continue
      if (line === "/exit") break
      if (line === "/reset") {
        session.reset()
        yield* Console.error("(conversation forgotten)")
        continue
      }
      const stop = yield* Deferred.make<void>()
      stopReply = stop
      const outcome = yield* Effect.raceFirst(
        session.reply(line, write).pipe(Effect.map((r) => summary(r))),
        Deferred.await(stop).pipe(Effect.as("[stopped; this exchange is left out of the history]"))
      ).pipe(
        // A message the model cannot take (too long for the context) is reported, and the session goes on.
        Effect.catchIf((e) => e.reason === "InvalidRequest", (e) => Effect.succeed(`error: ${e.message}`)),
        Effect.ensuring(Effect.sync(() => (stopReply = undefined)))
      )
      yield* write("\n")
      yield* Console.error(outcome)
    }
    if (tty) yield* Console.error("")
  })

command.pipe(Command.run({ version: "0.1.0" }), runMain)
