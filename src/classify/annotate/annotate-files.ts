/**
 * The annotation stage: every document of the input files is scored by the `Annotator` (or found in the cache)
 * and ends in exactly one of `OUT/annotated/NAME.jsonl` (with `metadata.annotation`) or `OUT/failed/NAME.jsonl`
 * (with `metadata.annotation_error`), one pair per input file, each renamed into place when the last document
 * of that file is done. Finished annotations go to the cache first, so a killed run loses none of them.
 *
 * Lines are written in input order whatever order the replies come back in (a reply that is early waits in memory
 * for the ones before it), so two runs over the same documents write the same bytes, and a sharded run
 * (annotate-job.ts) that concatenates its ranks' parts writes what one process writes.
 */
import { Effect, type FileSystem, Stream } from "effect"
import { readdirSync, rmSync } from "node:fs"
import * as path from "node:path"
import type { Document } from "../../data/Document.ts"
import { ReadError, WriteError } from "../../data/errors.ts"
import { AtomicFileSync, staleTempPid, tryWrite, writeFileAtomic } from "../../data/io/atomic.ts"
import { readFile, type ReaderOptions, resolveInputs } from "../../data/io/readers.ts"
import { AnnotationCache, annotationKey, type CachedAnnotation } from "./AnnotationCache.ts"
import type { AnnotationPrompt } from "./AnnotationPrompt.ts"
import { Annotator, type RequestCounts } from "./Annotator.ts"
import type { TokenUsage } from "./chat-completion.ts"
import type { AnnotationConfigError, AnnotationFailed } from "./errors.ts"
import { ReservoirSample } from "./sample.ts"

export interface AnnotateFilesOptions {
  readonly inputs: ReadonlyArray<string>
  /** OUT: `annotated/`, `failed/`, `cache/annotations.jsonl` and `summary.json` go here. */
  readonly output: string
  readonly prompt: AnnotationPrompt
  /** Documents in flight at once. */
  readonly concurrency: number
  /** Read at most this many documents (over all files, before sampling). */
  readonly limit?: number | undefined
  /** Annotate a seeded uniform sample of this many of the documents read. */
  readonly sample?: { readonly size: number; readonly seed: number } | undefined
  readonly reader?: Pick<ReaderOptions, "textKey" | "idKey" | "glob" | "recursive"> | undefined
  /** Called about every `progressIntervalMs` while the run goes on, and once at the end. */
  readonly onProgress?: ((p: AnnotateProgress) => void) | undefined
  readonly progressIntervalMs?: number | undefined
}

export interface AnnotateProgress {
  readonly done: number
  readonly annotated: number
  readonly failed: number
  readonly fromCache: number
  /** Documents to do, once known (after sampling, or once the inputs are read to the end). */
  readonly total: number | undefined
  readonly elapsedSeconds: number
  readonly counts: RequestCounts
}

export interface AnnotateSummary {
  readonly prompt: string
  readonly model: string
  readonly documents: number
  readonly annotated: number
  readonly failed: number
  readonly failed_by_reason: Record<string, number>
  /** Found in the cache: finished by an earlier run, not requested again. */
  readonly from_cache: number
  /** Annotated documents per score. */
  readonly scores: Record<string, number>
  /** This run's requests (retries included) and their outcomes. */
  readonly requests: number
  readonly retries: number
  readonly outcomes: Record<string, number>
  readonly prompt_tokens: number
  readonly completion_tokens: number
  readonly seconds: number
  readonly documents_per_second: number
  readonly requests_per_second: number
  readonly files: ReadonlyArray<{ readonly input: string; readonly annotated: string; readonly failed: string; readonly documents: number }>
  readonly cache: { readonly file: string; readonly entries_at_start: number; readonly torn_bytes_dropped: number }
}

