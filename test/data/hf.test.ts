import { describe, expect, it } from "@effect/vitest"
import { Effect, Stream } from "effect"
import { mkdtempSync, readFileSync } from "node:fs"
import { createServer, type IncomingMessage, type ServerResponse } from "node:http"
import { tmpdir } from "node:os"
import * as path from "node:path"
import { gzipSync } from "node:zlib"
import { readDocuments } from "../../src/data/io/readers.ts"

/**
 * A loopback stand-in for the Hub serving the routes @huggingface/hub calls for listFiles and
 * downloadFileToCacheDir: the tree listing, paths-info, and resolve (with the `Range: bytes=0-0` probe).
 */
const repo = "acme/web"
const files: Record<string, Buffer> = {
  "data/train/0.jsonl": Buffer.from(['{"text":"one","id":"1"}', '{"text":"two","id":"2"}'].join("\n") + "\n"),
  "data/train/1.jsonl.gz": gzipSync(Buffer.from('{"text":"three","id":"3"}\n')),
  "data/README.md": Buffer.from("not data")
}
const COMMIT = "0123456789abcdef0123456789abcdef01234567"
const oid = (p: string) => Buffer.from(p).toString("hex").padEnd(40, "0").slice(0, 40)
const entry = (p: string) => ({ type: "file", path: p, size: files[p]!.length, oid: oid(p), lastCommit: { id: COMMIT, title: "x", date: "2024-01-01T00:00:00.000Z" } })

const handler = (requests: Array<string>) => async (req: IncomingMessage, res: ServerResponse) => {
  const url = new URL(req.url!, "http://127.0.0.1")
  requests.push(`${req.method} ${url.pathname}`)
  const json = (body: unknown) => {
    res.writeHead(200, { "content-type": "application/json" })
    res.end(JSON.stringify(body))
  }
  const tree = `/api/datasets/${repo}/tree/main/`
  if (req.method === "GET" && url.pathname.startsWith(tree)) {
    const prefix = decodeURIComponent(url.pathname.slice(tree.length))
    return json(Object.keys(files).filter((p) => p.startsWith(prefix + "/")).map(entry))
  }
  if (req.method === "POST" && url.pathname === `/api/datasets/${repo}/paths-info/main`) {
    let body = ""
    for await (const chunk of req) body += chunk
    const params = new URLSearchParams(body)
    const asked = params.getAll("paths[]").length > 0 ? params.getAll("paths[]") : (JSON.parse(body || "{}").paths ?? [])
    return json((asked as Array<string>).filter((p) => p in files).map(entry))
  }
  const resolve = `/datasets/${repo}/resolve/main/`
  if (url.pathname.startsWith(resolve)) {
    const p = decodeURIComponent(url.pathname.slice(resolve.length))
    const data = files[p]
    if (data === undefined) {
      res.writeHead(404)
      return res.end()
    }
    const headers = { etag: `"${oid(p)}"`, "x-repo-commit": COMMIT, "accept-ranges": "bytes" }
    const range = /bytes=(\d+)-(\d*)/.exec(req.headers.range ?? "")
    if (range !== null) {
      const start = Number(range[1])
      const end = range[2] === "" ? data.length - 1 : Math.min(Number(range[2]), data.length - 1)
      res.writeHead(206, { ...headers, "content-range": `bytes ${start}-${end}/${data.length}`, "content-length": end - start + 1 })
      return res.end(req.method === "HEAD" ? undefined : data.subarray(start, end + 1))
    }
    res.writeHead(200, { ...headers, "content-length": data.length })
    return res.end(req.method === "HEAD" ? undefined : data)
  }
  res.writeHead(404)
  res.end()
}

describe("hf:// inputs", () => {
  it.live("lists a folder, downloads its JSONL files into the cache and reads them; a second run reads the cache", () =>
    Effect.gen(function*() {
      const requests: Array<string> = []
      const server = createServer((req, res) => void handler(requests)(req, res))
      const port = yield* Effect.promise(() => new Promise<number>((resolve) => server.listen(0, "127.0.0.1", () => resolve((server.address() as { port: number }).port))))
      try {
        const cacheDir = mkdtempSync(path.join(tmpdir(), "smol-hf-"))
        const hf = { hubUrl: `http://127.0.0.1:${port}`, cacheDir }
        const docs = yield* Stream.runCollect(readDocuments([`hf://datasets/${repo}/data/train`], { hf }))
        expect(docs.map((d) => [d.id, d.text])).toEqual([["1", "one"], ["2", "two"], ["3", "three"]])
        expect(requests.some((r) => r.startsWith(`GET /api/datasets/${repo}/tree/main/data/train`))).toBe(true)
        expect(requests.filter((r) => r.includes("/resolve/")).length).toBeGreaterThan(0)
        // Cached: a single file path needs only paths-info, not the file again.
        const before = requests.filter((r) => r.includes("/resolve/")).length
        const again = yield* Stream.runCollect(readDocuments([`hf://datasets/${repo}/data/train/0.jsonl`], { hf }))
        expect(again.map((d) => d.id)).toEqual(["1", "2"])
        expect(requests.filter((r) => r.includes("/resolve/")).length).toBe(before)
        // A file the Hub does not have is a ReadError naming the hf:// path.
        const e = yield* Effect.flip(Stream.runCollect(readDocuments([`hf://datasets/${repo}/data/missing.jsonl`], { hf })))
        expect(e.file).toBe(`hf://datasets/${repo}/data/missing.jsonl`)

        // What was fetched is named by refs/main, as huggingface_hub names it: offline, the folder reads from the
        // cache without a request, and a file never fetched is an error naming its path and the cache.
        expect(readFileSync(path.join(cacheDir, "datasets--acme--web", "refs", "main"), "utf8")).toBe(COMMIT)
        const asked = requests.length
        const offline = yield* Stream.runCollect(readDocuments([`hf://datasets/${repo}/data/train`], { hf: { ...hf, offline: true } }))
        expect(offline.map((d) => d.id)).toEqual(["1", "2", "3"])
        expect(requests.length).toBe(asked)
        const absent = yield* Effect.flip(Stream.runCollect(readDocuments([`hf://datasets/${repo}/data/test`], { hf: { ...hf, offline: true } })))
        expect(absent.file).toBe(`hf://datasets/${repo}/data/test`)
        expect(absent.message).toContain("not in the Hugging Face cache")
        expect(requests.length).toBe(asked)
      } finally {
        server.close()
      }
    }), { timeout: 20_000 })
})
