/**
 * Writes the default world to a folder, atomically (a half-written world never looks complete):
 *
 *   DIR/web/pages.jsonl  DIR/python/files.jsonl  DIR/javascript/files.jsonl  DIR/math/documents.jsonl
 *                          documents as `{id, text, metadata}` lines, the sources of `defaultRunConfig`
 *   DIR/chat/chats.jsonl   SmolTalk-style conversations for SFT
 *   DIR/labels.jsonl       the true score of every document (the stand-in annotator's table, world-annotator.ts)
 *   DIR/facts.json         the world's entities and facts, for a person to read
 *   DIR/eval/world/        facts.jsonl, arithmetic.jsonl, code.jsonl: the world-* tasks' files, under the
 *                          evaluation data folder DIR/eval
 *   DIR/world.json         seed, scale and counts
 */
import { Effect } from "effect"
import { writeFolderAtomic } from "../../data/io/atomic.ts"
import { generateWorld, type World, WorldOptionsError, WORLD_SOURCES, type WorldOptions, type WorldSourceName } from "./generate.ts"
import { labelOf } from "./labels.ts"
import { LABELS_FILE } from "./world-annotator.ts"

/** Where each source's documents are, relative to the world folder. */
export const SOURCE_FILES: Readonly<Record<WorldSourceName, string>> = {
  web: "web/pages.jsonl",
  python: "python/files.jsonl",
  javascript: "javascript/files.jsonl",
  math: "math/documents.jsonl"
}
export const CHATS_FILE = "chat/chats.jsonl"
/** The evaluation data folder; the task files are under it as src/eval registers them (`world/…`). */
export const EVAL_DIR = "eval"

const jsonl = (rows: ReadonlyArray<unknown>): string => rows.map((r) => `${JSON.stringify(r)}\n`).join("")

/** The world's files, name → content, in a fixed order. */
export const worldFiles = (world: World): Array<readonly [string, string]> => {
  const counts = Object.fromEntries(WORLD_SOURCES.map((s) => [s, world.sources[s].length]))
  return [
    ...WORLD_SOURCES.map((s) => [SOURCE_FILES[s], jsonl(world.sources[s].map((d) => d.doc))] as const),
    [CHATS_FILE, jsonl(world.chats)],
    [LABELS_FILE, jsonl(WORLD_SOURCES.flatMap((s) => world.sources[s].map((d) => labelOf(s, d))))],
    ["facts.json", `${JSON.stringify(world.facts, null, 2)}\n`],
    [`${EVAL_DIR}/world/facts.jsonl`, jsonl(world.eval.facts)],
    [`${EVAL_DIR}/world/facts-cloze.jsonl`, jsonl(world.eval.factsCloze)],
    [`${EVAL_DIR}/world/edu-pages.jsonl`, jsonl(world.eval.eduPages)],
    [`${EVAL_DIR}/world/arithmetic.jsonl`, jsonl(world.eval.arithmetic)],
    [`${EVAL_DIR}/world/code.jsonl`, jsonl(world.eval.code)],
    ["world.json", `${JSON.stringify({ seed: world.seed, scale: world.scale, documents: counts, chats: world.chats.length, facts: world.facts.facts.length }, null, 2)}\n`]
  ]
}

/** Generates the world for `options` and writes it to `dir`, replacing what was there; returns the world. */
export const writeDefaultWorld = Effect.fn("writeDefaultWorld")(function*(dir: string, options: WorldOptions = {}) {
  const world = yield* Effect.try({
    try: () => generateWorld(options),
    catch: (e) => (e instanceof WorldOptionsError ? e : new WorldOptionsError({ message: String(e) }))
  })
  yield* writeFolderAtomic(dir, worldFiles(world))
  return world
})