/** What the annotation loop consumes: a document of input file `file`, or the end of that file's documents. */
export type AnnotationItem =
  | { readonly _tag: "Doc"; readonly file: number; readonly doc: Document }
  | { readonly _tag: "End"; readonly file: number }

/** Where the documents of one input file go. */
export interface OutputTarget {
  readonly input: string
  readonly annotatedPath: string
  readonly failedPath: string
}

/** A finished document's line, held until the lines before it (in input order) are written. */
interface Line {
  readonly to: "annotated" | "failed"
  readonly text: string
}

/** The outputs of one input file; both files are committed together once the input is read and all its documents are done. */
interface FileOutputs extends OutputTarget {
  annotated: AtomicFileSync | undefined
  failed: AtomicFileSync | undefined
  pending: number
  ended: boolean
  documents: number
  committed: boolean
  /** Input position (within this file) of the next line to write. */
  next: number
  /** Lines finished ahead of `next`, by input position. */
  readonly ready: Map<number, Line>
}

const outputStem = (file: string): string => path.basename(file).replace(/\.(jsonl(\.gz)?|json|parquet|arrow)$/, "")

/** `NAME` per input, from its file name; two inputs with one name get `NAME-<index>`. */
export const outputStems = (files: ReadonlyArray<string>): Array<string> => {
  const seen = new Map<string, number>()
  for (const f of files) seen.set(outputStem(f), (seen.get(outputStem(f)) ?? 0) + 1)
  return files.map((f, i) => (seen.get(outputStem(f))! > 1 ? `${outputStem(f)}-${i}` : outputStem(f)))
}

const isAlive = (pid: number): boolean => {
  try {
    process.kill(pid, 0)
    return true
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM"
  }
}

/** Temporary outputs of a killed earlier run (its pid is gone) would otherwise pile up beside the real ones. */
const removeStaleTemps = (dir: string): void => {
  let names: Array<string>
  try {
    names = readdirSync(dir)
  } catch {
    return
  }
  for (const name of names) {
    const pid = staleTempPid(name)
    if (pid !== undefined && pid !== process.pid && !isAlive(pid)) rmSync(path.join(dir, name), { force: true })
  }
}

const jsonLine = (doc: Document): string => JSON.stringify({ text: doc.text, id: doc.id, metadata: doc.metadata }) + "\n"

export const annotateFiles = (
  options: AnnotateFilesOptions
): Effect.Effect<AnnotateSummary, ReadError | WriteError | AnnotationConfigError, Annotator | FileSystem.FileSystem> =>
  Effect.gen(function*() {
    const started = performance.now()
    const readerOptions: ReaderOptions = { ...options.reader }
    const files = yield* Effect.tryPromise({
      try: () => resolveInputs(options.inputs, readerOptions),
      catch: (e) => e instanceof ReadError ? e : new ReadError({ file: options.inputs.join(","), location: "file", message: `cannot list inputs: ${String(e)}`, cause: e })
    })
    const annotatedDir = path.join(options.output, "annotated")
    const failedDir = path.join(options.output, "failed")
    yield* tryWrite(options.output, () => {
      removeStaleTemps(annotatedDir)
      removeStaleTemps(failedDir)
    })
    const stems = outputStems(files)
    let total: number | undefined
    const items = yield* itemsOf(files, readerOptions, options.limit, options.sample, (n) => (total = n))
    const run = yield* annotateItems({
      items,
      targets: files.map((input, i) => ({
        input,
        annotatedPath: path.join(annotatedDir, `${stems[i]}.jsonl`),
        failedPath: path.join(failedDir, `${stems[i]}.jsonl`)
      })),
      cacheFile: path.join(options.output, "cache", "annotations.jsonl"),
      summaryFile: path.join(options.output, "summary.json"),
      prompt: options.prompt,
      concurrency: options.concurrency,
      total: () => total,
      started,
      onProgress: options.onProgress,
      progressIntervalMs: options.progressIntervalMs
    })
    return run.summary
  })

