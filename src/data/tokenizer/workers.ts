/**
 * Batch encoding across worker threads. Each worker holds its own copy of the tokenizer (and its own word cache);
 * a batch is cut into chunks of about `chunkChars` characters that idle workers take in turn, so one long document
 * does not leave the other threads waiting. Each text is encoded whole by one worker with the same code as the
 * single-thread path, so the ids cannot differ from `BpeTokenizer.encode`.
 */
import { Worker } from "node:worker_threads"

interface Reply {
  readonly id?: number
  readonly ready?: boolean
  readonly ids?: Uint32Array
  readonly offsets?: Uint32Array
  readonly error?: string
}

interface Job {
  readonly texts: ReadonlyArray<string>
  readonly first: number
  readonly results: Array<Uint32Array>
  readonly done: () => void
  readonly fail: (e: Error) => void
}

const workerUrl = new URL("./worker.ts", import.meta.url)

export class EncoderPool {
  readonly threads: number
  private readonly workers: Worker[] = []
  private readonly idle: Worker[] = []
  private readonly queue: Array<{ job: Job; start: number; end: number; addSpecialTokens: boolean }> = []
  private readonly running = new Map<Worker, { job: Job; start: number; requestId: number }>()
  private readonly ready: Promise<void>
  private nextRequest = 0
  private broken: Error | undefined

  private constructor(tokenizerJson: string, threads: number) {
    this.threads = threads
    const started: Array<Promise<void>> = []
    for (let i = 0; i < threads; i++) {
      const worker = new Worker(workerUrl, { workerData: { tokenizerJson } })
      this.workers.push(worker)
      started.push(
        new Promise<void>((resolve, reject) => {
          worker.once("error", reject)
          worker.once("message", (m: Reply) => (m.ready ? resolve() : reject(new Error("worker did not start"))))
        })
      )
      worker.on("message", (m: Reply) => this.onReply(worker, m))
      worker.on("error", (e) => this.onFailure(e))
      worker.on("exit", (code) => {
        if (code !== 0) this.onFailure(new Error(`tokenizer worker exited with code ${code}`))
      })
    }
    this.ready = Promise.all(started).then(() => {
      this.idle.push(...this.workers)
    })
  }

  /** Starts `threads` workers and waits until each has built its tokenizer. */
  static async start(tokenizerJson: string, threads: number): Promise<EncoderPool> {
    const pool = new EncoderPool(tokenizerJson, Math.max(1, threads))
    try {
      await pool.ready
    } catch (e) {
      await pool.close()
      throw e
    }
    return pool
  }

  /** Ids of every text, in input order. */
  encodeBatch(texts: ReadonlyArray<string>, options?: { readonly addSpecialTokens?: boolean; readonly chunkChars?: number }): Promise<Array<Uint32Array>> {
    if (this.broken !== undefined) return Promise.reject(this.broken)
    const addSpecialTokens = options?.addSpecialTokens ?? true
    const chunkChars = options?.chunkChars ?? 256 * 1024
    const results: Array<Uint32Array> = new Array(texts.length)
    if (texts.length === 0) return Promise.resolve(results)
    return new Promise((resolve, reject) => {
      let pending = 0
      let failed = false
      const job: Job = {
        texts,
        first: 0,
        results,
        done: () => {
          if (--pending === 0 && !failed) resolve(results)
        },
        fail: (e) => {
          if (!failed) {
            failed = true
            reject(e)
          }
        }
      }
      let start = 0
      while (start < texts.length) {
        let end = start
        let chars = 0
        while (end < texts.length && (end === start || chars + texts[end]!.length <= chunkChars)) chars += texts[end++]!.length
        this.queue.push({ job, start, end, addSpecialTokens })
        pending++
        start = end
      }
      this.pump()
    })
  }

  private pump(): void {
    while (this.idle.length > 0 && this.queue.length > 0) {
      const worker = this.idle.pop()!
      const { job, start, end, addSpecialTokens } = this.queue.shift()!
      const requestId = this.nextRequest++
      this.running.set(worker, { job, start, requestId })
      worker.postMessage({ id: requestId, texts: job.texts.slice(start, end), addSpecialTokens })
    }
  }

  private onReply(worker: Worker, m: Reply): void {
    if (m.ready) return
    const task = this.running.get(worker)
    if (task === undefined || task.requestId !== m.id) return
    this.running.delete(worker)
    this.idle.push(worker)
    if (m.error !== undefined) task.job.fail(new Error(`tokenizer worker failed: ${m.error}`))
    else {
      const ids = m.ids!
      const offsets = m.offsets!
      for (let i = 0; i + 1 < offsets.length; i++) task.job.results[task.start + i] = ids.subarray(offsets[i]!, offsets[i + 1]!)
      task.job.done()
    }
    this.pump()
  }

  private onFailure(e: Error): void {
    if (this.broken !== undefined) return
    this.broken = e
    for (const { job } of this.running.values()) job.fail(e)
    for (const { job } of this.queue) job.fail(e)
    this.running.clear()
    this.queue.length = 0
  }

  async close(): Promise<void> {
    this.broken ??= new Error("encoder pool closed")
    await Promise.all(this.workers.map((w) => w.terminate()))
  }
}
