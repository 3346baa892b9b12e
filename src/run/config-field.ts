/**
 * How a run-config field is declared: its schema, one line of help, and (when it may be left out) its default.
 * The help and the default live on the field as annotations, so that `docs/run-config.md` is generated from the
 * same Schema that decodes the file (torchtitan's job_config: every field with its default and a help line).
 */
import { Effect, Schema, SchemaTransformation } from "effect"

/** The annotation holding a field's default as a config file would write it (shown in the docs). */
export const DEFAULT_ANNOTATION = "runConfigDefault"

/** A field the config must give. */
export const required = <S extends Schema.Top>(schema: S, description: string) => schema.pipe(Schema.annotateKey({ description }))

/** A field that may be left out; absent, it stays absent (the description says what that means). */
export const optional = <S extends Schema.Top>(schema: S, description: string) =>
  Schema.optionalKey(schema).pipe(Schema.annotateKey({ description }))

/** A field that may be left out; absent, it decodes as `value` (given as a config file would write it). */
export const withDefault = <S extends Schema.Top>(schema: S, value: S["Encoded"], description: string) =>
  schema.pipe(
    Schema.withDecodingDefaultKey(Effect.succeed(value)),
    Schema.annotateKey({ description, [DEFAULT_ANNOTATION]: value })
  )

/** "an integer ≥ 1" and friends, with messages a person reads next to the field's path. */
export const PositiveInt = Schema.Int.pipe(Schema.check(Schema.isGreaterThan(0, { expected: "an integer ≥ 1" })))
  .annotate({ title: "integer ≥ 1" })
export const NonNegativeInt = Schema.Int.pipe(Schema.check(Schema.isGreaterThanOrEqualTo(0, { expected: "an integer ≥ 0" })))
  .annotate({ title: "integer ≥ 0" })
export const PositiveNumber = Schema.Finite.pipe(Schema.check(Schema.isGreaterThan(0, { expected: "a number > 0" })))
  .annotate({ title: "number > 0" })
export const NonNegativeNumber = Schema.Finite.pipe(Schema.check(Schema.isGreaterThanOrEqualTo(0, { expected: "a number ≥ 0" })))
  .annotate({ title: "number ≥ 0" })
export const Fraction = Schema.Finite.pipe(
  Schema.check(Schema.isBetween({ minimum: 0, maximum: 1 }, { expected: "a fraction between 0 and 1" }))
).annotate({ title: "fraction 0–1" })
/** A 0–5 educational score, as the recipe's annotators and classifiers give it (`int_score`). */
export const Score = Schema.Int.pipe(
  Schema.check(Schema.isBetween({ minimum: 0, maximum: 5 }, { expected: "an integer score from 0 to 5" }))
).annotate({ title: "score 0–5" })

/** A name used as a key in dotted paths and in the report: letters, digits, `-`, `_` and `:` (no dots, so paths stay unambiguous). */
export const Name = Schema.String.pipe(
  Schema.check(Schema.isPattern(/^[A-Za-z0-9][A-Za-z0-9_:-]*$/, { expected: "a name of letters, digits, '-', '_' or ':'" }))
).annotate({ title: "name" })

const SUFFIXES: Readonly<Record<string, number>> = { "": 1, k: 1e3, K: 1e3, M: 1e6, B: 1e9, G: 1e9, T: 1e12 }
const TOKEN_COUNT = /^\s*(\d+(?:\.\d+)?)\s*([kKMBGT]?)\s*$/

/** "6T" → 6e12, "2.5B" → 2.5e9, "500M", "10k"; undefined when the text is not such a count. */
export const parseTokenCount = (text: string): number | undefined => {
  const m = TOKEN_COUNT.exec(text)
  return m === null ? undefined : Math.round(Number(m[1]) * SUFFIXES[m[2]!]!)
}

/** The shortest exact suffix form: 6e12 → "6T", 9_890_168_832_000 → "9.890168832T". */
export const formatTokenCount = (n: number): string => {
  for (const [suffix, scale] of [["T", 1e12], ["B", 1e9], ["M", 1e6], ["k", 1e3]] as const) {
    if (n >= scale && parseTokenCount(`${n / scale}${suffix}`) === n) return `${n / scale}${suffix}`
  }
  return String(n)
}

const TokenCountText = Schema.String.pipe(
  Schema.check(Schema.isPattern(TOKEN_COUNT, { expected: "a token count such as 6T, 2.5B, 500M or 10k" })),
  Schema.decodeTo(
    Schema.Number,
    SchemaTransformation.transform({ decode: (s: string) => parseTokenCount(s) ?? Number.NaN, encode: formatTokenCount })
  )
)

/** A number of tokens: a plain integer or a count with a suffix (k, M, B or G, T), as papers write them. */
export const TokenCount = Schema.Union([Schema.Number, TokenCountText]).pipe(
  Schema.check(Schema.isInt({ expected: "a whole number of tokens" }), Schema.isGreaterThan(0, { expected: "a token count > 0" }))
).annotate({ title: "token count (e.g. 6T, 2.5B, 500M)" })
