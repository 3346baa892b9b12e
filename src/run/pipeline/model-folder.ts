/**
 * A checkpoint as the Hugging Face model folder a user loads (OUT/final, OUT/final-instruct): its files without
 * the trainer state, the folder replaced whole.
 */
import { Effect, FileSystem } from "effect"
import * as path from "node:path"
import { writeFolderAtomic } from "../../data/io/atomic.ts"

export const exportModelFolder = (checkpoint: string, dir: string) =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const names = (yield* fs.readDirectory(checkpoint)).filter((n) => !n.startsWith("trainer_state"))
    const files: Array<readonly [string, Uint8Array]> = []
    for (const n of names) files.push([n, yield* fs.readFile(path.join(checkpoint, n))])
    yield* writeFolderAtomic(dir, files)
    return { dir, from: checkpoint }
  })
