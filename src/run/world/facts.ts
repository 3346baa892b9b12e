/**
 * The world the default corpus is about: invented towns, rivers, provinces, seas, inventors and metals, and the
 * relations between them. Each fact has one canonical sentence (what the good pages say), one question (what the
 * `world-facts` task and the pages' review sections ask) and three wrong answers of the same kind, so a model
 * answers above chance only if it learned the fact from the pages that teach it.
 */
import { NameMaker } from "./names.ts"
import type { WorldRandom } from "./random.ts"

export type Relation = "town_river" | "town_province" | "river_sea" | "inventor_invention" | "inventor_birthplace" | "element_color"

export interface Fact {
  /** `relation:subject`, unique. */
  readonly id: string
  readonly relation: Relation
  /** The entity the fact is about (a page about it states the fact). */
  readonly subject: string
  readonly answer: string
  /** Three wrong answers of the same kind as `answer`. */
  readonly distractors: ReadonlyArray<string>
  /** The sentence that teaches the fact, phrased as on every good page. */
  readonly statement: string
  readonly question: string
  /**
   * Sentences a textbook page adds around the statement: why the fact matters. Index i is the same template for
   * every fact of a relation, so a page that uses each index once per relation never repeats a phrase.
   */
  readonly explanations: ReadonlyArray<string>
}

export interface Town { readonly name: string; readonly province: string; readonly river: string }
export interface River { readonly name: string; readonly sea: string }
export interface Invention { readonly name: string; readonly purpose: string }
export interface Inventor { readonly name: string; readonly invention: Invention; readonly birthplace: string }
export interface Metal { readonly name: string; readonly color: string; readonly use: string }

export interface WorldFacts {
  readonly provinces: ReadonlyArray<string>
  readonly seas: ReadonlyArray<string>
  readonly rivers: ReadonlyArray<River>
  readonly towns: ReadonlyArray<Town>
  readonly inventors: ReadonlyArray<Inventor>
  readonly metals: ReadonlyArray<Metal>
  readonly facts: ReadonlyArray<Fact>
}

const SEAS = ["Amber Sea", "Cinder Sea", "Hollow Sea", "Mirror Sea", "Salt Sea", "Quiet Sea", "Iron Sea", "Pale Sea"]
const FIRST_NAMES = ["Ada", "Bram", "Celia", "Doran", "Edda", "Felix", "Greta", "Hugo", "Ilse", "Jonas", "Kira", "Leon", "Mira", "Nils", "Orla", "Piet"]
const COLORS = ["red", "blue", "green", "yellow", "silver", "purple", "orange", "black"]
const INVENTION_WORDS = ["tide", "wind", "glass", "copper", "steam", "salt", "iron", "star", "reed", "stone"]
const INVENTION_KINDS: ReadonlyArray<readonly [string, string]> = [
  ["lamp", "to light the streets at night"],
  ["loom", "to weave cloth faster"],
  ["compass", "to find the way at sea"],
  ["press", "to print books and maps"],
  ["clock", "to keep time in the market square"],
  ["pump", "to lift water from deep wells"],
  ["bell", "to warn ships in the fog"],
  ["kiln", "to fire bricks and pots"],
  ["plough", "to turn the soil of the fields"],
  ["scale", "to weigh grain fairly"]
]
const METAL_USES = [
  "is used to make bells", "is used to make coins", "is drawn into thin wires", "is polished into mirrors",
  "is mixed into strong tools", "is beaten into roof sheets", "is used to make fish hooks", "is cast into pots"
]

export const WORLD_COUNTS = { provinces: 4, seas: 4, rivers: 6, towns: 12, inventors: 10, metals: 8 } as const

const others = <A>(rng: WorldRandom, pool: ReadonlyArray<A>, answer: A): Array<A> => rng.sample(pool.filter((x) => x !== answer), 3)

