import { NodeServices } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { parseMixtureSpec, resolveTrainingData } from "../../src/train/mixture-spec.ts"

describe("--data as a mixture spec", () => {
  it.effect("reads named folders with token shares, and a lone folder as one source named data", () =>
    Effect.gen(function*() {
      expect(yield* parseMixtureSpec("web=0.9:shards/web,code=0.1:shards/code")).toEqual([
        { name: "web", weight: 0.9, dir: "shards/web" },
        { name: "code", weight: 0.1, dir: "shards/code" }
      ])
      expect(yield* parseMixtureSpec("shards/web")).toEqual([{ name: "data", weight: 1, dir: "shards/web" }])
      expect(yield* parseMixtureSpec("web=2e-1:shards/web")).toEqual([{ name: "web", weight: 0.2, dir: "shards/web" }])
    }))

  it.effect("refuses a malformed mixture with a DataSpecError quoting --data and the part at fault", () =>
    Effect.gen(function*() {
      const refused = (spec: string) => Effect.flip(parseMixtureSpec(spec))
      const plain = yield* refused("web=0.9:shards/web,shards/code")
      expect(plain._tag).toBe("DataSpecError")
      expect(plain.message).toBe(`--data web=0.9:shards/web,shards/code: "shards/code" is not name=weight:folder, as each part of a mixture must be`)
      expect((yield* refused("web=x:a,code=1:b")).message).toMatch(/the weight of web is "x", not a number > 0/)
      expect((yield* refused("web=0:a,code=1:b")).message).toMatch(/the weight of web is "0"/)
      expect((yield* refused("web=-1:a")).message).toMatch(/the weight of web is "-1"/)
      expect((yield* refused("web=1:a,web=1:b")).message).toMatch(/the name web appears twice/)
      expect((yield* refused("web=1:a,")).message).toMatch(/an empty part/)
    }))

  it.effect("resolves an ids file as is and folders to their .ds shards; a folder without shards is an error", () =>
    Effect.gen(function*() {
      const dir = mkdtempSync(join(tmpdir(), "smol-spec-"))
      mkdirSync(join(dir, "web"))
      writeFileSync(join(dir, "web", "000_tokens.ds"), "")
      mkdirSync(join(dir, "empty"))
      expect(yield* resolveTrainingData("ids.jsonl", 3)).toEqual({ _tag: "IdsJsonl", path: "ids.jsonl" })
      expect(yield* resolveTrainingData(`web=1:${join(dir, "web")}`, 3)).toEqual({
        _tag: "Mixture", seed: 3, sources: [{ name: "web", weight: 1, shards: [`${join(dir, "web")}/000_tokens.ds`] }]
      })
      const empty = yield* Effect.flip(resolveTrainingData(join(dir, "empty"), 3))
      expect(empty._tag).toBe("DataSpecError")
      expect(empty.message).toMatch(/no \.ds token shards in .*empty/)
    }).pipe(Effect.provide(NodeServices.layer)))
})
