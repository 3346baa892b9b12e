/**
 * Invented names for the world's entities, built from syllables so that they are new words (a model can only
 * know them from the world's pages) yet pronounceable and short enough for a small tokenizer to learn as a few
 * pieces. Every name is unique across the whole world, so a question has exactly one right answer.
 */
import type { WorldRandom } from "./random.ts"

const ONSETS = ["b", "br", "c", "d", "dr", "f", "g", "gr", "h", "k", "l", "m", "n", "p", "r", "s", "st", "t", "th", "v", "w"]
const VOWELS = ["a", "e", "i", "o", "u", "ai", "ea", "ou"]
const CODAS = ["", "", "n", "r", "l", "s", "m", "th"]

const syllable = (rng: WorldRandom): string => rng.pick(ONSETS) + rng.pick(VOWELS) + rng.pick(CODAS)

const capitalize = (s: string): string => s.charAt(0).toUpperCase() + s.slice(1)

export type NameKind = "town" | "river" | "province" | "surname" | "element"

const SUFFIXES: Record<NameKind, ReadonlyArray<string>> = {
  town: ["moor", "ford", "holm", "wick", "dale", "stead", "bury", "mouth", "haven", "gate"],
  river: ["wash", "run", "brook", "water", "flow", "mere"],
  province: ["ia", "land", "mark", "shire", "reach"],
  surname: ["ley", "ton", "well", "by", "son", "er"],
  element: ["ium", "ium", "on", "ite"]
}

/** Draws names, never the same one twice. */
export class NameMaker {
  private readonly used = new Set<string>()

  constructor(private readonly rng: WorldRandom) {}

  make(kind: NameKind): string {
    for (;;) {
      const stem = syllable(this.rng) + (this.rng.chance(0.4) ? syllable(this.rng) : "")
      const name = capitalize(stem + this.rng.pick(SUFFIXES[kind]))
      if (name.length <= 12 && !this.used.has(name)) {
        this.used.add(name)
        return name
      }
    }
  }

  /** A name from a fixed list (seas, first names), unused so far. */
  choose(options: ReadonlyArray<string>): string {
    const left = options.filter((o) => !this.used.has(o))
    const name = this.rng.pick(left)
    this.used.add(name)
    return name
  }
}
