/**
 * Atomic writes, the one place the toolkit writes a file or folder that a reader or a resumed run may see: the
 * content goes to a temporary name beside the target and is renamed into place, so a killed job leaves either the
 * previous version or the whole new one, never half of one (rename is atomic within a file system).
 *
 * Effect forms run on `FileSystem` (so a test can swap it); the `Sync` forms serve the hot loops of the data
 * workers (writers, dedup files), which write between synchronous steps and must not yield.
 */
import { closeSync, mkdirSync, openSync, renameSync, rmSync, writeSync } from "node:fs"
import * as nodePath from "node:path"
import { Effect, FileSystem, Path, type Scope } from "effect"
import { WriteError } from "../errors.ts"

export type FileContent = Uint8Array | string

/**
 * `<target>.tmp-<pid>`: the writer's pid in the name lets a rerun tell a dead writer's leftovers (removed before
 * the rerun, see `staleTempPid`) from a live one's.
 */
export const tempPathOf = (target: string): string => `${target}.tmp-${process.pid}`

/** The pid of the writer that left `name` (a temporary file of `tempPathOf`), or undefined for any other name. */
export const staleTempPid = (name: string): number | undefined => {
  const m = /\.tmp-(\d+)$/.exec(name)
  return m === null ? undefined : Number(m[1])
}

let counter = 0

const writeError = (file: string) => (e: unknown) =>
  new WriteError({ file, message: e instanceof Error ? e.message : String(e), cause: e })

/** Write `content` to `file` atomically, creating its folder. */
export const writeFileAtomic = (file: string, content: FileContent): Effect.Effect<void, WriteError, FileSystem.FileSystem> =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const target = nodePath.resolve(file)
    const temp = tempPathOf(target)
    yield* fs.makeDirectory(nodePath.dirname(target), { recursive: true })
    const write = typeof content === "string" ? fs.writeFileString(temp, content) : fs.writeFile(temp, content)
    yield* write.pipe(
      Effect.andThen(fs.rename(temp, target)),
      Effect.onError(() => fs.remove(temp, { force: true }).pipe(Effect.ignore))
    )
  }).pipe(Effect.mapError(writeError(file)))

/** A file written in pieces through `FileSystem`; it appears under its name only when `commit` succeeds. */
export interface AtomicFile {
  readonly file: string
  readonly write: (bytes: Uint8Array) => Effect.Effect<void, WriteError>
  /** Sync to disk and rename into place. */
  readonly commit: Effect.Effect<void, WriteError>
}

/** Opens `file` for an atomic write; if the scope closes before `commit`, the temporary file is removed. */
export const openFileAtomic = (file: string): Effect.Effect<AtomicFile, WriteError, FileSystem.FileSystem | Scope.Scope> =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const target = nodePath.resolve(file)
    const temp = tempPathOf(target)
    const fail = writeError(file)
    yield* fs.makeDirectory(nodePath.dirname(target), { recursive: true }).pipe(Effect.mapError(fail))
    let committed = false
    yield* Effect.addFinalizer(() => committed ? Effect.void : fs.remove(temp, { force: true }).pipe(Effect.ignore))
    const handle = yield* fs.open(temp, { flag: "w" }).pipe(Effect.mapError(fail))
    return {
      file,
      write: (bytes) => handle.writeAll(bytes).pipe(Effect.mapError(fail)),
      commit: Effect.gen(function*() {
        yield* handle.sync
        yield* fs.rename(temp, target)
        committed = true
      }).pipe(Effect.mapError(fail))
    }
  })

/**
 * Write a folder atomically: `files` (name → content, names may contain `/`) go into a temporary folder beside
 * `dir`, which then replaces `dir` (the old one is moved aside and removed only after the new one is in place).
 */
export const writeFolderAtomic = (
  dir: string,
  files: ReadonlyMap<string, FileContent> | Iterable<readonly [string, FileContent]>
): Effect.Effect<void, WriteError, FileSystem.FileSystem | Path.Path> =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    const target = path.resolve(dir)
    yield* fs.makeDirectory(path.dirname(target), { recursive: true })
    const temp = `${target}.tmp-${process.pid}-${(counter++).toString(36)}`
    const fill = Effect.gen(function*() {
      yield* fs.makeDirectory(temp, { recursive: true })
      for (const [name, content] of files) {
        const file = path.join(temp, name)
        yield* fs.makeDirectory(path.dirname(file), { recursive: true })
        if (typeof content === "string") yield* fs.writeFileString(file, content)
        else yield* fs.writeFile(file, content)
      }
    })
    yield* fill.pipe(Effect.onError(() => fs.remove(temp, { recursive: true, force: true }).pipe(Effect.ignore)))
    const old = `${target}.old-${process.pid}-${(counter++).toString(36)}`
    const existed = yield* fs.exists(target)
    if (existed) yield* fs.rename(target, old)
    yield* fs.rename(temp, target)
    if (existed) yield* fs.remove(old, { recursive: true })
  }).pipe(Effect.mapError(writeError(dir)))

/** `writeFileAtomic` for synchronous code; throws the fs error. */
export const writeFileAtomicSync = (file: string, content: FileContent): void => {
  const f = new AtomicFileSync(file)
  try {
    f.write(content)
    f.commit()
  } catch (e) {
    f.abort()
    throw e
  }
}

/** A file written in pieces and renamed into place by `commit`; `abort` removes what was written. */
export class AtomicFileSync {
  private readonly temp: string
  private fd: number | undefined
  constructor(readonly file: string) {
    mkdirSync(nodePath.dirname(nodePath.resolve(file)), { recursive: true })
    this.temp = tempPathOf(nodePath.resolve(file))
    this.fd = openSync(this.temp, "w")
  }
  write(data: FileContent): void {
    const bytes = typeof data === "string" ? Buffer.from(data) : data
    let done = 0
    while (done < bytes.length) done += writeSync(this.fd!, bytes, done, bytes.length - done)
  }
  commit(): void {
    if (this.fd === undefined) return
    closeSync(this.fd)
    this.fd = undefined
    renameSync(this.temp, this.file)
  }
  abort(): void {
    if (this.fd === undefined) return
    closeSync(this.fd)
    this.fd = undefined
    rmSync(this.temp, { force: true })
  }
}

/** Run a synchronous write, turning what it throws into a `WriteError` naming the file. */
export const tryWrite = <A>(file: string, f: () => A): Effect.Effect<A, WriteError> =>
  Effect.try({ try: f, catch: writeError(file) })