export interface AnnotateItemsOptions {
  readonly items: Stream.Stream<AnnotationItem, ReadError>
  /** Indexed by an item's `file`. */
  readonly targets: ReadonlyArray<OutputTarget>
  readonly cacheFile: string
  readonly summaryFile: string
  readonly prompt: AnnotationPrompt
  readonly concurrency: number
  /** Documents to do, once known. */
  readonly total: () => number | undefined
  /** `performance.now()` when the run started (default: now). */
  readonly started?: number | undefined
  readonly onProgress?: ((p: AnnotateProgress) => void) | undefined
  readonly progressIntervalMs?: number | undefined
}

/** A document that failed for a reason a later attempt may not have (the endpoint, not the document). */
export interface RetryableFailure {
  readonly id: string
  readonly reason: string
  readonly attempts: number
  readonly lastError: string
}

export interface AnnotateItemsRun {
  readonly summary: AnnotateSummary
  /** How many documents failed for a retryable reason (not cached: a rerun asks again). */
  readonly retryable: number
  /** The first few of them, for an error message. */
  readonly retryableExamples: ReadonlyArray<RetryableFailure>
}

/**
 * Failures that say nothing about the document: the server, the network or the rate limit. A reply without a
 * score (`no_score`) and a request the server refused (`rejected`, a 4xx such as a too-long context) would fail
 * the same way again.
 */
export const isRetryableFailure = (reason: string): boolean => reason !== "no_score" && reason !== "rejected"

/**
 * The annotation loop: every document of `items` is looked up in the cache at `cacheFile` or sent to the
 * `Annotator`, then written, in input order, to its file's target; a file's targets are committed once its end
 * marker and all its documents are through. Writes `summaryFile`.
 */
