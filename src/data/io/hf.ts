import { downloadFileToCacheDir, getHFHubCachePath, getRepoFolderName, listFiles } from "@huggingface/hub"
import { existsSync, readdirSync, readFileSync } from "node:fs"
import * as path from "node:path"
import { ReadError, readError } from "../errors.ts"
import { writeFileAtomicSync } from "./atomic.ts"
import { formatOf, globToRegExp } from "./files.ts"

/**
 * `hf://datasets/<org>/<name>[@<revision>]/<path>` inputs, fetched through @huggingface/hub into its local cache
 * (huggingface_hub's layout: `datasets--<org>--<name>/{blobs,snapshots/<commit>,refs/<revision>}`), so a second
 * run reads from disk. A path that names a folder is listed recursively and filtered by the reader's glob and the
 * known formats.
 *
 * The environment is read as huggingface_hub reads it: `HF_HUB_CACHE` (else `HF_HOME/hub`, else
 * `~/.cache/huggingface/hub`), `HF_ENDPOINT`, `HF_TOKEN`, and `HF_HUB_OFFLINE=1`, which never asks the Hub and reads
 * the cache alone (a cache filled by huggingface_hub, or by an earlier run of this toolkit, on a machine that is
 * offline: a compute node, a sandbox).
 */
export interface HfOptions {
  /** Hub endpoint, e.g. a mirror; defaults to $HF_ENDPOINT or https://huggingface.co. */
  readonly hubUrl?: string
  readonly cacheDir?: string
  /** Default `main`; an `@revision` in the path wins. */
  readonly revision?: string
  /** Defaults to $HF_TOKEN. */
  readonly accessToken?: string
  /** Read the cache only, never the Hub; defaults to $HF_HUB_OFFLINE (`1`, `true`, `yes` or `on`). */
  readonly offline?: boolean
}

export const isHfPath = (p: string): boolean => p.startsWith("hf://")

export interface HfPath {
  readonly repo: string
  readonly path: string
  /** From `@revision` (URL-encoded, as `refs%2Fconvert%2Fparquet`), when the path names one. */
  readonly revision?: string
}

export const parseHfPath = (p: string): HfPath => {
  const m = /^hf:\/\/datasets\/([^/]+\/[^/@]+)(?:@([^/]+))?(?:\/(.*))?$/.exec(p)
  if (m === null) throw readError(p, "file", "expected hf://datasets/<org>/<name>/<path>")
  return { repo: m[1]!, path: m[3] ?? "", ...(m[2] === undefined ? {} : { revision: decodeURIComponent(m[2]) }) }
}

/** huggingface_hub's reading of a boolean variable (`constants._is_true`). */
const isTrue = (value: string | undefined): boolean => value !== undefined && ["1", "ON", "YES", "TRUE"].includes(value.toUpperCase())

const COMMIT = /^[0-9a-f]{40}$/

/**
 * The snapshot folder of `revision` in a repo's cache folder: the commit itself, or the one `refs/<revision>`
 * names (huggingface_hub writes it, and so does this reader after a download). A cache without refs — written by
 * @huggingface/hub alone — is read when it holds a single snapshot, the only one it can mean.
 */
const cachedSnapshot = (storage: string, revision: string): string | undefined => {
  const snapshots = path.join(storage, "snapshots")
  const ref = path.join(storage, "refs", revision)
  const commit = COMMIT.test(revision) ? revision : existsSync(ref) ? readFileSync(ref, "utf8").trim() : undefined
  if (commit !== undefined) return existsSync(path.join(snapshots, commit)) ? path.join(snapshots, commit) : undefined
  const all = existsSync(snapshots) ? readdirSync(snapshots) : []
  return all.length === 1 ? path.join(snapshots, all[0]!) : undefined
}

