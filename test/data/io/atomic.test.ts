import { NodeServices } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import { Effect, FileSystem } from "effect"
import { WriteError } from "../../../src/data/errors.ts"
import {
  AtomicFileSync,
  openFileAtomic,
  staleTempPid,
  tempPathOf,
  writeFileAtomic,
  writeFileAtomicSync,
  writeFolderAtomic
} from "../../../src/data/io/atomic.ts"

describe("atomic writes", () => {
  it.effect("a file appears whole under its name, creating its folder, and nothing else is left", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const dir = yield* fs.makeTempDirectoryScoped()
      yield* writeFileAtomic(`${dir}/a/b/c.json`, "{}\n")
      yield* writeFileAtomic(`${dir}/a/b/c.json`, new Uint8Array([49, 10]))
      expect(yield* fs.readFileString(`${dir}/a/b/c.json`)).toBe("1\n")
      expect(yield* fs.readDirectory(`${dir}/a/b`)).toEqual(["c.json"])
      writeFileAtomicSync(`${dir}/s/x.txt`, "sync")
      expect(yield* fs.readFileString(`${dir}/s/x.txt`)).toBe("sync")
    }).pipe(Effect.scoped, Effect.provide(NodeServices.layer)))

  it.effect("a write that cannot happen fails with a WriteError naming the file", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const dir = yield* fs.makeTempDirectoryScoped()
      yield* fs.writeFileString(`${dir}/plain`, "a file, not a folder")
      const error = yield* Effect.flip(writeFileAtomic(`${dir}/plain/x.json`, "{}"))
      expect(error).toBeInstanceOf(WriteError)
      expect(error.file).toBe(`${dir}/plain/x.json`)
    }).pipe(Effect.scoped, Effect.provide(NodeServices.layer)))

  it.effect("a folder replaces the old one whole; a failed fill leaves the old one as it was", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const dir = yield* fs.makeTempDirectoryScoped()
      yield* writeFolderAtomic(`${dir}/ckpt`, new Map<string, string | Uint8Array>([["config.json", "1"], ["sub/model.bin", new Uint8Array([1, 2])]]))
      yield* writeFolderAtomic(`${dir}/ckpt`, new Map([["config.json", "2"]]))
      expect(yield* fs.readFileString(`${dir}/ckpt/config.json`)).toBe("2")
      expect(yield* fs.exists(`${dir}/ckpt/sub`)).toBe(false)
      // A name that escapes into an existing file makes the fill fail midway.
      yield* fs.writeFileString(`${dir}/blocker`, "")
      const bad = new Map<string, string>([["config.json", "3"], ["../blocker/x", "no"]])
      const error = yield* Effect.flip(writeFolderAtomic(`${dir}/ckpt`, bad))
      expect(error).toBeInstanceOf(WriteError)
      expect(yield* fs.readFileString(`${dir}/ckpt/config.json`)).toBe("2")
      expect((yield* fs.readDirectory(dir)).sort()).toEqual(["blocker", "ckpt"])
    }).pipe(Effect.scoped, Effect.provide(NodeServices.layer)))

  it.effect("a file written in pieces appears only on commit; a scope closed before it leaves nothing", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const dir = yield* fs.makeTempDirectoryScoped()
      yield* Effect.scoped(Effect.gen(function*() {
        const f = yield* openFileAtomic(`${dir}/done.ds`)
        yield* f.write(new Uint8Array([1]))
        yield* f.write(new Uint8Array([2, 3]))
        expect(yield* fs.exists(`${dir}/done.ds`)).toBe(false)
        yield* f.commit
      }))
      expect([...(yield* fs.readFile(`${dir}/done.ds`))]).toEqual([1, 2, 3])
      const failed = yield* Effect.flip(Effect.scoped(Effect.gen(function*() {
        const f = yield* openFileAtomic(`${dir}/broken.ds`)
        yield* f.write(new Uint8Array([9]))
        return yield* Effect.fail("input broke")
      })))
      expect(failed).toBe("input broke")
      const sync = new AtomicFileSync(`${dir}/aborted.jsonl`)
      sync.write("x\n")
      sync.abort()
      expect(yield* fs.readDirectory(dir)).toEqual(["done.ds"])
    }).pipe(Effect.scoped, Effect.provide(NodeServices.layer)))

  it("temporary names carry the writer's pid, so a rerun can tell a dead writer's leftovers", () => {
    expect(staleTempPid(tempPathOf("/x/00001.jsonl").split("/").pop()!)).toBe(process.pid)
    expect(staleTempPid("00001.jsonl")).toBeUndefined()
  })
})