export const annotateItems = (
  options: AnnotateItemsOptions
): Effect.Effect<AnnotateItemsRun, ReadError | WriteError | AnnotationConfigError, Annotator | FileSystem.FileSystem> =>
  Effect.gen(function*() {
    const annotator = yield* Annotator
    const { prompt, cacheFile } = options
    const started = options.started ?? performance.now()
    const cache = yield* Effect.acquireRelease(
      tryWrite(cacheFile, () => new AnnotationCache(cacheFile)),
      (c) => Effect.sync(() => c.close())
    )
    const outputs: Array<FileOutputs> = options.targets.map((t) => ({
      ...t,
      annotated: undefined,
      failed: undefined,
      pending: 0,
      ended: false,
      documents: 0,
      committed: false,
      next: 0,
      ready: new Map()
    }))
    // A failed or interrupted run leaves no output that looks complete: uncommitted files are removed.
    yield* Effect.addFinalizer(() =>
      Effect.sync(() => {
        for (const o of outputs) {
          o.annotated?.abort()
          o.failed?.abort()
        }
      })
    )

    let annotated = 0
    let failed = 0
    let fromCache = 0
    let retryable = 0
    const retryableExamples: Array<RetryableFailure> = []
    const failedByReason: Record<string, number> = {}
    const scores: Record<string, number> = {}

    const commitIfDone = (o: FileOutputs) => {
      if (!o.ended || o.pending > 0 || o.committed) return
      o.annotated ??= new AtomicFileSync(o.annotatedPath)
      o.failed ??= new AtomicFileSync(o.failedPath)
      o.annotated.commit()
      o.failed.commit()
      o.committed = true
    }

    /** Writes every line whose predecessors are all written. */
    const flush = (o: FileOutputs) => {
      for (let line = o.ready.get(o.next); line !== undefined; line = o.ready.get(o.next)) {
        o.ready.delete(o.next++)
        if (line.to === "annotated") (o.annotated ??= new AtomicFileSync(o.annotatedPath)).write(line.text)
        else (o.failed ??= new AtomicFileSync(o.failedPath)).write(line.text)
      }
    }

    const annotatedLine = (doc: Document, score: number, completion: string, usage: TokenUsage): Line => {
      annotated++
      scores[score] = (scores[score] ?? 0) + 1
      return {
        to: "annotated",
        text: jsonLine({ ...doc, metadata: { ...doc.metadata, annotation: { score, prompt: prompt.version, model: annotator.model, completion, usage } } })
      }
    }

    const failedLine = (doc: Document, reason: string, attempts: number, lastError: string, completion?: string): Line => {
      const annotation_error: Record<string, unknown> = { reason, attempts, last_error: lastError, prompt: prompt.version, model: annotator.model }
      if (completion !== undefined) annotation_error["completion"] = completion
      failed++
      failedByReason[reason] = (failedByReason[reason] ?? 0) + 1
      if (isRetryableFailure(reason)) {
        retryable++
        if (retryableExamples.length < 3) retryableExamples.push({ id: doc.id, reason, attempts, lastError })
      }
      return { to: "failed", text: jsonLine({ ...doc, metadata: { ...doc.metadata, annotation_error } }) }
    }

    const fromCacheEntry = (doc: Document, c: CachedAnnotation): Line =>
      c.score === null
        ? failedLine(doc, "no_score", c.attempts, c.error ?? "reply has no score", c.completion)
        : annotatedLine(doc, c.score, c.completion, c.usage)

    const handleDoc = (o: FileOutputs, doc: Document, position: number): Effect.Effect<void, WriteError | AnnotationConfigError> => {
      const key = annotationKey(prompt.version, annotator.model, doc.id, doc.text)
      const finish = (line: () => Line) => tryWrite(o.failedPath, () => {
        o.ready.set(position, line())
        flush(o)
        o.pending--
        commitIfDone(o)
      })
      const cached = cache.get(key)
      if (cached !== undefined) {
        fromCache++
        return finish(() => fromCacheEntry(doc, cached))
      }
      const base = { key, id: doc.id, prompt: prompt.version, model: annotator.model }
      return annotator.annotate(prompt, doc.text).pipe(
        Effect.flatMap((a) =>
          finish(() => {
            cache.append({ ...base, score: a.score, completion: a.completion, usage: a.usage, attempts: a.attempts })
            return annotatedLine(doc, a.score, a.completion, a.usage)
          })
        ),
        Effect.catchTag("AnnotationFailed", (e: AnnotationFailed) =>
          finish(() => {
            if (e.reason !== "no_score") return failedLine(doc, e.reason, e.attempts, e.lastError)
            const completion = e.completion ?? ""
            cache.append({ ...base, score: null, completion, usage: e.usage ?? { prompt_tokens: 0, completion_tokens: 0 }, attempts: e.attempts, error: e.lastError })
            return failedLine(doc, e.reason, e.attempts, e.lastError, completion)
          })
        )
      )
    }

    const handle = ({ item, position }: { readonly item: AnnotationItem; readonly position: number }): Effect.Effect<void, WriteError | AnnotationConfigError> => {
      const o = outputs[item.file]!
      if (item._tag === "Doc") return handleDoc(o, item.doc, position)
      o.ended = true
      return tryWrite(o.failedPath, () => commitIfDone(o))
    }

    const progress = (): AnnotateProgress => ({
      done: annotated + failed,
      annotated,
      failed,
      fromCache,
      total: options.total(),
      elapsedSeconds: (performance.now() - started) / 1000,
      counts: annotator.counts()
    })
    if (options.onProgress !== undefined) {
      const report = options.onProgress
      yield* Effect.forkScoped(Effect.forever(Effect.sleep(options.progressIntervalMs ?? 2000).pipe(Effect.andThen(Effect.sync(() => report(progress()))))))
    }

    yield* options.items.pipe(
      // Counted here, in the reading fiber and in input order, so a file's end marker can never overtake one of its
      // documents, and each document's position in its file is its place in the output.
      Stream.map((item) => {
        if (item._tag === "End") return { item, position: -1 }
        const o = outputs[item.file]!
        o.pending++
        return { item, position: o.documents++ }
      }),
      Stream.mapEffect(handle, { concurrency: Math.max(1, options.concurrency), unordered: true }),
      Stream.runDrain
    )
    yield* tryWrite(cacheFile, () => cache.sync())
    options.onProgress?.(progress())

    const counts = annotator.counts()
    const seconds = (performance.now() - started) / 1000
    const summary: AnnotateSummary = {
      prompt: prompt.version,
      model: annotator.model,
      documents: annotated + failed,
      annotated,
      failed,
      failed_by_reason: failedByReason,
      from_cache: fromCache,
      scores,
      requests: counts.requests,
      retries: counts.retries,
      outcomes: counts.outcomes,
      prompt_tokens: counts.prompt_tokens,
      completion_tokens: counts.completion_tokens,
      seconds,
      documents_per_second: (annotated + failed) / seconds,
      requests_per_second: counts.requests / seconds,
      files: outputs.filter((o) => o.committed).map((o) => ({ input: o.input, annotated: o.annotatedPath, failed: o.failedPath, documents: o.documents })),
      cache: { file: cacheFile, entries_at_start: cache.load.entries, torn_bytes_dropped: cache.load.tornBytes }
    }
    yield* writeFileAtomic(options.summaryFile, JSON.stringify(summary, null, 2) + "\n")
    return { summary, retryable, retryableExamples }
  }).pipe(Effect.scoped)

