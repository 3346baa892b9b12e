/**
 * Reading a run config: a JSON or YAML file, command-line overrides applied to the parsed tree, then one decode
 * through the `RunConfig` Schema (structure, defaults and the cross-field checks). Every failure is a
 * `RunConfigError` whose lines say `FILE:LINE: field.path: problem`, or name the override that caused it.
 */
import { Effect, Exit, FileSystem, Schema, SchemaAST, SchemaIssue } from "effect"
import { isMap, LineCounter, parseDocument, type Document as YamlDocument } from "yaml"
import { RunConfig } from "./config.ts"
import { applyOverrides, type ConfigOverride } from "./config-overrides.ts"

export const ConfigProblem = Schema.Struct({
  /** The field, as a dotted path: `stages[2].mixture.math` ("" for the whole config). */
  path: Schema.String,
  message: Schema.String,
  /** 1-based line in the file, when the field (or its nearest parent) is in it. */
  line: Schema.optionalKey(Schema.Number),
  /** The command-line override that set the field, when one did. */
  override: Schema.optionalKey(Schema.String)
})
export type ConfigProblem = typeof ConfigProblem.Type

export class RunConfigError extends Schema.TaggedError<RunConfigError>()("RunConfigError", {
  /** The config file, when there is one. */
  file: Schema.optionalKey(Schema.String),
  problems: Schema.Array(ConfigProblem),
  message: Schema.String
}) {}

/** `["stages", 2, "mixture", "math"]` → `stages[2].mixture.math`. */
export const formatConfigPath = (path: ReadonlyArray<PropertyKey>): string =>
  path.reduce<string>((out, key) => {
    if (typeof key === "number") return `${out}[${key}]`
    const name = String(key)
    const plain = /^[A-Za-z0-9_:-]+$/.test(name)
    return plain ? (out === "" ? name : `${out}.${name}`) : `${out}[${JSON.stringify(name)}]`
  }, "")

const problemLine = (file: string | undefined, p: ConfigProblem): string => {
  const where = p.override !== undefined ? `${p.override}: ` : file === undefined ? "" : p.line === undefined ? `${file}: ` : `${file}:${p.line}: `
  return `${where}${p.path === "" ? "" : `${p.path}: `}${p.message}`
}

const makeError = (file: string | undefined, problems: ReadonlyArray<ConfigProblem>): RunConfigError =>
  new RunConfigError({
    ...(file === undefined ? {} : { file }),
    problems,
    message: problems.length === 1
      ? problemLine(file, problems[0]!)
      : `${problems.length} problems in the run config${file === undefined ? "" : ` ${file}`}:\n${problems.map((p) => `  ${problemLine(file, p)}`).join("\n")}`
  })

/** Where the fields of a parsed file are, to point at their lines. */
interface SourceMap {
  readonly lineOf: (path: ReadonlyArray<PropertyKey>) => number | undefined
}

const sourceMapOf = (doc: YamlDocument, counter: LineCounter): SourceMap => ({
  lineOf: (path) => {
    // The field itself, or the nearest parent that is in the file (a missing key points at its map).
    for (let n = path.length; n >= 0; n--) {
      const node = doc.getIn(path.slice(0, n).map((k) => typeof k === "symbol" ? String(k) : k), true)
      const range = (node as { range?: [number, number, number] } | undefined)?.range
      if (range !== undefined) {
        // A map's range starts at its first key; name the key line of the field that holds it.
        const parent = n > 0 ? doc.getIn(path.slice(0, n - 1).map(String), true) : undefined
        if (isMap(parent)) {
          const pair = parent.items.find((item) => String((item.key as { value?: unknown } | null)?.value ?? item.key) === String(path[n - 1]))
          const keyRange = (pair?.key as { range?: [number, number, number] } | null | undefined)?.range
          if (keyRange !== undefined) return counter.linePos(keyRange[0]).line
        }
        return counter.linePos(range[0]).line
      }
    }
    return undefined
  }
})

const issueFormatter = SchemaIssue.makeFormatterStandardSchemaV1({
  leafHook: (issue) => issue._tag === "UnexpectedKey" ? "unknown field" : SchemaIssue.defaultLeafHook(issue)
})

/** The config's schema nodes at `path`: one per union member that could be there. */
const nodesAt = (path: ReadonlyArray<PropertyKey>): Array<SchemaAST.AST> => {
  let nodes: Array<SchemaAST.AST> = [RunConfig.ast]
  for (const key of path) {
    nodes = nodes.flatMap((n) => SchemaAST.isUnion(n) ? n.types : [n]).flatMap((n): Array<SchemaAST.AST> => {
      if (SchemaAST.isArrays(n)) return typeof key === "number" ? [...n.elements.slice(key, key + 1), ...n.rest.slice(0, 1)] : []
      if (!SchemaAST.isObjects(n)) return []
      const field = n.propertySignatures.find((p) => p.name === key)
      return field !== undefined ? [field.type] : n.indexSignatures.map((i) => i.type)
    })
  }
  return nodes.flatMap((n) => SchemaAST.isUnion(n) ? n.types : [n])
}

