/**
 * Annotation overhead: documents per second through the whole annotation stage (read JSONL, render the prompt,
 * POST, parse the score, append to the cache, write the outputs) against an in-process OpenAI-compatible
 * endpoint that answers at once, next to the same requests issued by a plain sequential `fetch` loop (Node's
 * built-in fetch, render + POST + JSON.parse + regex, nothing written). Against a real LLM endpoint the reply time
 * dominates both; this measures what the stage adds per request.
 *
 *   npx tsx bench/annotate.ts [--docs 1000]
 */
import { NodeHttpClient, NodeServices } from "@effect/platform-node"
import { Effect, Layer } from "effect"
import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { annotateFiles } from "../src/classify/annotate/annotate-files.ts"
import type { AnnotationPrompt } from "../src/classify/annotate/AnnotationPrompt.ts"
import { Annotator } from "../src/classify/annotate/Annotator.ts"
import { chatCompletionsUrl, parseChatBody } from "../src/classify/annotate/chat-completion.ts"
import { builtinPrompt } from "../src/classify/annotate/prompts.ts"
import { fakeDocText, startFakeChatServer } from "../test/classify/fake-chat-server.ts"

const arg = (name: string, fallback: number) => {
  const i = process.argv.indexOf(`--${name}`)
  return i >= 0 ? Number(process.argv[i + 1]) : fallback
}
const docs = arg("docs", 1000)
const prompt = builtinPrompt("fineweb-edu") as AnnotationPrompt
const server = await startFakeChatServer()
const dir = mkdtempSync(join(tmpdir(), "smol-bench-annotate-"))
const input = join(dir, "docs.jsonl")
const texts = Array.from({ length: docs }, (_, n) => fakeDocText(n) + " " + "Fractions name parts of a whole. ".repeat(40))
writeFileSync(input, texts.map((text, n) => JSON.stringify({ id: `doc-${n}`, text })).join("\n") + "\n")

let runs = 0
/** Documents per second through the stage; a fresh OUT each time, so nothing comes from the cache. */
const stage = async (concurrency: number): Promise<number> => {
  const out = join(dir, `out-${runs++}`)
  const summary = await Effect.runPromise(
    annotateFiles({ inputs: [input], output: out, prompt, concurrency }).pipe(
      Effect.provide(Annotator.layer({ endpoint: server.url, model: "bench" }).pipe(Layer.provide(NodeHttpClient.layerUndici))),
      Effect.provide(NodeServices.layer)
    )
  )
  rmSync(out, { recursive: true, force: true })
  if (summary.annotated !== docs || summary.requests !== docs) throw new Error(`bench run annotated ${summary.annotated}/${docs} in ${summary.requests} requests`)
  return docs / summary.seconds
}

const sequentialFetch = async (): Promise<number> => {
  const url = chatCompletionsUrl(server.url)
  const t = performance.now()
  for (const text of texts) {
    const res = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ model: "bench", messages: [{ role: "user", content: prompt.render(text) }] })
    })
    const body = parseChatBody(await res.text())
    if ("problem" in body || typeof prompt.parseScore(body.completion) !== "number") throw new Error("reference loop got no score")
  }
  return docs / ((performance.now() - t) / 1000)
}

const best = async (f: () => Promise<number>) => {
  await f() // warm-up: JIT, connection pool
  let top = 0
  for (let i = 0; i < 3; i++) top = Math.max(top, await f())
  return top
}

const ours1 = await best(() => stage(1))
const reference = await best(sequentialFetch)
const ours16 = await best(() => stage(16))
await server.close()
rmSync(dir, { recursive: true, force: true })

console.log(`\nAnnotation against an instant in-process endpoint, ${docs} documents of ${texts[0]!.length} characters (best of 3 after a warm-up)\n`)
console.log("| | requests/s |")
console.log("|---|---:|")
console.log(`| annotate stage, concurrency 1 | ${ours1.toFixed(0)} |`)
console.log(`| plain sequential fetch loop (no cache, no outputs) | ${reference.toFixed(0)} |`)
console.log(`| annotate stage, concurrency 16 | ${ours16.toFixed(0)} |`)
console.log(JSON.stringify({
  metric: "annotation requests/s against an instant local endpoint, one request in flight",
  unit: "requests/s",
  ours: +ours1.toFixed(1),
  reference: +reference.toFixed(1),
  reference_name: "plain sequential loop of Node's built-in fetch (render, POST, JSON.parse, score regex; no cache, no outputs)",
  ratio: +(ours1 / reference).toFixed(3),
  ours_concurrency_16: +ours16.toFixed(1),
  documents: docs
}))
