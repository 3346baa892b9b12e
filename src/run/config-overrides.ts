/**
 * Command-line overrides of the run config, applied to the parsed tree before it is decoded (torchtitan's
 * `--training.steps 10`): `--set training.lr=3e-4`, `--training.lr 3e-4` or `--training.lr=3e-4`. Paths are the
 * config's dotted field names, with `[i]` (or `.i`) for list items: `stages[1].mixture.owm=5`. A value is read as
 * YAML, so `3e-4` is a number, `true` a boolean, `[a, b]` a list and `{x: 1}` a map; anything else is a string.
 */
import { parse as parseYaml } from "yaml"

export interface ConfigOverride {
  /** The override as given, for messages: `--set training.lr=3e-4`. */
  readonly source: string
  readonly path: ReadonlyArray<string | number>
  readonly value: unknown
}

/** An override that cannot be applied (bad syntax, or a path through something that is not a map or list). */
export interface OverrideProblem {
  readonly source: string
  readonly message: string
}

const PATH = /^[^.[\]=\s]+(?:\.[^.[\]=\s]+|\[\d+\])*$/

/**
 * `stages[1].mixture.owm` → ["stages", 1, "mixture", "owm"]. `[i]` is a list index; `.2` is a map key "2", or an
 * index when the value there turns out to be a list.
 */
export const parseConfigPath = (text: string): ReadonlyArray<string | number> | undefined =>
  PATH.test(text) ? [...text.matchAll(/\[(\d+)\]|([^.[\]]+)/g)].map((m) => m[1] !== undefined ? Number(m[1]) : m[2]!) : undefined

const readValue = (text: string): unknown => {
  try {
    return parseYaml(text)
  } catch {
    return text
  }
}

/** One `key=value` override; `source` says how it was given. */
export const parseOverride = (text: string, source = `--set ${text}`): ConfigOverride | OverrideProblem => {
  const eq = text.indexOf("=")
  if (eq <= 0) return { source, message: "expected KEY=VALUE, e.g. training.lr=3e-4" }
  const path = parseConfigPath(text.slice(0, eq).trim())
  if (path === undefined) return { source, message: `"${text.slice(0, eq)}" is not a field path (e.g. training.lr, stages[1].mixture.owm)` }
  return { source, path, value: readValue(text.slice(eq + 1)) }
}

/**
 * The overrides among command-line arguments, and the arguments left for the program. Taken: `--set KEY=VALUE`,
 * and `--a.b VALUE` / `--a.b=VALUE` for any flag with a dot in its name (flags without one belong to the program).
 */
export const overridesFromArgs = (args: ReadonlyArray<string>): {
  readonly overrides: ReadonlyArray<ConfigOverride>
  readonly problems: ReadonlyArray<OverrideProblem>
  readonly rest: ReadonlyArray<string>
} => {
  const overrides: Array<ConfigOverride> = []
  const problems: Array<OverrideProblem> = []
  const rest: Array<string> = []
  const add = (o: ConfigOverride | OverrideProblem) => "message" in o ? problems.push(o) : overrides.push(o)
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!
    if (arg === "--set" || arg.startsWith("--set=")) {
      const value = arg === "--set" ? args[++i] : arg.slice("--set=".length)
      if (value === undefined) problems.push({ source: "--set", message: "expected KEY=VALUE after --set" })
      else add(parseOverride(value, `--set ${value}`))
      continue
    }
    const flag = /^--([^=\s]+\.[^=\s]+)(?:=(.*))?$/s.exec(arg)
    if (flag === null) {
      rest.push(arg)
      continue
    }
    const value = flag[2] ?? args[++i]
    if (value === undefined) problems.push({ source: arg, message: `expected a value after ${arg}` })
    else add(parseOverride(`${flag[1]}=${value}`, flag[2] === undefined ? `${arg} ${value}` : arg))
  }
  return { overrides, problems, rest }
}

const isMap = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v)

/** Thrown inside `applyOverrides` when a path cannot be followed; caught there and returned. */
class PathBlocked {
  constructor(readonly problem: OverrideProblem) {}
}

const setAt = (node: unknown, o: ConfigOverride, depth: number): unknown => {
  if (depth === o.path.length) return o.value
  const given = o.path[depth]!
  const key = typeof given === "string" && /^\d+$/.test(given) && Array.isArray(node) ? Number(given) : given
  const here = o.path.slice(0, depth).join(".") || "the config"
  if (typeof key === "number") {
    const list = node ?? []
    if (!Array.isArray(list)) throw new PathBlocked({ source: o.source, message: `${here} is not a list, so [${key}] cannot index it` })
    if (key > list.length) throw new PathBlocked({ source: o.source, message: `${here} has ${list.length} items; [${key}] is past its end` })
    const copy = [...list]
    copy[key] = setAt(list[key], o, depth + 1)
    return copy
  }
  const map = node ?? {}
  if (!isMap(map)) throw new PathBlocked({ source: o.source, message: `${here} is ${JSON.stringify(map)}, not a map, so it has no field "${key}"` })
  return { ...map, [key]: setAt(map[key], o, depth + 1) }
}

/**
 * The tree with each override set, in order, copying only the maps and lists on the way (the input is not
 * changed). Missing maps on the path are created; a list index may be one past the end (appends). Returns a
 * problem for a path that runs through a scalar or indexes past a list's end.
 */
export const applyOverrides = (tree: unknown, overrides: ReadonlyArray<ConfigOverride>): { readonly tree: unknown } | OverrideProblem => {
  let root: unknown = tree ?? {}
  try {
    for (const o of overrides) root = setAt(root, o, 0)
  } catch (e) {
    if (e instanceof PathBlocked) return e.problem
    throw e
  }
  return { tree: root }
}
