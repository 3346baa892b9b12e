/**
 * An in-process OpenAI-compatible chat-completions server for the annotation tests. Each document's text carries
 * its own instructions: `DOC[n]` names it (its score is `n % 6`, so a reply handed to the wrong document is
 * caught) and `FAULTS[a,b,…]` lists what its 1st, 2nd, … request gets before a normal reply:
 * `429` (with `Retry-After`), `500`, `503`, `400`, `401`, `malformed` (200 with a non-JSON body), `nochoices`
 * (200 JSON without choices), `drop` (socket destroyed), `slow` (reply after `slowMs`), `noscore` (a reply without
 * a score, given on every request from there on).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http"
import type { AddressInfo } from "node:net"

export const expectedScore = (n: number): number => n % 6

export interface FakeChatServer {
  readonly url: string
  /** Requests per document number. */
  readonly requests: Map<number, number>
  /** Arrival times (ms) of each document's requests. */
  readonly arrivals: Map<number, Array<number>>
  readonly authorizations: Set<string>
  readonly close: () => Promise<void>
}

export interface FakeChatServerOptions {
  readonly slowMs?: number
  readonly retryAfter?: string
  /** Delay of every normal reply (to keep a run busy long enough to be killed). */
  readonly replyDelayMs?: number
  /** 401 bodies echo the Authorization header, as a careless proxy might. */
  readonly echoAuthorization?: boolean
}

const reply = (res: ServerResponse, status: number, body: string, headers: Record<string, string> = {}) => {
  res.writeHead(status, { "content-type": "application/json", ...headers })
  res.end(body)
}

const completion = (content: string) =>
  JSON.stringify({
    id: "x",
    object: "chat.completion",
    choices: [{ index: 0, message: { role: "assistant", content }, finish_reason: "stop" }],
    usage: { prompt_tokens: 100, completion_tokens: 20, total_tokens: 120 }
  })

export const startFakeChatServer = async (options: FakeChatServerOptions = {}): Promise<FakeChatServer> => {
  const requests = new Map<number, number>()
  const arrivals = new Map<number, Array<number>>()
  const authorizations = new Set<string>()
  const handle = (req: IncomingMessage, res: ServerResponse, body: string) => {
    authorizations.add(req.headers.authorization ?? "")
    if (req.method !== "POST" || req.url !== "/v1/chat/completions") return reply(res, 404, JSON.stringify({ error: "not found" }))
    const prompt = String((JSON.parse(body) as { messages: Array<{ content: string }> }).messages[0]!.content)
    const n = Number(/DOC\[(\d+)\]/.exec(prompt)![1])
    const count = (requests.get(n) ?? 0) + 1
    requests.set(n, count)
    arrivals.set(n, [...(arrivals.get(n) ?? []), performance.now()])
    const faults = /FAULTS\[([^\]]*)\]/.exec(prompt)?.[1]?.split(",") ?? []
    const noScoreFrom = faults.indexOf("noscore")
    const fault = noScoreFrom >= 0 && count > noScoreFrom ? "noscore" : faults[count - 1]
    const ok = () => reply(res, 200, completion(`The extract DOC[${n}] is fine.\nEducational score: ${expectedScore(n)}`))
    switch (fault) {
      case "429":
        return reply(res, 429, JSON.stringify({ error: "rate limited" }), { "retry-after": options.retryAfter ?? "0.05" })
      case "500":
      case "503":
      case "400":
        return reply(res, Number(fault), JSON.stringify({ error: `fault ${fault}` }))
      case "401":
        return reply(res, 401, JSON.stringify({ error: `bad key ${options.echoAuthorization === true ? req.headers.authorization : ""}` }))
      case "malformed":
        return reply(res, 200, "{\"choices\": [ this is not json")
      case "nochoices":
        return reply(res, 200, JSON.stringify({ object: "chat.completion" }))
      case "drop":
        return req.socket.destroy()
      case "slow":
        return setTimeout(ok, options.slowMs ?? 1000)
      case "noscore":
        return reply(res, 200, completion(`The extract DOC[${n}] defies scoring.`))
      default:
        return options.replyDelayMs === undefined ? ok() : setTimeout(ok, options.replyDelayMs)
    }
  }
  const server: Server = createServer((req, res) => {
    const chunks: Array<Buffer> = []
    req.on("data", (c: Buffer) => chunks.push(c))
    req.on("end", () => handle(req, res, Buffer.concat(chunks).toString("utf8")))
  })
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}/v1`,
    requests,
    arrivals,
    authorizations,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      })
  }
}

/** A document for the fake server: `DOC[n]` plus its faults. */
export const fakeDocText = (n: number, faults: ReadonlyArray<string> = []): string =>
  `Page DOC[${n}] about fractions.${faults.length > 0 ? ` FAULTS[${faults.join(",")}]` : ""}`