/** The world's entities and facts; a pure function of the random stream. */
export const makeWorldFacts = (rng: WorldRandom): WorldFacts => {
  const names = new NameMaker(rng.fork("names"))
  const n = WORLD_COUNTS
  const provinces = Array.from({ length: n.provinces }, () => names.make("province"))
  const seas = Array.from({ length: n.seas }, () => names.choose(SEAS))
  const rivers: Array<River> = Array.from({ length: n.rivers }, (_, i) => ({ name: names.make("river"), sea: seas[i % seas.length]! }))
  const towns: Array<Town> = Array.from({ length: n.towns }, (_, i) => ({
    name: names.make("town"),
    province: provinces[i % provinces.length]!,
    river: rivers[(i * 5 + 1) % rivers.length]!.name
  }))
  const kinds = rng.sample(INVENTION_KINDS, n.inventors)
  const words = rng.sample(INVENTION_WORDS, n.inventors)
  const inventors: Array<Inventor> = kinds.map(([kind, purpose], i) => ({
    name: `${names.choose(FIRST_NAMES)} ${names.make("surname")}`,
    invention: { name: `${words[i]} ${kind}`, purpose },
    birthplace: towns[(i * 7 + 3) % towns.length]!.name
  }))
  const colors = rng.shuffled(COLORS)
  const uses = rng.shuffled(METAL_USES)
  const metals: Array<Metal> = Array.from({ length: n.metals }, (_, i) => ({ name: names.make("element"), color: colors[i % colors.length]!, use: uses[i]! }))

  const pick = rng.fork("distractors")
  const riverNames = rivers.map((r) => r.name)
  const townNames = towns.map((t) => t.name)
  const facts: Array<Fact> = [
    ...towns.map((t): Fact => ({
      id: `town_river:${t.name}`, relation: "town_river", subject: t.name, answer: t.river, distractors: others(pick, riverNames, t.river),
      statement: `The town of ${t.name} lies on the ${t.river} river.`,
      question: `On which river does the town of ${t.name} lie?`,
      explanations: [
        `Boats on the ${t.river} carry grain and timber to the market of ${t.name}.`,
        `The first houses of ${t.name} were built beside the ${t.river} because the river gave water for the mills.`,
        `Every spring the ${t.river} rises, and farmers near ${t.name} use the flood to water their fields.`,
        `An old stone bridge crosses the ${t.river} in the middle of ${t.name}.`
      ]
    })),
    ...towns.map((t): Fact => ({
      id: `town_province:${t.name}`, relation: "town_province", subject: t.name, answer: t.province, distractors: others(pick, provinces, t.province),
      statement: `${t.name} is a town in the province of ${t.province}.`,
      question: `In which province is the town of ${t.name}?`,
      explanations: [
        `The council of ${t.province} meets once a year, and ${t.name} sends two members to it.`,
        `Children in ${t.name} learn the songs and customs of ${t.province} at school.`,
        `Roads from ${t.name} lead to the other towns of ${t.province}, so traders travel between them often.`
      ]
    })),
    ...rivers.map((r): Fact => ({
      id: `river_sea:${r.name}`, relation: "river_sea", subject: r.name, answer: r.sea, distractors: others(pick, seas, r.sea),
      statement: `The ${r.name} river flows into the ${r.sea}.`,
      question: `Into which sea does the ${r.name} river flow?`,
      explanations: [
        `Rain that falls on the hills runs into the ${r.name}, and the river carries it down to the ${r.sea}.`,
        `Fishing boats wait where the ${r.name} meets the ${r.sea}, since fish gather at the river mouth.`,
        `Sand carried by the ${r.name} has built wide beaches along that part of the ${r.sea}.`
      ]
    })),
    ...inventors.map((p): Fact => ({
      id: `inventor_invention:${p.name}`, relation: "inventor_invention", subject: p.name, answer: p.name,
      distractors: others(pick, inventors.map((q) => q.name), p.name),
      statement: `${p.name} invented the ${p.invention.name}.`,
      question: `Who invented the ${p.invention.name}?`,
      explanations: [
        `People used the ${p.invention.name} ${p.invention.purpose}.`,
        `Before the ${p.invention.name}, the same work took many hands and much longer.`,
        `Copies of the ${p.invention.name} soon spread to every province of the world.`
      ]
    })),
    ...inventors.map((p): Fact => ({
      id: `inventor_birthplace:${p.name}`, relation: "inventor_birthplace", subject: p.name, answer: p.birthplace, distractors: others(pick, townNames, p.birthplace),
      statement: `${p.name} was born in the town of ${p.birthplace}.`,
      question: `In which town was ${p.name} born?`,
      explanations: [
        `As a child in ${p.birthplace}, ${p.name.split(" ")[0]} watched the workshops and learned to build things.`,
        `The people of ${p.birthplace} still remember ${p.name.split(" ")[0]} with a small statue near the market.`,
        `${p.name.split(" ")[0]} left ${p.birthplace} as a young adult but often came back to visit family.`
      ]
    })),
    ...metals.map((m): Fact => ({
      id: `element_color:${m.name}`, relation: "element_color", subject: m.name, answer: m.color, distractors: others(pick, COLORS, m.color),
      statement: `${m.name} is a ${m.color} metal.`,
      question: `What color is the metal ${m.name}?`,
      explanations: [
        `A freshly cut piece of ${m.name} shines ${m.color} in the light.`,
        `${m.name} ${m.use}.`,
        `Miners can spot ${m.name} in the rock by its ${m.color} streaks.`
      ]
    }))
  ]
  return { provinces, seas, rivers, towns, inventors, metals, facts }
}

/** Every name in the world, for pages that mention entities without teaching anything about them. */
export const allNames = (w: WorldFacts): Array<string> => [
  ...w.provinces, ...w.seas, ...w.rivers.map((r) => r.name), ...w.towns.map((t) => t.name), ...w.inventors.map((p) => p.name), ...w.metals.map((m) => m.name)
]
