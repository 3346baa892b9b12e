/**
 * A training row of an ids JSONL file: `{"ids": [...]}` of seq_len + 1 tokens, and for SFT two optional fields of
 * the same length (TRL's names): `"mask"`, 1 for a token the loss is taken on, and `"position_ids"`, each token's
 * position in its document, 0 where a packed document starts.
 *
 * Position t of a row predicts token t + 1, and that target counts when the token's mask is 1 — and, with position
 * ids, when the token does not start a document (predicting a document's first token from the end of the previous
 * one is not learning anything; transformers' DataCollatorWithFlattening drops those labels too). The step's loss is
 * the mean over its counted targets. With position ids, RoPE restarts at each document and attention stays inside
 * it, so a packed row trains exactly as its documents would one by one.
 */
import { Schema } from "effect"
import { TokenId } from "../data/io/jsonl.ts"
import type { PackedRows } from "../model/llama.cpu.ts"
import { nextTokenBatch, type NextTokenBatch } from "../model/batch.ts"

export const PackedRowLine = Schema.Struct({
  ids: Schema.Array(TokenId),
  mask: Schema.optionalKey(Schema.Array(Schema.Literals([0, 1]))),
  position_ids: Schema.optionalKey(Schema.Array(TokenId))
})
export type PackedRowLine = typeof PackedRowLine.Type

/** What is wrong with `row` as a training row of `seqLen` for a vocabulary of `vocabSize`, or undefined. */
export const packedRowProblem = (row: PackedRowLine, seqLen: number, vocabSize: number): string | undefined => {
  if (row.ids.length !== seqLen + 1) return `${row.ids.length} ids, expected seq_len + 1 = ${seqLen + 1}`
  const bad = row.ids.find((t) => t >= vocabSize)
  if (bad !== undefined) return `token id ${bad} is outside the vocabulary of ${vocabSize}`
  if (row.mask !== undefined && row.mask.length !== row.ids.length) return `${row.mask.length} mask values for ${row.ids.length} ids`
  const p = row.position_ids
  if (p !== undefined) {
    if (p.length !== row.ids.length) return `${p.length} position_ids for ${row.ids.length} ids`
    if (p[0] !== 0) return `position_ids start at ${p[0]}, not 0 (a row starts a document)`
    const at = p.findIndex((x, t) => t > 0 && x !== 0 && x !== p[t - 1]! + 1)
    if (at >= 0) return `position_ids[${at}] is ${p[at]} after ${p[at - 1]}: a position continues its document (+1) or starts one (0)`
  }
  return undefined
}

/** A micro-batch laid out for the model: next-token inputs and targets, plus the packing when the rows have one. */
export type PackedBatch = NextTokenBatch & PackedRows

/**
 * Lays out checked rows (see `packedRowProblem`) as a [batch, seq] batch. Rows without mask or position ids give
 * exactly `nextTokenBatch` (the pretraining path); otherwise every row gets target weights, and position ids when
 * any row has them (a row without is one document).
 */
export const packedTokenBatch = (rows: ReadonlyArray<PackedRowLine>, batch: number, seq: number): PackedBatch => {
  const plain = nextTokenBatch(rows.map((r) => r.ids), batch, seq)
  if (rows.every((r) => r.mask === undefined && r.position_ids === undefined)) return plain
  const targetWeights = new Float32Array(batch * seq)
  const withPositions = rows.some((r) => r.position_ids !== undefined)
  const positions = withPositions ? new Int32Array(batch * seq) : undefined
  rows.forEach((row, b) => {
    for (let t = 0; t < seq; t++) {
      const startsDocument = row.position_ids !== undefined && row.position_ids[t + 1] === 0
      targetWeights[b * seq + t] = (row.mask?.[t + 1] ?? 1) === 1 && !startsDocument ? 1 : 0
      if (positions !== undefined) positions[b * seq + t] = row.position_ids?.[t] ?? t
    }
  })
  return positions === undefined ? { ...plain, targetWeights } : { ...plain, targetWeights, positions }
}

/** The targets of a batch that count: Σ of its weights, or every position without them. */
export const countedTargets = (b: PackedBatch): number => {
  if (b.targetWeights === undefined) return b.inputs.length
  let count = 0
  for (let i = 0; i < b.targetWeights.length; i++) count += b.targetWeights[i]!
  return count
}
