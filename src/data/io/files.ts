import { readdir, stat } from "node:fs/promises"
import * as path from "node:path"

/**
 * Input discovery: files and folders (optionally recursive), filtered by a glob on the path relative to the
 * folder, sorted so that every task sees the same list and `files[rank::world]` sharding (datatrove's
 * BaseDiskReader) assigns each file to exactly one task.
 */
export interface ListOptions {
  readonly glob?: string | undefined
  readonly recursive?: boolean | undefined
}

/** `*` within a path segment, `**` across segments, `?` one character, `{a,b}` alternatives. */
export const globToRegExp = (glob: string): RegExp => {
  let re = ""
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!
    if (c === "*") {
      if (glob[i + 1] === "*") {
        re += glob[i + 2] === "/" ? "(?:.*/)?" : ".*"
        i += glob[i + 2] === "/" ? 2 : 1
      } else re += "[^/]*"
    } else if (c === "?") re += "[^/]"
    else if (c === "{") {
      const end = glob.indexOf("}", i)
      re += "(?:" + glob.slice(i + 1, end).split(",").map((s) => s.replace(/[.+^$()|[\]\\]/g, "\\$&")).join("|") + ")"
      i = end
    } else re += c.replace(/[.+^$()|[\]\\]/g, "\\$&")
  }
  return new RegExp(`^${re}$`)
}

const walk = async (dir: string, recursive: boolean, out: Array<string>): Promise<void> => {
  const entries = await readdir(dir, { withFileTypes: true })
  for (const e of entries) {
    const p = path.join(dir, e.name)
    if (e.isDirectory()) {
      if (recursive) await walk(p, recursive, out)
    } else if (e.isFile() || e.isSymbolicLink()) out.push(p)
  }
}

export const listInputFiles = async (inputs: ReadonlyArray<string>, options: ListOptions = {}): Promise<Array<string>> => {
  const re = options.glob === undefined ? undefined : globToRegExp(options.glob)
  const out: Array<string> = []
  for (const input of inputs) {
    const s = await stat(input)
    if (s.isDirectory()) {
      const found: Array<string> = []
      await walk(input, options.recursive ?? true, found)
      for (const f of found.sort()) {
        const rel = path.relative(input, f).split(path.sep).join("/")
        if (formatOf(f) !== undefined && (re === undefined || re.test(rel))) out.push(f)
      }
    } else out.push(input)
  }
  return out
}

export type FileFormat = "jsonl" | "parquet" | "arrow"

export const formatOf = (file: string): FileFormat | undefined => {
  const f = file.toLowerCase()
  if (/\.(jsonl|ndjson|json)(\.gz)?$/.test(f)) return "jsonl"
  if (f.endsWith(".parquet")) return "parquet"
  if (/\.(arrow|arrows|feather|ipc)$/.test(f)) return "arrow"
  return undefined
}
