/**
 * The full run's curation of `hf://datasets/...` sources on a machine that cannot reach the Hub: a Hugging Face
 * cache filled beforehand (huggingface_hub's layout, found through HF_HOME) is read with HF_HUB_OFFLINE=1 through
 * `curateSource`, as a run config's source is; a path the cache lacks is an error naming it, offline or with the
 * Hub unreachable.
 */
import { NodeServices } from "@effect/platform-node"
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { Effect, Schema, Stream } from "effect"
import { parquetWriteBuffer } from "hyparquet-writer"
import { createHash } from "node:crypto"
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs"
import { createServer } from "node:net"
import { tmpdir } from "node:os"
import * as path from "node:path"
import { readDocuments } from "../../src/data/io/readers.ts"
import { Source } from "../../src/run/config.ts"
import { curateSource } from "../../src/run/pipeline/curate.ts"

const root = mkdtempSync(path.join(tmpdir(), "smol-curate-hf-"))
const hfHome = path.join(root, "hf-home")
const edu = path.join(hfHome, "hub", "datasets--acme--edu")
const MAIN = "1111111111111111111111111111111111111111"
const V1 = "2222222222222222222222222222222222222222"

/** A file in a snapshot as huggingface_hub stores it: the bytes in blobs/<hash>, a relative symlink in snapshots/<commit>/. */
const cacheFile = (commit: string, inRepo: string, bytes: Uint8Array, storage = edu) => {
  const blob = path.join(storage, "blobs", createHash("sha256").update(bytes).digest("hex"))
  mkdirSync(path.dirname(blob), { recursive: true })
  writeFileSync(blob, bytes)
  const pointer = path.join(storage, "snapshots", commit, inRepo)
  mkdirSync(path.dirname(pointer), { recursive: true })
  symlinkSync(path.relative(path.dirname(pointer), blob), pointer)
}
const setRef = (revision: string, commit: string) => {
  mkdirSync(path.join(edu, "refs"), { recursive: true })
  writeFileSync(path.join(edu, "refs", revision), commit)
}

/** FineWeb-Edu-shaped rows: text, id, and the int_score column the threshold reads. */
// Texts differ in words, not only in digits: exact dedup compares normalized text, which folds digits.
const topics = ["fractions", "decimals", "angles", "volcanoes", "tides", "verbs"]
const rows = Array.from({ length: 24 }, (_, i) => ({
  id: `edu-${i}`,
  text: `A lesson on ${topics[i % 6]} for the ${["first", "second", "third", "fourth"][Math.floor(i / 6)]} week.`,
  int_score: i % 6
}))
// The Parquet shard holds the first 14 rows, the JSONL one the rest and a copy of row 2's text (exact dedup drops it).
const parquetRows = rows.slice(0, 14)
const jsonlRows = [...rows.slice(14), { id: "edu-dup", text: rows[2]!.text, int_score: 5 }]

const variables = ["HF_HOME", "HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE", "HF_HUB_OFFLINE", "HF_ENDPOINT"] as const
const saved = new Map(variables.map((v) => [v, process.env[v]]))
const setEnv = (v: (typeof variables)[number], value: string | undefined) => (value === undefined ? delete process.env[v] : (process.env[v] = value))

/** A loopback port nothing listens on: the Hub, unreachable. */
const closedPort = () =>
  new Promise<number>((resolve) => {
    const s = createServer().listen(0, "127.0.0.1", () => {
      const { port } = s.address() as { port: number }
      s.close(() => resolve(port))
    })
  })
let unreachableHub = ""

beforeAll(async () => {
  const parquet = parquetWriteBuffer({
    columnData: [
      { name: "text", data: parquetRows.map((r) => r.text), type: "STRING" },
      { name: "id", data: parquetRows.map((r) => r.id), type: "STRING" },
      { name: "int_score", data: parquetRows.map((r) => r.int_score), type: "INT32" }
    ]
  })
  cacheFile(MAIN, "data/train-00000-of-00002.parquet", new Uint8Array(parquet))
  cacheFile(MAIN, "data/train-00001-of-00002.jsonl", Buffer.from(jsonlRows.map((r) => JSON.stringify(r)).join("\n") + "\n"))
  cacheFile(MAIN, "README.md", Buffer.from("# acme/edu\n"))
  setRef("main", MAIN)
  cacheFile(V1, "data/train-00000-of-00001.jsonl", Buffer.from(JSON.stringify({ id: "old-0", text: "The first release.", int_score: 4 }) + "\n"))
  setRef("v1", V1)
  // What @huggingface/hub alone leaves (it writes no refs): one snapshot, the only one `main` can mean.
  cacheFile(MAIN, "train.jsonl", Buffer.from(JSON.stringify({ id: "js-0", text: "Fetched by another tool." }) + "\n"), path.join(hfHome, "hub", "datasets--acme--norefs"))
  unreachableHub = `http://127.0.0.1:${await closedPort()}`
  // HF_HOME as a user sets it (the cache is HF_HOME/hub); the endpoint is a dead port, so any request would fail.
  setEnv("HF_HOME", hfHome)
  setEnv("HF_HUB_CACHE", undefined)
  setEnv("HUGGINGFACE_HUB_CACHE", undefined)
  setEnv("HF_HUB_OFFLINE", "1")
  setEnv("HF_ENDPOINT", unreachableHub)
})
afterAll(() => {
  for (const v of variables) setEnv(v, saved.get(v))
})

