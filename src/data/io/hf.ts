import { downloadFileToCacheDir, listFiles } from "@huggingface/hub"
import { homedir } from "node:os"
import * as path from "node:path"
import { ReadError, readError } from "../errors.ts"
import { formatOf, globToRegExp } from "./files.ts"

/**
 * `hf://datasets/<org>/<name>/<path>` inputs, fetched through @huggingface/hub into its local cache (the same
 * blobs/snapshots layout as huggingface_hub), so a second run reads from disk. A path that names a folder is
 * listed recursively and filtered by the reader's glob and the known formats.
 */
export interface HfOptions {
  /** Hub endpoint, e.g. a mirror; defaults to $HF_ENDPOINT or https://huggingface.co. */
  readonly hubUrl?: string
  readonly cacheDir?: string
  readonly revision?: string
  readonly accessToken?: string
}

export const isHfPath = (p: string): boolean => p.startsWith("hf://")

export interface HfPath {
  readonly repo: string
  readonly path: string
}

export const parseHfPath = (p: string): HfPath => {
  const m = /^hf:\/\/datasets\/([^/]+\/[^/@]+)(?:@[^/]+)?(?:\/(.*))?$/.exec(p)
  if (m === null) throw readError(p, "file", "expected hf://datasets/<org>/<name>/<path>")
  return { repo: m[1]!, path: m[2] ?? "" }
}

export const resolveHfInputs = async (inputs: ReadonlyArray<string>, o: HfOptions, glob?: string): Promise<Array<string>> => {
  const out: Array<string> = []
  const hubUrl = o.hubUrl ?? process.env["HF_ENDPOINT"]
  const cacheDir = o.cacheDir ?? process.env["HF_HUB_CACHE"] ?? path.join(homedir(), ".cache", "huggingface", "hub")
  const common = {
    ...(hubUrl === undefined ? {} : { hubUrl }),
    ...(o.accessToken === undefined ? {} : { accessToken: o.accessToken }),
    ...(o.revision === undefined ? {} : { revision: o.revision })
  }
  const re = glob === undefined ? undefined : globToRegExp(glob)
  for (const input of inputs) {
    if (!isHfPath(input)) {
      out.push(input)
      continue
    }
    const { path: inRepo, repo } = parseHfPath(input)
    const designation = { type: "dataset" as const, name: repo }
    try {
      let files: Array<string>
      if (formatOf(inRepo) !== undefined) files = [inRepo]
      else {
        files = []
        for await (const entry of listFiles({ repo: designation, path: inRepo, recursive: true, ...common })) {
          if (entry.type !== "file" || formatOf(entry.path) === undefined) continue
          const rel = inRepo === "" ? entry.path : entry.path.slice(inRepo.length).replace(/^\//, "")
          if (re === undefined || re.test(rel)) files.push(entry.path)
        }
        files.sort()
      }
      for (const f of files) out.push(await downloadFileToCacheDir({ repo: designation, path: f, cacheDir, ...common }))
    } catch (e) {
      if (e instanceof ReadError) throw e
      throw readError(input, "file", `cannot fetch from the Hub: ${(e as Error).message}`, e)
    }
  }
  return out
}