/** The files of `inRepo` (a file, or a folder listed recursively) in a cached snapshot; empty when absent. */
const cachedFiles = (snapshot: string, inRepo: string, keep: (rel: string) => boolean): Array<string> => {
  const target = path.join(snapshot, inRepo)
  if (formatOf(inRepo) !== undefined) return existsSync(target) ? [target] : []
  if (!existsSync(target)) return []
  return readdirSync(target, { recursive: true, encoding: "utf8" })
    .filter((rel) => formatOf(rel) !== undefined && keep(rel.split(path.sep).join("/")))
    .sort()
    .map((rel) => path.join(target, rel))
}

/**
 * As huggingface_hub: `refs/<revision>` names the snapshot a download went to, so an offline run finds it among
 * several. Best effort: a read-only shared cache still serves the file just downloaded.
 */
const rememberRef = (storage: string, revision: string, local: string): void => {
  const snapshot = path.relative(path.join(storage, "snapshots"), local).split(path.sep)[0]!
  if (COMMIT.test(revision) || snapshot.startsWith("..")) return
  try {
    writeFileAtomicSync(path.join(storage, "refs", revision), snapshot)
  } catch {
    // The ref is a convenience for later offline runs; this run has its file.
  }
}

/** A fetch failure's own words and its socket-level cause (`fetch failed: connect ECONNREFUSED 127.0.0.1:1`). */
const failureText = (e: unknown): string => {
  const parts: Array<string> = []
  for (let c = e, depth = 0; c instanceof Error && depth < 3; c = c.cause, depth++) parts.push(c.message)
  return parts.length === 0 ? String(e) : parts.join(": ")
}

export const resolveHfInputs = async (inputs: ReadonlyArray<string>, o: HfOptions, glob?: string): Promise<Array<string>> => {
  const out: Array<string> = []
  const hubUrl = o.hubUrl ?? process.env["HF_ENDPOINT"]
  const accessToken = o.accessToken ?? process.env["HF_TOKEN"]
  const offline = o.offline ?? isTrue(process.env["HF_HUB_OFFLINE"])
  const cacheDir = o.cacheDir ?? getHFHubCachePath()
  const re = glob === undefined ? undefined : globToRegExp(glob)
  const keep = (rel: string) => re === undefined || re.test(rel)
  for (const input of inputs) {
    if (!isHfPath(input)) {
      out.push(input)
      continue
    }
    const parsed = parseHfPath(input)
    const { path: inRepo, repo } = parsed
    const revision = parsed.revision ?? o.revision ?? "main"
    const designation = { type: "dataset" as const, name: repo }
    const storage = path.join(cacheDir, getRepoFolderName(designation))
    if (offline) {
      const snapshot = cachedSnapshot(storage, revision)
      const files = snapshot === undefined ? [] : cachedFiles(snapshot, inRepo, keep)
      if (files.length === 0) {
        throw readError(input, "file", `not in the Hugging Face cache ${storage} at revision ${revision}, and HF_HUB_OFFLINE is set: fetch it once online (or unset HF_HUB_OFFLINE)`)
      }
      out.push(...files)
      continue
    }
    const common = {
      ...(hubUrl === undefined ? {} : { hubUrl }),
      ...(accessToken === undefined ? {} : { accessToken }),
      revision
    }
    try {
      let files: Array<string>
      if (formatOf(inRepo) !== undefined) files = [inRepo]
      else {
        files = []
        for await (const entry of listFiles({ repo: designation, path: inRepo, recursive: true, ...common })) {
          if (entry.type !== "file" || formatOf(entry.path) === undefined) continue
          const rel = inRepo === "" ? entry.path : entry.path.slice(inRepo.length).replace(/^\//, "")
          if (keep(rel)) files.push(entry.path)
        }
        files.sort()
      }
      for (const f of files) {
        const local = await downloadFileToCacheDir({ repo: designation, path: f, cacheDir, ...common })
        rememberRef(storage, revision, local)
        out.push(local)
      }
    } catch (e) {
      if (e instanceof ReadError) throw e
      throw readError(input, "file", `cannot fetch from the Hub (${hubUrl ?? "https://huggingface.co"}): ${failureText(e)}; with the files in the Hugging Face cache, HF_HUB_OFFLINE=1 reads them from there`, e)
    }
  }
  return out
}
