/**
 * SFT's training data, from conversations (or rows `programs/sft.ts prepare` wrote) to the packed ids JSONL the
 * trainer reads: decontaminated, tokenized with the chat template and assistant masks, packed (sft-packing.ts), and
 * laid out for every epoch, each a seeded shuffle of the rows.
 */
import { Effect, type FileSystem, Schema, Stream } from "effect"
import { type JsonlError, readJsonl, TokenId } from "../data/io/jsonl.ts"
import type { ChatTemplate } from "../data/tokenizer/chat-template.ts"
import { type ConversationError, type ConversationFormat, conversationError, noConversations, readConversations } from "../data/tokenizer/conversations.ts"
import { tokenizeConversation } from "../data/tokenizer/sft-example.ts"
import type { TokenizerShape } from "../data/tokenizer/Tokenizer.ts"
import type { Decontaminator } from "./decontaminate.ts"
import type { PackedRowLine } from "./packed-rows.ts"
import { epochOrder, type LossOn, packBestFitDecreasing, packConcat, type Packing, type SftDocument } from "./sft-packing.ts"

export type SftSource =
  | { readonly _tag: "Conversations"; readonly path: string; readonly format: ConversationFormat | "auto" }
  /** Several conversation files read as one, in the order given (the full run's `postTraining.sft.data`). */
  | { readonly _tag: "ConversationFiles"; readonly paths: ReadonlyArray<string>; readonly format: ConversationFormat | "auto" }
  /** `programs/sft.ts prepare` output: `{"id", "text", "ids", "mask"}` per conversation. */
  | { readonly _tag: "Prepared"; readonly path: string }

export interface SftDataOptions {
  readonly source: SftSource
  readonly tokenizer: TokenizerShape
  readonly template: ChatTemplate
  readonly packing: Packing
  readonly loss: LossOn
  /** seq_len + 1. */
  readonly rowLength: number
  /** concat's separator after each conversation (EOS), and bfd's padding. */
  readonly separator: number
  readonly epochs: number
  readonly seed: number
  readonly decontaminator?: Decontaminator
  /** Read at most this many conversations (or prepared rows), from the start: a trial on a slice. */
  readonly limit?: number
}

export interface SftData {
  /** Every epoch's rows, in training order. */
  readonly rows: ReadonlyArray<PackedRowLine>
  readonly rowsPerEpoch: number
  readonly conversations: number
  /** Conversations dropped for sharing an n-gram with the evaluation texts. */
  readonly contaminated: number
  readonly tokens: number
  /** Tokens the loss is taken on, per epoch. */
  readonly targets: number
}

const PreparedLine = Schema.Struct({ id: Schema.optionalKey(Schema.String), text: Schema.String, ids: Schema.Array(TokenId), mask: Schema.Array(Schema.Literals([0, 1])) })

/** Each record of the source: its document, or undefined when it shares an n-gram with the evaluation texts. */
const documentsOf = (o: SftDataOptions): Stream.Stream<SftDocument | undefined, ConversationError | JsonlError, FileSystem.FileSystem> => {
  const contaminated = (texts: ReadonlyArray<string>) => o.decontaminator?.contaminated(texts) === true
  if (o.source._tag === "Prepared") {
    return readJsonl(o.source.path, PreparedLine, { blankLines: "skip" }).pipe(
      Stream.map(({ value }): SftDocument | undefined => contaminated([value.text]) ? undefined : { ids: value.ids, mask: value.mask })
    )
  }
  const format = o.source.format
  const files = o.source._tag === "Conversations" ? [o.source.path] : o.source.paths
  return Stream.fromIterable(files).pipe(Stream.flatMap((file) =>
    readConversations(file, { format }).pipe(
      Stream.mapEffect(({ conversation, location }) =>
        // Checked on the messages themselves, before the template adds its own words.
        contaminated(conversation.messages.map((m) => m.content))
          ? Effect.succeed(undefined)
          : tokenizeConversation(o.template, o.tokenizer, conversation).pipe(
            Effect.mapError((e) => conversationError(file, location, e.message, e)),
            Effect.map((e): SftDocument => ({ ids: e.ids, mask: e.mask }))
          ))
    )
  ))
}

/** The source's files, as error messages name them. */
const sourceName = (source: SftSource): string => source._tag === "ConversationFiles" ? source.paths.join(", ") : source.path

export const prepareSftData = (o: SftDataOptions) =>
  Effect.gen(function*() {
    let total = 0
    const docs: Array<SftDocument> = []
    yield* documentsOf(o).pipe(
      o.limit === undefined ? (s) => s : Stream.take(o.limit),
      Stream.runForEach((doc) =>
        Effect.sync(() => {
          total++
          if (doc !== undefined) docs.push(doc)
        })
      )
    )
    // Refused here, before any row is written: an empty input would otherwise surface as a puzzling "0 rows".
    if (total === 0) {
      return yield* Effect.fail(o.source._tag === "Prepared"
        ? conversationError(o.source.path, "file", "no prepared rows (an empty file, or only blank lines): nothing to train on")
        : noConversations(sourceName(o.source)))
    }
    if (docs.length === 0) {
      return yield* Effect.fail(conversationError(sourceName(o.source), "file", `all ${total} conversations share a 10-gram with the evaluation texts: nothing left to train on`))
    }
    const packed = o.packing === "concat"
      ? packConcat(docs, o.rowLength, o.separator, o.loss)
      : packBestFitDecreasing(docs, o.rowLength, o.separator, o.loss)
    let targets = 0
    for (const row of packed) {
      for (let t = 1; t < row.ids.length; t++) {
        if ((row.mask?.[t] ?? 1) === 1 && row.position_ids?.[t] !== 0) targets++
      }
    }
    return {
      rows: epochOrder(packed.length, o.epochs, o.seed).map((i) => packed[i]!),
      rowsPerEpoch: packed.length,
      conversations: total,
      contaminated: total - docs.length,
      tokens: docs.reduce((s, d) => s + d.ids.length, 0),
      targets
    } satisfies SftData
  })

/** A row as its ids JSONL line (packed-rows.ts). */
export const packedRowJson = (row: PackedRowLine): string => JSON.stringify(row)
