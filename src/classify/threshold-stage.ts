/**
 * The threshold stage: keep a document whose `int_score` reaches the threshold of its language, drop the rest
 * with `filter_reason: below_threshold_<t>` (FineWeb-Edu keeps int_score ≥ 3; Stack-Edu keeps ≥ 3 for every
 * language but Java, which "performed better with threshold 2", recipe notes §5). It is a `DocFilter`, so it
 * runs, counts and writes its dropped documents exactly as the FineWeb filters do.
 */
import type { Document } from "../data/Document.ts"
import { type DocFilter, drop, keep } from "../data/filters/Filter.ts"
import { documentField, numericField } from "./document-field.ts"

export interface ThresholdRule {
  /** Keep int_score ≥ this (default for every language without an override). */
  readonly threshold: number
  /** Per-language thresholds, matched case-insensitively against the language field: `{ java: 2 }`. */
  readonly overrides?: Readonly<Record<string, number>>
  /** Where a document's language is (default `metadata.language`). */
  readonly languageKey?: string
  /** Where its integer score is (default `metadata.int_score`, written by the classify stage). */
  readonly scoreKey?: string
  /**
   * Documents below the threshold kept anyway, a fraction per integer score (`{ "2": 0.3 }`), as SmolLM2's
   * 135M/360M runs downsampled DCLM's low scores ([P] §6). Which ones is a pure function of the id and `seed`,
   * so the choice does not depend on how the input was split into tasks. Kept ones carry `metadata.downsampled`.
   */
  readonly downsample?: Readonly<Record<string, number>>
  readonly seed?: number
}

/** The stats block and dropped/ subfolder of the stage. */
export const THRESHOLD_ID = "threshold"
/** Why a document without a score was dropped: it did not come through the classify stage. */
export const MISSING_SCORE_REASON = "missing_int_score"

export const belowThresholdReason = (t: number): string => `below_threshold_${t}`

/** Stack-Edu's rule (recipe notes §5): 3, Java 2. */
export const STACK_EDU_THRESHOLDS: ThresholdRule = { threshold: 3, overrides: { java: 2 } }

/** The threshold that applies to `doc`. */
export const thresholdOf = (rule: ThresholdRule, doc: Document): number => {
  if (rule.overrides === undefined) return rule.threshold
  const language = documentField(doc, rule.languageKey ?? "metadata.language")
  if (typeof language !== "string") return rule.threshold
  const wanted = language.toLowerCase()
  for (const [name, t] of Object.entries(rule.overrides)) if (name.toLowerCase() === wanted) return t
  return rule.threshold
}

/** A uniform draw in [0, 1) from a document id and a seed (FNV-1a over both, then a 32-bit finalizer). */
export const idUniform = (id: string, seed: number): number => {
  let h = 0x811c9dc5 ^ (seed >>> 0)
  for (let i = 0; i < id.length; i++) h = Math.imul(h ^ id.charCodeAt(i), 0x01000193)
  h ^= h >>> 16
  h = Math.imul(h, 0x85ebca6b)
  h ^= h >>> 13
  h = Math.imul(h, 0xc2b2ae35)
  h ^= h >>> 16
  return (h >>> 0) / 2 ** 32
}

export const thresholdFilter = (rule: ThresholdRule): DocFilter => {
  const scoreKey = rule.scoreKey ?? "metadata.int_score"
  const downsample = rule.downsample ?? {}
  return {
    id: THRESHOLD_ID,
    filter: (doc) => {
      const score = numericField(doc, scoreKey)
      if (score === undefined) return drop(MISSING_SCORE_REASON)
      const t = thresholdOf(rule, doc)
      if (score >= t) return keep(doc)
      const fraction = downsample[String(Math.floor(score))] ?? 0
      if (fraction > 0 && idUniform(doc.id, rule.seed ?? 0) < fraction) return keep({ ...doc, metadata: { ...doc.metadata, downsampled: true } })
      return drop(belowThresholdReason(t))
    }
  }
}

/**
 * `LANGUAGE=T` from the command line (`java=2`) into the overrides; a malformed one is named in the problem.
 */
export const parseThresholdOverrides = (items: ReadonlyArray<string>): Record<string, number> | { readonly problem: string } => {
  const out: Record<string, number> = {}
  for (const item of items) {
    const m = /^([^=]+)=(-?\d+(?:\.\d+)?)$/.exec(item.trim())
    if (m === null) return { problem: `--threshold-override ${item}: expected LANGUAGE=THRESHOLD, e.g. java=2` }
    out[m[1]!.trim().toLowerCase()] = Number(m[2])
  }
  return out
}