/**
 * The documents to annotate, each followed by its file's end marker. Without a sample they stream straight from
 * the files; with one, every document is read first (the reservoir needs them all) and the sample streams out
 * in input order, with an end marker for every file read.
 */
const itemsOf = (
  files: ReadonlyArray<string>,
  reader: ReaderOptions,
  limit: number | undefined,
  sample: AnnotateFilesOptions["sample"],
  setTotal: (n: number) => void
): Effect.Effect<Stream.Stream<AnnotationItem, ReadError>, ReadError> =>
  Effect.gen(function*() {
    let remaining = limit ?? Infinity
    let read = 0
    // A file is opened only while the limit is not reached; later files are neither read nor written.
    const docs = (file: number): Stream.Stream<AnnotationItem, ReadError> =>
      Stream.suspend(() => {
        if (remaining <= 0) return Stream.empty
        const stream = Number.isFinite(remaining) ? Stream.take(readFile(files[file]!, reader), remaining) : readFile(files[file]!, reader)
        return stream.pipe(
          Stream.map((doc): AnnotationItem => {
            remaining--
            read++
            return { _tag: "Doc", file, doc }
          }),
          Stream.concat(Stream.succeed<AnnotationItem>({ _tag: "End", file }))
        )
      })
    const all = Stream.fromIterable(files.map((_, i) => i)).pipe(Stream.flatMap(docs, { concurrency: 1 }))
    if (sample === undefined) {
      return all.pipe(Stream.onEnd(Effect.sync(() => setTotal(read))))
    }
    const reservoir = new ReservoirSample<{ file: number; doc: Document }>(sample.size, sample.seed)
    const ended: Array<number> = []
    yield* Stream.runForEach(all, (item) => Effect.sync(() => (item._tag === "Doc" ? reservoir.offer(item) : ended.push(item.file))))
    const chosen = reservoir.result()
    setTotal(chosen.length)
    const byFile = new Map<number, Array<Document>>()
    for (const { file, doc } of chosen) byFile.set(file, [...(byFile.get(file) ?? []), doc])
    const out: Array<AnnotationItem> = []
    for (const file of ended) {
      for (const doc of byFile.get(file) ?? []) out.push({ _tag: "Doc", file, doc })
      out.push({ _tag: "End", file })
    }
    return Stream.fromIterable(out)
  })