/** The field names a map at `path` may have, for "unknown field" messages. */
export const fieldNamesAt = (path: ReadonlyArray<PropertyKey>): Array<string> =>
  [...new Set(nodesAt(path).flatMap((n) => SchemaAST.isObjects(n) ? n.propertySignatures.map((p) => String(p.name)) : []))]

/** The problems of a tree that does not decode, with lines and the overrides that set them. */
const problemsOf = (
  issue: SchemaIssue.Issue,
  map: SourceMap | undefined,
  overrides: ReadonlyArray<ConfigOverride>
): Array<ConfigProblem> =>
  issueFormatter(issue).issues.map((i) => {
    const path = (i.path ?? []).map((k) => (typeof k === "object" && k !== null && "key" in k ? k.key : k) as PropertyKey)
    const text = formatConfigPath(path)
    // The last override that wrote this field or one above it is what put the bad value there.
    const override = [...overrides].reverse().find((o) => o.path.length <= path.length && o.path.every((k, n) => String(path[n]) === String(k)))
    const line = override === undefined ? map?.lineOf(path) : undefined
    const known = i.message === "unknown field" ? fieldNamesAt(path.slice(0, -1)) : []
    return {
      path: text,
      message: known.length > 0 ? `unknown field (fields here: ${known.join(", ")})` : i.message,
      ...(line === undefined ? {} : { line }),
      ...(override === undefined ? {} : { override: override.source })
    }
  })

/**
 * Top-level keys starting with `x-` are the file's own: YAML anchors to reuse (`x-eval: &eval {…}`), as in
 * docker-compose. They are dropped before decoding; any other unknown key is an error.
 */
export const withoutExtensions = (tree: unknown): unknown =>
  typeof tree === "object" && tree !== null && !Array.isArray(tree)
    ? Object.fromEntries(Object.entries(tree).filter(([key]) => !key.startsWith("x-")))
    : tree

/**
 * Decodes an already-parsed config tree (from a file, or built in code like the default world's), applying
 * `overrides` first. `file` and `map` only improve the messages.
 */
export const decodeRunConfig = (
  tree: unknown,
  overrides: ReadonlyArray<ConfigOverride> = [],
  origin: { readonly file?: string; readonly map?: SourceMap } = {}
): Effect.Effect<RunConfig, RunConfigError> => {
  const applied = applyOverrides(withoutExtensions(tree), overrides)
  if (!("tree" in applied)) {
    return Effect.fail(makeError(origin.file, [{ path: "", message: applied.message, override: applied.source }]))
  }
  const exit = Schema.decodeUnknownExit(RunConfig)(applied.tree, { errors: "all", onExcessProperty: "error", reportInput: true })
  if (Exit.isSuccess(exit)) return Effect.succeed(exit.value)
  const error = exit.cause.reasons.find((r) => r._tag === "Fail")
  if (error === undefined || error._tag !== "Fail") return Effect.die(exit.cause)
  return Effect.fail(makeError(origin.file, problemsOf(error.error.issue, origin.map, overrides)))
}

/** The parsed tree of a config file's text, and where its fields are. */
export const parseConfigText = (
  file: string,
  text: string
): { readonly tree: unknown; readonly map: SourceMap | undefined } | RunConfigError => {
  const counter = new LineCounter()
  const doc = parseDocument(text, { lineCounter: counter, prettyErrors: true, uniqueKeys: true, merge: true })
  if (/\.json$/i.test(file)) {
    try {
      const tree: unknown = JSON.parse(text)
      return { tree, map: doc.errors.length === 0 ? sourceMapOf(doc, counter) : undefined }
    } catch (e) {
      const message = e instanceof Error ? e.message : String(e)
      const at = /position (\d+)/.exec(message)
      const line = at === null ? undefined : text.slice(0, Number(at[1])).split("\n").length
      return makeError(file, [{ path: "", message: `not valid JSON: ${message}`, ...(line === undefined ? {} : { line }) }])
    }
  }
  if (!/\.ya?ml$/i.test(file)) return makeError(file, [{ path: "", message: "a run config is a .yaml, .yml or .json file" }])
  if (doc.errors.length > 0) {
    return makeError(file, doc.errors.map((e) => ({
      path: "",
      message: `not valid YAML: ${e.message.split("\n")[0]!.replace(/ at line \d+, column \d+:?$/, "")}`,
      ...(e.linePos === undefined ? {} : { line: e.linePos[0].line })
    })))
  }
  return { tree: doc.toJS({ maxAliasCount: 100 }), map: sourceMapOf(doc, counter) }
}

/** Reads, parses, overrides and decodes the run config at `file`. */
export const loadRunConfig = (
  file: string,
  overrides: ReadonlyArray<ConfigOverride> = []
): Effect.Effect<RunConfig, RunConfigError, FileSystem.FileSystem> =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const text = yield* fs.readFileString(file).pipe(
      Effect.mapError((e) => makeError(file, [{ path: "", message: `cannot read the file: ${e.message}` }]))
    )
    const parsed = parseConfigText(file, text)
    if (parsed instanceof RunConfigError) return yield* parsed
    return yield* decodeRunConfig(parsed.tree, overrides, { file, ...(parsed.map === undefined ? {} : { map: parsed.map }) })
  }).pipe(Effect.withSpan("loadRunConfig", { attributes: { file } }))
