/**
 * One POST to an OpenAI-compatible `/v1/chat/completions` (vLLM, TGI, OpenAI), and what its outcome means for
 * the retry loop. The messages are one user turn holding the rendered prompt, as the FineWeb-Edu and FineMath
 * annotation runs sent them.
 */
import { Duration, Effect, Option, Redacted } from "effect"
import { HttpClient, HttpClientRequest } from "effect/http"
import type { AnnotationFailureReason } from "./errors.ts"

export interface TokenUsage {
  readonly prompt_tokens: number
  readonly completion_tokens: number
}

export interface ChatRequest {
  /** Base URL ending in `/v1`. */
  readonly endpoint: string
  readonly model: string
  readonly apiKey: Redacted.Redacted<string> | undefined
  readonly timeoutMs: number
  readonly temperature?: number | undefined
  readonly maxTokens?: number | undefined
}

export type AttemptOutcome =
  | { readonly _tag: "Reply"; readonly completion: string; readonly usage: TokenUsage }
  /** Worth another attempt: throttling, a server fault, a dropped connection, a timeout, a garbled body. */
  | { readonly _tag: "Retry"; readonly reason: Exclude<AnnotationFailureReason, "no_score" | "rejected">; readonly message: string; readonly retryAfter?: string | undefined }
  /** The server refused this document (400, 413, 422: too long, bad content); asking again would not help. */
  | { readonly _tag: "Rejected"; readonly message: string }
  /** The server refuses every request (401, 403: key; 404: URL or model); the run must stop. */
  | { readonly _tag: "Fatal"; readonly message: string }

export const chatCompletionsUrl = (endpoint: string): string => `${endpoint.replace(/\/+$/, "")}/chat/completions`

/** Error text must never carry the key, even if a server echoes the request back in its error body. */
export const scrubKey = (text: string, apiKey: Redacted.Redacted<string> | undefined): string => {
  const key = apiKey === undefined ? "" : Redacted.value(apiKey)
  return key.length > 0 ? text.split(key).join("[REDACTED]") : text
}

const excerpt = (body: string): string => {
  const flat = body.replace(/\s+/g, " ").trim()
  return flat.length > 200 ? `${flat.slice(0, 200)}…` : flat
}

/** The socket-level reason (ECONNREFUSED, "other side closed") under the client's "Transport error". */
const causeText = (reason: { readonly cause?: unknown }): string => {
  const parts: Array<string> = []
  let c: unknown = reason.cause
  for (let depth = 0; depth < 3 && c instanceof Error; depth++) {
    const code = (c as { code?: unknown }).code
    parts.push(typeof code === "string" ? `${c.message} (${code})` : c.message)
    c = c.cause
  }
  return parts.length === 0 ? "" : `: ${parts.join(": ")}`
}

const readUsage = (u: unknown): TokenUsage => {
  const o = (u !== null && typeof u === "object" ? u : {}) as Record<string, unknown>
  const n = (v: unknown) => (typeof v === "number" && Number.isFinite(v) ? v : 0)
  return { prompt_tokens: n(o["prompt_tokens"]), completion_tokens: n(o["completion_tokens"]) }
}

/** `choices[0].message.content` and `usage` from a 200 body, or what is wrong with it. */
export const parseChatBody = (body: string): { readonly completion: string; readonly usage: TokenUsage } | { readonly problem: string } => {
  let json: unknown
  try {
    json = JSON.parse(body)
  } catch {
    return { problem: `reply is not JSON: ${excerpt(body)}` }
  }
  const choices = (json as { choices?: unknown } | null)?.choices
  const first = Array.isArray(choices) ? (choices[0] as { message?: { content?: unknown } } | undefined) : undefined
  const content = first?.message?.content
  if (typeof content !== "string") return { problem: `reply has no choices[0].message.content: ${excerpt(body)}` }
  return { completion: content, usage: readUsage((json as { usage?: unknown }).usage) }
}

const classifyStatus = (status: number, body: string, retryAfter: string | undefined): AttemptOutcome => {
  const message = `HTTP ${status}: ${excerpt(body)}`
  if (status === 429) return { _tag: "Retry", reason: "rate_limited", message, retryAfter }
  if (status === 408) return { _tag: "Retry", reason: "timeout", message, retryAfter }
  if (status >= 500) return { _tag: "Retry", reason: "server_error", message, retryAfter }
  if (status === 401 || status === 403 || status === 404) return { _tag: "Fatal", message }
  return { _tag: "Rejected", message }
}

/** One attempt. Never fails: every outcome, transport errors included, is a value for the retry loop to judge. */
export const postChatCompletion = (
  client: HttpClient.HttpClient,
  request: ChatRequest,
  prompt: string
): Effect.Effect<AttemptOutcome> => {
  const body: Record<string, unknown> = { model: request.model, messages: [{ role: "user", content: prompt }] }
  if (request.temperature !== undefined) body["temperature"] = request.temperature
  if (request.maxTokens !== undefined) body["max_tokens"] = request.maxTokens
  let http = HttpClientRequest.post(chatCompletionsUrl(request.endpoint)).pipe(HttpClientRequest.bodyJsonUnsafe(body))
  if (request.apiKey !== undefined) http = HttpClientRequest.bearerToken(http, request.apiKey)
  const exchange = client.execute(http).pipe(
    Effect.flatMap((res) => Effect.map(res.text, (text) => ({ status: res.status, retryAfter: res.headers["retry-after"], text })))
  )
  return exchange.pipe(
    Effect.timeoutOption(Duration.millis(request.timeoutMs)),
    Effect.map((o): AttemptOutcome => {
      if (Option.isNone(o)) return { _tag: "Retry", reason: "timeout", message: `no reply within ${request.timeoutMs / 1000} s` }
      const { status, retryAfter, text } = o.value
      if (status < 200 || status >= 300) return classifyStatus(status, text, retryAfter)
      const parsed = parseChatBody(text)
      return "problem" in parsed ? { _tag: "Retry", reason: "malformed_response", message: parsed.problem } : { _tag: "Reply", ...parsed }
    }),
    // The client's own error text names the request, not its headers; it is scrubbed again by the caller anyway.
    Effect.catch((e) => Effect.succeed<AttemptOutcome>({ _tag: "Retry", reason: "connection", message: `connection: ${e.message}${causeText(e.reason)}` }))
  )
}
