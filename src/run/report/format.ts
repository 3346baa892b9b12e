/**
 * How the report writes numbers: the same figure looks the same in every table, summary and chart label. Absent
 * or undefined figures print as "–", never as "NaN" or "undefined".
 */

const DASH = "–"

const isNumber = (x: number | undefined): x is number => x !== undefined && Number.isFinite(x)

/** 12,345 */
export const count = (n: number | undefined): string => isNumber(n) ? Math.round(n).toLocaleString("en-US") : DASH

/** 2.31M, 880k, 512: token counts as papers write them. */
export const tokens = (n: number | undefined): string => {
  if (!isNumber(n)) return DASH
  for (const [suffix, scale] of [["T", 1e12], ["B", 1e9], ["M", 1e6], ["k", 1e3]] as const) {
    if (Math.abs(n) >= scale) return `${Number((n / scale).toPrecision(3))}${suffix}`
  }
  return String(Math.round(n))
}

/** 31.4 MB */
export const bytes = (n: number | undefined): string => {
  if (!isNumber(n)) return DASH
  for (const [suffix, scale] of [["GB", 1e9], ["MB", 1e6], ["kB", 1e3]] as const) {
    if (n >= scale) return `${Number((n / scale).toPrecision(3))} ${suffix}`
  }
  return `${Math.round(n)} B`
}

/** 42.5% of a 0–1 share. */
export const percent = (share: number | undefined, digits = 1): string => isNumber(share) ? `${(100 * share).toFixed(digits)}%` : DASH

/** A fixed number of decimals. */
export const fixed = (x: number | undefined, digits = 3): string => isNumber(x) ? x.toFixed(digits) : DASH

/** A learning rate or other small number: 3e-3 → 0.003, 5e-5 → 5.0e-5. */
export const small = (x: number | undefined): string => !isNumber(x) ? DASH : x !== 0 && Math.abs(x) < 1e-3 ? x.toExponential(1) : String(Number(x.toPrecision(3)))

/** 9 min 31 s, 1 h 04 min, 4.2 s */
export const duration = (seconds: number | undefined): string => {
  if (!isNumber(seconds)) return DASH
  if (seconds < 60) return `${seconds.toFixed(1)} s`
  const s = Math.round(seconds)
  if (s < 3600) return `${Math.floor(s / 60)} min ${String(s % 60).padStart(2, "0")} s`
  return `${Math.floor(s / 3600)} h ${String(Math.floor((s % 3600) / 60)).padStart(2, "0")} min`
}

/** `part / whole`, undefined when `whole` is 0 (a share of nothing is not a number). */
export const ratio = (part: number, whole: number): number | undefined => whole === 0 ? undefined : part / whole

/** Text for HTML: `&`, `<`, `>`, `"` and `'` escaped. */
export const escapeHtml = (text: string): string =>
  text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;").replace(/'/g, "&#39;")
