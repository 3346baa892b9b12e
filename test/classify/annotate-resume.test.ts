import { describe, expect, it } from "@effect/vitest"
import { spawn } from "node:child_process"
import { existsSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { expectedScore, fakeDocText, startFakeChatServer } from "./fake-chat-server.ts"

const KEY = "sk-live-RESUME-KEY-93be0d1f"

interface Child {
  readonly done: Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>
  readonly kill: () => void
}

// Asynchronous on purpose: the fake server lives in this process and must keep answering while the program runs.
const annotate = (args: ReadonlyArray<string>): Child => {
  const child = spawn(process.execPath, ["--import", "tsx", "programs/annotate.ts", ...args], {
    env: { ...process.env, SMOL_TEST_KEY: KEY },
    stdio: ["ignore", "pipe", "pipe"]
  })
  let stdout = ""
  let stderr = ""
  child.stdout.on("data", (d: Buffer) => (stdout += d.toString()))
  child.stderr.on("data", (d: Buffer) => (stderr += d.toString()))
  return {
    done: new Promise((resolve) => child.on("close", (code, signal) => resolve({ code, signal, stdout, stderr }))),
    kill: () => child.kill("SIGKILL")
  }
}

const completeLines = (file: string): Array<{ id: string }> => {
  if (!existsSync(file)) return []
  const text = readFileSync(file, "utf8")
  return text.slice(0, text.lastIndexOf("\n") + 1).split("\n").filter((l) => l.length > 0).map((l) => JSON.parse(l) as { id: string })
}

const filesUnder = (dir: string): Array<string> =>
  readdirSync(dir).flatMap((name) => (statSync(join(dir, name)).isDirectory() ? filesUnder(join(dir, name)) : [join(dir, name)]))

describe("programs/annotate.ts killed midway", () => {
  it("loses no finished annotation to SIGKILL and repeats no finished request when rerun", async () => {
    const server = await startFakeChatServer({ replyDelayMs: 60 })
    try {
      const dir = mkdtempSync(join(tmpdir(), "smol-annotate-kill-"))
      const n = 60
      writeFileSync(join(dir, "docs.jsonl"), Array.from({ length: n }, (_, i) => JSON.stringify({ id: `doc-${i}`, text: fakeDocText(i) })).join("\n") + "\n")
      const out = join(dir, "out")
      const args = [
        "--input", join(dir, "docs.jsonl"), "--output", out, "--endpoint", server.url, "--model", "fake-llama",
        "--prompt", "fineweb-edu", "--concurrency", "3", "--api-key-env", "SMOL_TEST_KEY", "--progress-interval", "0.2"
      ]
      const cache = join(out, "cache", "annotations.jsonl")

      const first = annotate(args)
      const deadline = Date.now() + 60_000
      while (completeLines(cache).length < 10 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20))
      first.kill()
      const killed = await first.done
      expect(killed.signal).toBe("SIGKILL")
      const finishedBeforeKill = new Set(completeLines(cache).map((e) => e.id))
      expect(finishedBeforeKill.size).toBeGreaterThanOrEqual(10)
      expect(finishedBeforeKill.size).toBeLessThan(n)
      // Nothing that looks complete was left: outputs appear only when their input file is done.
      expect(existsSync(join(out, "annotated", "docs.jsonl"))).toBe(false)

      const second = await annotate(args).done
      expect(second.code).toBe(0)
      const summary = JSON.parse(second.stdout) as { from_cache: number; annotated: number; requests: number }
      expect(summary.annotated).toBe(n)
      expect(summary.from_cache).toBeGreaterThanOrEqual(finishedBeforeKill.size)
      expect(second.stderr).toMatch(/annotate: \d+\/60 docs .* docs\/s · (ETA \d|\d+:\d+ elapsed)/)

      for (let i = 0; i < n; i++) {
        const requests = server.requests.get(i) ?? 0
        if (finishedBeforeKill.has(`doc-${i}`)) expect({ i, requests }).toEqual({ i, requests: 1 })
        // A document in flight at the kill may be asked twice: at most the concurrency.
        else expect(requests).toBeGreaterThanOrEqual(1)
      }
      const repeated = [...server.requests.values()].filter((r) => r > 1).length
      expect(repeated).toBeLessThanOrEqual(3)

      const annotated = readFileSync(join(out, "annotated", "docs.jsonl"), "utf8").split("\n").filter((l) => l.length > 0)
        .map((l) => JSON.parse(l) as { id: string; metadata: { annotation: { score: number } } })
      expect(annotated.map((d) => d.id).sort()).toEqual(Array.from({ length: n }, (_, i) => `doc-${i}`).sort())
      for (const d of annotated) expect(d.metadata.annotation.score).toBe(expectedScore(Number(d.id.slice(4))))
      expect(readFileSync(join(out, "failed", "docs.jsonl"), "utf8")).toBe("")

      // The key reached the server, and nothing else: no output, cache, summary, log line or temp file.
      expect(server.authorizations).toEqual(new Set([`Bearer ${KEY}`]))
      for (const text of [killed.stdout, killed.stderr, second.stdout, second.stderr]) expect(text).not.toContain(KEY)
      for (const file of filesUnder(out)) expect({ file, hasKey: readFileSync(file, "utf8").includes(KEY) }).toEqual({ file, hasKey: false })
      expect(filesUnder(out).filter((f) => f.includes(".tmp-"))).toEqual([])
    } finally {
      await server.close()
    }
  }, 120_000)
})