const sourceOf = (paths: ReadonlyArray<string>) =>
  Schema.decodeUnknownSync(Source)({ paths, filters: [], dedup: "exact", threshold: { minScore: 3 } })

const curate = (name: string, paths: ReadonlyArray<string>) =>
  curateSource({ name, source: sourceOf(paths), dir: path.join(root, name), seed: 1, annotator: undefined, tasks: 2, log: () => undefined })

const idsIn = (dir: string): Array<string> =>
  readdirSync(dir).filter((f) => f.endsWith(".jsonl")).flatMap((f) =>
    readFileSync(path.join(dir, f), "utf8").split("\n").filter((l) => l.length > 0).map((l) => (JSON.parse(l) as { id: string }).id)).sort()

describe("hf:// sources from the Hugging Face cache", () => {
  it.live("with HF_HUB_OFFLINE=1, curates an hf:// folder (Parquet and JSONL) from the cache HF_HOME names", () =>
    Effect.gen(function*() {
      const curated = yield* curate("edu", ["hf://datasets/acme/edu/data"])
      const { funnel } = curated
      expect(funnel.documents).toBe(rows.length + 1)
      expect(funnel.bytes).toBe([...rows, jsonlRows.at(-1)!].reduce((s, r) => s + Buffer.byteLength(r.text), 0))
      expect(funnel.steps.map((s) => [s.name, s.documentsIn, s.documentsKept])).toEqual([
        ["exact", rows.length + 1, rows.length],
        ["threshold", rows.length, rows.filter((r) => r.int_score >= 3).length]
      ])
      expect(idsIn(path.join(root, "edu", "curated"))).toEqual(rows.filter((r) => r.int_score >= 3).map((r) => r.id).sort())
    }).pipe(Effect.provide(NodeServices.layer)), 20_000)

  it.live("reads the snapshot an @revision's ref names, and a cache's only snapshot when it has no refs", () =>
    Effect.gen(function*() {
      const docs = yield* Stream.runCollect(readDocuments(["hf://datasets/acme/edu@v1/data"]))
      expect(docs.map((d) => [d.id, d.metadata["int_score"]])).toEqual([["old-0", 4]])
      const main = yield* Stream.runCollect(readDocuments(["hf://datasets/acme/edu/data/train-00000-of-00002.parquet"]))
      expect(main.map((d) => d.id)).toEqual(parquetRows.map((r) => r.id))
      const noRefs = yield* Stream.runCollect(readDocuments(["hf://datasets/acme/norefs/train.jsonl"]))
      expect(noRefs.map((d) => d.id)).toEqual(["js-0"])
    }), 10_000)

  it.live("an hf:// path the cache lacks is a ReadError naming it: offline, and online with the Hub unreachable", () =>
    Effect.gen(function*() {
      const missing = "hf://datasets/acme/edu/data/validation"
      const offline = yield* Effect.flip(curate("missing-offline", [missing]))
      expect(offline._tag).toBe("ReadError")
      if (offline._tag !== "ReadError") return
      expect(offline.file).toBe(missing)
      expect(offline.message).toBe(`${missing}: not in the Hugging Face cache ${edu} at revision main, and HF_HUB_OFFLINE is set: fetch it once online (or unset HF_HUB_OFFLINE)`)

      const other = "hf://datasets/acme/other/data.jsonl"
      setEnv("HF_HUB_OFFLINE", undefined)
      const online = yield* Effect.flip(curate("missing-online", [other])).pipe(Effect.ensuring(Effect.sync(() => setEnv("HF_HUB_OFFLINE", "1"))))
      expect(online._tag).toBe("ReadError")
      if (online._tag !== "ReadError") return
      expect(online.file).toBe(other)
      expect(online.message).toContain(`${other}: cannot fetch from the Hub (${unreachableHub}): fetch failed`)
      expect(online.message).toContain("ECONNREFUSED")
      expect(online.message).toContain("HF_HUB_OFFLINE=1")
      expect(online.message).not.toContain("\n")
    }).pipe(Effect.provide(NodeServices.layer)), 20_000)
})
