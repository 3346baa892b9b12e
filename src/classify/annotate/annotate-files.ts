/**
 * The annotation stage: every document of the input files is scored by the `Annotator` (or found in the cache)
 * and ends in exactly one of `OUT/annotated/NAME.jsonl` (with `metadata.annotation`) or `OUT/failed/NAME.jsonl`
 * (with `metadata.annotation_error`), one pair per input file, each renamed into place when the last document
 * of that file is done. Finished annotations go to the cache first, so a killed run loses none of them.
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

type Item =
  | { readonly _tag: "Doc"; readonly file: number; readonly doc: Document }
  | { readonly _tag: "End"; readonly file: number }

/** The outputs of one input file; both files are committed together once the input is read and all its documents are done. */
interface FileOutputs {
  readonly input: string
  readonly annotatedPath: string
  readonly failedPath: string
  annotated: AtomicFileSync | undefined
  failed: AtomicFileSync | undefined
  pending: number
  ended: boolean
  documents: number
  committed: boolean
}

const outputStem = (file: string): string => path.basename(file).replace(/\.(jsonl(\.gz)?|json|parquet|arrow)$/, "")

/** `NAME` per input, from its file name; two inputs with one name get `NAME-<index>`. */
const outputStems = (files: ReadonlyArray<string>): Array<string> => {
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
    const annotator = yield* Annotator
    const { prompt } = options
    const started = performance.now()
    const readerOptions: ReaderOptions = { ...options.reader }
    const files = yield* Effect.tryPromise({
      try: () => resolveInputs(options.inputs, readerOptions),
      catch: (e) => e instanceof ReadError ? e : new ReadError({ file: options.inputs.join(","), location: "file", message: `cannot list inputs: ${String(e)}`, cause: e })
    })
    const annotatedDir = path.join(options.output, "annotated")
    const failedDir = path.join(options.output, "failed")
    const cacheFile = path.join(options.output, "cache", "annotations.jsonl")
    yield* tryWrite(options.output, () => {
      removeStaleTemps(annotatedDir)
      removeStaleTemps(failedDir)
    })
    const cache = yield* Effect.acquireRelease(
      tryWrite(cacheFile, () => new AnnotationCache(cacheFile)),
      (c) => Effect.sync(() => c.close())
    )
    const stems = outputStems(files)
    const outputs: Array<FileOutputs> = files.map((input, i) => ({
      input,
      annotatedPath: path.join(annotatedDir, `${stems[i]}.jsonl`),
      failedPath: path.join(failedDir, `${stems[i]}.jsonl`),
      annotated: undefined,
      failed: undefined,
      pending: 0,
      ended: false,
      documents: 0,
      committed: false
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

    let total: number | undefined
    let annotated = 0
    let failed = 0
    let fromCache = 0
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

    const writeAnnotated = (o: FileOutputs, doc: Document, score: number, completion: string, usage: TokenUsage) => {
      o.annotated ??= new AtomicFileSync(o.annotatedPath)
      o.annotated.write(jsonLine({
        ...doc,
        metadata: { ...doc.metadata, annotation: { score, prompt: prompt.version, model: annotator.model, completion, usage } }
      }))
      annotated++
      scores[score] = (scores[score] ?? 0) + 1
    }

    const writeFailed = (o: FileOutputs, doc: Document, reason: string, attempts: number, lastError: string, completion?: string) => {
      o.failed ??= new AtomicFileSync(o.failedPath)
      const annotation_error: Record<string, unknown> = { reason, attempts, last_error: lastError, prompt: prompt.version, model: annotator.model }
      if (completion !== undefined) annotation_error["completion"] = completion
      o.failed.write(jsonLine({ ...doc, metadata: { ...doc.metadata, annotation_error } }))
      failed++
      failedByReason[reason] = (failedByReason[reason] ?? 0) + 1
    }

    const fromCacheEntry = (o: FileOutputs, doc: Document, c: CachedAnnotation) =>
      c.score === null
        ? writeFailed(o, doc, "no_score", c.attempts, c.error ?? "reply has no score", c.completion)
        : writeAnnotated(o, doc, c.score, c.completion, c.usage)

    const handleDoc = (o: FileOutputs, doc: Document): Effect.Effect<void, WriteError | AnnotationConfigError> => {
      const key = annotationKey(prompt.version, annotator.model, doc.id, doc.text)
      const finish = (f: () => void) => tryWrite(o.failedPath, () => {
        f()
        o.pending--
        commitIfDone(o)
      })
      const cached = cache.get(key)
      if (cached !== undefined) {
        fromCache++
        return finish(() => fromCacheEntry(o, doc, cached))
      }
      const base = { key, id: doc.id, prompt: prompt.version, model: annotator.model }
      return annotator.annotate(prompt, doc.text).pipe(
        Effect.flatMap((a) =>
          finish(() => {
            cache.append({ ...base, score: a.score, completion: a.completion, usage: a.usage, attempts: a.attempts })
            writeAnnotated(o, doc, a.score, a.completion, a.usage)
          })
        ),
        Effect.catchTag("AnnotationFailed", (e: AnnotationFailed) =>
          finish(() => {
            if (e.reason === "no_score") {
              const completion = e.completion ?? ""
              cache.append({ ...base, score: null, completion, usage: e.usage ?? { prompt_tokens: 0, completion_tokens: 0 }, attempts: e.attempts, error: e.lastError })
              writeFailed(o, doc, e.reason, e.attempts, e.lastError, completion)
            } else writeFailed(o, doc, e.reason, e.attempts, e.lastError)
          })
        )
      )
    }

    const handle = (item: Item): Effect.Effect<void, WriteError | AnnotationConfigError> => {
      const o = outputs[item.file]!
      if (item._tag === "Doc") return handleDoc(o, item.doc)
      o.ended = true
      return tryWrite(o.failedPath, () => commitIfDone(o))
    }

    const items = yield* itemsOf(files, readerOptions, options.limit, options.sample, (n) => (total = n))

    const progress = (): AnnotateProgress => ({
      done: annotated + failed,
      annotated,
      failed,
      fromCache,
      total,
      elapsedSeconds: (performance.now() - started) / 1000,
      counts: annotator.counts()
    })
    if (options.onProgress !== undefined) {
      const report = options.onProgress
      yield* Effect.forkScoped(Effect.forever(Effect.sleep(options.progressIntervalMs ?? 2000).pipe(Effect.andThen(Effect.sync(() => report(progress()))))))
    }

    yield* items.pipe(
      // Counted here, in the reading fiber and in input order, so a file's end marker can never overtake one of its documents.
      Stream.tap((item) => Effect.sync(() => {
        if (item._tag === "Doc") {
          outputs[item.file]!.pending++
          outputs[item.file]!.documents++
        }
      })),
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
    yield* writeFileAtomic(path.join(options.output, "summary.json"), JSON.stringify(summary, null, 2) + "\n")
    return summary
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
): Effect.Effect<Stream.Stream<Item, ReadError>, ReadError> =>
  Effect.gen(function*() {
    let remaining = limit ?? Infinity
    let read = 0
    // A file is opened only while the limit is not reached; later files are neither read nor written.
    const docs = (file: number): Stream.Stream<Item, ReadError> =>
      Stream.suspend(() => {
        if (remaining <= 0) return Stream.empty
        const stream = Number.isFinite(remaining) ? Stream.take(readFile(files[file]!, reader), remaining) : readFile(files[file]!, reader)
        return stream.pipe(
          Stream.map((doc): Item => {
            remaining--
            read++
            return { _tag: "Doc", file, doc }
          }),
          Stream.concat(Stream.succeed<Item>({ _tag: "End", file }))
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
    const out: Array<Item> = []
    for (const file of ended) {
      for (const doc of byFile.get(file) ?? []) out.push({ _tag: "Doc", file, doc })
      out.push({ _tag: "End", file })
    }
    return Stream.fromIterable(out)
  })
