/**
 * Which documents a sharded annotation run annotates, drawn once and read by every rank (annotate-job.ts).
 *
 * The draw is the single-process one (annotate-files.ts `itemsOf`): the files in order, at most `limit` documents
 * over all of them, each offered in reading order to the same seeded reservoir, so a seed picks the same
 * documents with any number of tasks. What is kept is where the documents are (file, index in the file), not
 * the documents: the selection of a 450k sample out of millions is a few MB, and each rank then reads only the
 * stretch of the inputs that holds its share.
 *
 * A rank's share is a contiguous slice of the selection in input order: rank r of N gets the documents
 * floor(r·T/N) … floor((r+1)·T/N) − 1 of the T selected. Contiguous rather than strided so that the ranks' outputs,
 * concatenated in rank order, are the single-process output, and a rank reads one stretch of the inputs.
 */
import { Effect, Schema, Stream } from "effect"
import type { ReadError } from "../../data/errors.ts"
import { readFile, type ReaderOptions } from "../../data/io/readers.ts"
import type { AnnotationItem } from "./annotate-files.ts"
import { ReservoirSample } from "./sample.ts"

export const Selection = Schema.Struct({
  /** The input files, in reading order (the indices below point into it). */
  files: Schema.Array(Schema.String),
  /** The files that were opened (not all are when --limit stops the reading): each gets its outputs, empty or not. */
  opened: Schema.Array(Schema.Number),
  /** Documents read from each file (0 for a file never opened). */
  counts: Schema.Array(Schema.Number),
  /** With a sample: the chosen documents as [file, index in the file], in input order. Without: all documents read. */
  sample: Schema.optional(Schema.Array(Schema.Tuple([Schema.Number, Schema.Number])))
})
export type Selection = typeof Selection.Type

export const selectionSize = (s: Selection): number => s.sample?.length ?? s.counts.reduce((a, b) => a + b, 0)

/** Reads the inputs once and draws the documents to annotate. */
export const selectDocuments = (
  files: ReadonlyArray<string>,
  reader: ReaderOptions,
  limit: number | undefined,
  sample: { readonly size: number; readonly seed: number } | undefined,
  onRead: (documents: number) => void = () => {}
): Effect.Effect<Selection, ReadError> =>
  Effect.gen(function*() {
    let remaining = limit ?? Infinity
    let read = 0
    const opened: Array<number> = []
    const counts = files.map(() => 0)
    const reservoir = sample === undefined ? undefined : new ReservoirSample<readonly [number, number]>(sample.size, sample.seed)
    for (let file = 0; file < files.length && remaining > 0; file++) {
      opened.push(file)
      const docs = Number.isFinite(remaining) ? Stream.take(readFile(files[file]!, reader), remaining) : readFile(files[file]!, reader)
      yield* Stream.runForEach(docs, () =>
        Effect.sync(() => {
          reservoir?.offer([file, counts[file]!])
          counts[file]!++
          remaining--
          if (++read % 10_000 === 0) onRead(read)
        }))
    }
    onRead(read)
    return { files: [...files], opened, counts, ...(reservoir === undefined ? {} : { sample: reservoir.result() }) }
  })

/** The ordinals (in the selection) of rank `rank`'s documents: [from, to). */
export const rankSlice = (total: number, rank: number, worldSize: number): { readonly from: number; readonly to: number } => ({
  from: Math.floor((rank * total) / worldSize),
  to: Math.floor(((rank + 1) * total) / worldSize)
})

/** For each file holding some of a slice, the indices in it that belong to the slice. */
const slicePerFile = (s: Selection, from: number, to: number): Array<{ readonly file: number; readonly last: number; readonly has: (i: number) => boolean }> => {
  const out: Array<{ file: number; last: number; has: (i: number) => boolean }> = []
  if (s.sample !== undefined) {
    const indices = new Map<number, Set<number>>()
    // The sample is in input order: a file's indices come together, ascending.
    for (const [file, index] of s.sample.slice(from, to)) {
      const current = out.at(-1)
      if (current?.file === file) {
        current.last = index
        indices.get(file)!.add(index)
      } else {
        const set = new Set([index])
        indices.set(file, set)
        out.push({ file, last: index, has: (i) => set.has(i) })
      }
    }
    return out
  }
  // Without a sample the selection is every document read, in file order: ordinal k is the k-th document read.
  let start = 0
  for (const [file, count] of s.counts.entries()) {
    const first = Math.max(from - start, 0)
    const last = Math.min(to - start, count) - 1
    if (first <= last) out.push({ file, last, has: (i) => i >= first && i <= last })
    start += count
  }
  return out
}

/**
 * The documents of ordinals [from, to) of the selection, each file's followed by its end marker (only files that
 * hold some of them); a file is read only up to its last document in the slice.
 */
export const sliceItems = (s: Selection, reader: ReaderOptions, from: number, to: number): Stream.Stream<AnnotationItem, ReadError> =>
  Stream.fromIterable(slicePerFile(s, from, to)).pipe(
    Stream.flatMap(({ file, last, has }) =>
      readFile(s.files[file]!, reader).pipe(
        Stream.zipWithIndex,
        Stream.takeWhile(([, i]) => i <= last),
        Stream.filter(([, i]) => has(i)),
        Stream.map(([doc]): AnnotationItem => ({ _tag: "Doc", file, doc })),
        Stream.concat(Stream.succeed<AnnotationItem>({ _tag: "End", file }))
      ), { concurrency: 1 })
  )
