/**
 * The world's web: pages of graded educational quality, as the FineWeb-Edu prompt grades them ([P] §3.2):
 *  0  spam, ads, cookie notices and navigation boilerplate;
 *  1  shallow chatter (forum replies, comments);
 *  2  personal posts that mention the world's places and people but teach nothing;
 *  3  informative pages with a fact or two among casual text;
 *  4  encyclopedia-like articles stating several facts plainly;
 *  5  textbook lessons: facts with explanations, a summary and review questions.
 * Only pages graded 3 and up state the world's facts (each in its one canonical sentence; lessons also ask the
 * `world-facts` questions in their review sections), so a model learns the facts from the pages a classifier
 * keeps; pages below 3 mention names in passing, which is noise. Besides: near-duplicates (pages copied with small edits, for MinHash) and filter bait that FineWeb's
 * heuristic filters drop (repeated lines, too short, bullet lists, lorem ipsum).
 */
import { makeDocument } from "../../data/Document.ts"
import { allNames, type Fact, type WorldFacts } from "./facts.ts"
import type { LabelledDocument } from "./labels.ts"
import type { WorldRandom } from "./random.ts"

/** Shares of ordinary pages per grade 0–5: about half the web falls below the threshold of 3, as in FineWeb. */
const GRADE_WEIGHTS = [0.14, 0.16, 0.2, 0.18, 0.17, 0.15]
const NEAR_DUPLICATE_SHARE = 0.08
const BAIT_SHARE = 0.08

const pageText = (paragraphs: ReadonlyArray<string>): string => paragraphs.filter((p) => p !== "").join("\n\n")

/** How a review section answers a question: a line of at least three words (C4 drops shorter lines). */
const answerPhrase = (f: Fact): string => {
  switch (f.relation) {
    case "town_river":
      return `the ${f.answer} river`
    case "town_province":
      return `the province of ${f.answer}`
    case "river_sea":
      return `the ${f.answer}`
    case "inventor_invention":
      return f.answer
    case "inventor_birthplace":
      return `the town of ${f.answer}`
    case "element_color":
      return `it is ${f.answer}`
  }
}

/** A group of related facts that one good page teaches. */
interface Topic {
  readonly title: string
  readonly subject: string
  readonly facts: ReadonlyArray<Fact>
}

/**
 * Topics mix relations rather than repeating one: a page that said "X is a town in the province of P" for three
 * towns would repeat 5-grams, and Gopher's repetition filter ([Gopher] App. A1) would rightly drop it.
 */
const topicsOf = (w: WorldFacts): Array<Topic> => {
  const byId = new Map(w.facts.map((f) => [f.id, f]))
  const fact = (id: string) => byId.get(id)!
  const towns = w.towns.map((t): Topic => {
    const native = w.inventors.filter((p) => p.birthplace === t.name)
    return {
      title: `the town of ${t.name}`,
      subject: t.name,
      facts: [
        fact(`town_province:${t.name}`),
        fact(`town_river:${t.name}`),
        fact(`river_sea:${t.river}`),
        ...native.flatMap((p) => [fact(`inventor_birthplace:${p.name}`), fact(`inventor_invention:${p.name}`)])
      ]
    }
  })
  const inventors = w.inventors.map((p): Topic => ({
    title: `the life of ${p.name}`,
    subject: p.name,
    facts: [fact(`inventor_invention:${p.name}`), fact(`inventor_birthplace:${p.name}`), fact(`town_river:${p.birthplace}`)]
  }))
  const metals = w.metals.map((m, i): Topic => {
    const other = w.metals[(i + 1) % w.metals.length]!
    return { title: `the metals ${m.name} and ${other.name}`, subject: m.name, facts: [fact(`element_color:${m.name}`), fact(`element_color:${other.name}`)] }
  })
  return [...towns, ...inventors, ...metals]
}

/** Explanations for one page: each template at most once per relation, so the page never repeats a phrase. */
const explainer = (rng: WorldRandom) => {
  const used = new Map<string, Set<number>>()
  return (f: Fact): string | undefined => {
    const taken = used.get(f.relation) ?? new Set<number>()
    const free = f.explanations.map((_, i) => i).filter((i) => !taken.has(i))
    if (free.length === 0) return undefined
    const i = rng.pick(free)
    taken.add(i)
    used.set(f.relation, taken)
    return f.explanations[i]
  }
}

// ── grade 5: lessons ───────────────────────────────────────────────────────────────────────────────────────────

const LESSON_INTROS = [
  (t: Topic) => `In this lesson we study ${t.title}. We will learn the main facts, see why each of them matters, and then check what we have learned with a few questions.`,
  (t: Topic) => `This chapter explains ${t.title}. Read each part slowly, because every fact here builds on the one before it, and try to picture the places and people as you go.`,
  (t: Topic) => `Our topic today is ${t.title}. First we state the facts clearly, then we explain the reasons behind them, and at the end you can test yourself.`
]
const LESSON_LINKS = [
  "Why is this important? ", "Notice the reason here: ", "Think about what this means. ", "Here is the explanation. ", ""
]
const LESSON_SUMMARIES = [
  (t: Topic) => `To sum up, the facts about ${t.subject} fit together. Each one explains something about the others, so it is easier to remember them as one story than as a list.`,
  (t: Topic) => `In short, we have seen the key facts about ${t.subject} and the reasons for them. A good way to remember them is to explain them to a friend in your own words.`,
  (t: Topic) => `Let us review. The lesson gave the main facts about ${t.subject}, and for each one it showed how it connects to daily life in the world.`
]

const lesson = (rng: WorldRandom, topic: Topic, n: number): string => {
  const facts = rng.shuffled(topic.facts)
  const explain = explainer(rng)
  const links = rng.shuffled(LESSON_LINKS)
  const body = facts.map((f, i) => [links[i] ?? "", f.statement, explain(f) ?? "", explain(f) ?? ""].join(" ").replace(/ +/g, " ").trim())
  const review = rng.sample(facts, Math.min(3, facts.length)).map((f) => `Question: ${f.question}\nAnswer: ${answerPhrase(f)}.`)
  return pageText([
    `Lesson ${n}: ${topic.title}`,
    rng.pick(LESSON_INTROS)(topic),
    ...body,
    rng.pick(LESSON_SUMMARIES)(topic),
    `Review questions for this lesson\n${review.join("\n")}`
  ])
}

// ── grade 4: articles ──────────────────────────────────────────────────────────────────────────────────────────

const ARTICLE_FILLERS = [
  "Records of the region describe it in some detail, and travellers often wrote about it in their letters.",
  "Historians have studied the old archives and agree on these points.",
  "The facts below are taken from the regional almanac and from the school atlas.",
  "Several museums keep maps and objects that show this history.",
  "Local schools teach these facts to every child, and the town library keeps books about them."
]

const article = (rng: WorldRandom, topic: Topic): string => {
  const explain = explainer(rng)
  const sentences = rng.shuffled(topic.facts).flatMap((f) => [f.statement, ...(rng.chance(0.6) ? [explain(f) ?? ""] : [])]).filter((x) => x !== "")
  const [first, second, third] = rng.sample(ARTICLE_FILLERS, 3) as [string, string, string]
  const half = Math.ceil(sentences.length / 2)
  return pageText([
    `An article about ${topic.title}`,
    `${first} ${sentences.slice(0, half).join(" ")}`,
    `${sentences.slice(half).join(" ")} ${second}`,
    third
  ])
}

// ── grade 3: informative but casual ────────────────────────────────────────────────────────────────────────────

const GUIDE_OPENERS = [
  (s: string) => `Planning a trip that includes ${s}? Here are a few things worth knowing before you go.`,
  (s: string) => `We get a lot of questions about ${s}, so here is a short guide with the basics.`,
  (s: string) => `If you have ever wondered about ${s}, this quick overview should help a little.`
]
const GUIDE_FILLERS = [
  "The cafes near the main square are good, and prices are fair for the area.",
  "Spring is the best season to visit, when the roads are dry and the markets are busy.",
  "Bring comfortable shoes, since most of the interesting places are best seen on foot.",
  "The local bakery is famous for its honey bread, so try it if you have time.",
  "Guided walks leave from the old bridge every morning and last about two hours.",
  "Many visitors stay for two nights, which is enough to see the main sights."
]

const guide = (rng: WorldRandom, topic: Topic): string => {
  const facts = rng.sample(topic.facts, Math.min(2, topic.facts.length))
  const fillers = rng.sample(GUIDE_FILLERS, 4)
  return pageText([
    rng.pick(GUIDE_OPENERS)(topic.subject),
    `${fillers[0]} It helps to know some background. ${facts.map((f) => f.statement).join(" ")} ${fillers[1]}`,
    `${fillers[2]} ${fillers[3]} Have a great time and let us know how it went in the comments below.`
  ])
}

// ── grade 2: personal posts ────────────────────────────────────────────────────────────────────────────────────

const BLOG_LINES = [
  (a: string, b: string) => `We drove to ${a} on Saturday morning and had lunch near ${b}, which was lovely.`,
  (a: string, _b: string) => `My sister kept saying that ${a} reminded her of our grandmother's house.`,
  (_a: string, b: string) => `I took way too many photos of ${b}, so expect a photo post soon.`,
  (a: string, _b: string) => `The weather in ${a} was perfect until the afternoon, when it started to rain.`,
  (_a: string, b: string) => `On the way back we stopped at a small shop and someone there talked about ${b} for ages.`,
  (a: string, _b: string) => `Honestly I did not plan much for ${a}, we just walked around and ate far too much.`,
  (_a: string, _b: string) => "The kids were tired by evening but they said it was the best weekend of the summer.",
  (_a: string, _b: string) => "I bought a scarf and a jar of jam that I will probably never open.",
  (_a: string, _b: string) => "We will definitely go back next year, maybe with my parents this time."
]

const blog = (rng: WorldRandom, names: ReadonlyArray<string>): string => {
  const [a, b] = rng.sample(names, 2) as [string, string]
  const lines = rng.sample(BLOG_LINES, 6).map((f) => f(a, b))
  return pageText([`Our weekend trip, part ${rng.int(2, 9)}`, lines.slice(0, 3).join(" "), lines.slice(3).join(" ")])
}

// ── grade 1: chatter ───────────────────────────────────────────────────────────────────────────────────────────

const CHATTER = [
  (a: string) => `does anyone know a good place to eat in ${a}? asking for a friend lol`,
  (_a: string) => "same here, i was going to ask the exact same thing haha",
  (a: string) => `${a} is overrated imo, but my cousin loves it so whatever`,
  (_a: string) => "this thread is so old but i am replying anyway because i am bored",
  (_a: string) => "great post!! thanks for sharing, really made my day",
  (a: string) => `been to ${a} twice and it was fine i guess, nothing special really`,
  (_a: string) => "can someone please answer, i have been waiting all week for this",
  (_a: string) => "lol no way, that is the funniest thing i have read today",
  (_a: string) => "first comment! anyway i totally agree with whoever said that above",
  (a: string) => `my uncle lives near ${a} and he never stops talking about the weather`
]

const chatter = (rng: WorldRandom, names: ReadonlyArray<string>): string => {
  const picks = rng.sample(CHATTER, 7)
  return pageText([
    `Forum thread: random questions, page ${rng.int(2, 40)}`,
    picks.map((f, i) => `${rng.pick(["user", "guest", "fan", "reader"])}${rng.int(10, 999)} wrote: ${f(rng.pick(names))}${i % 2 === 0 ? "." : "!"}`).join("\n")
  ])
}

// ── grade 0: spam and boilerplate ──────────────────────────────────────────────────────────────────────────────

const PRODUCTS = ["watches", "sneakers", "phone cases", "sunglasses", "handbags", "vitamins", "garden tools", "headphones"]
const SPAM = [
  (p: string) => `Buy cheap ${p} online today with the best prices guaranteed.`,
  (_p: string) => "Free shipping on all orders over fifty dollars, no questions asked.",
  (p: string) => `Our ${p} are the number one choice of happy customers everywhere.`,
  (_p: string) => "Click here to order now and save big on every single item in the store.",
  (_p: string) => "Limited time offer, so act fast before the sale ends tonight!",
  (p: string) => `Top rated ${p} at wholesale prices, shop the huge sale now.`,
  (_p: string) => "Sign up for our newsletter and get a coupon code for your next order.",
  (_p: string) => "Call our hotline any time to speak with a friendly sales agent."
]
const BOILERPLATE = [
  "Home | About us | Contact | Shop | Blog | Careers",
  "This website uses cookies to improve your experience and to show you ads.",
  "Copyright all rights reserved by the owner of this site and its partners.",
  "Accept all | Reject all | Manage settings for this site"
]

const spam = (rng: WorldRandom): string => {
  const p = rng.pick(PRODUCTS)
  const lines = rng.sample(SPAM, 6).map((f) => f(p))
  const [top, bottom] = rng.sample(BOILERPLATE, 2) as [string, string]
  return pageText([
    top,
    `Best ${p} shop with great deals on ${rng.pick(PRODUCTS)} and ${p} for sale.`,
    lines.slice(0, 3).join(" "),
    lines.slice(3).join(" "),
    bottom
  ])
}

// ── filter bait ────────────────────────────────────────────────────────────────────────────────────────────────

/** A page with one of the flaws FineWeb's heuristic filters exist for; `flaw` names it in the side table. */
type Bait = { readonly text: string; readonly flaw: string; readonly score: number }

const bait = (rng: WorldRandom, names: ReadonlyArray<string>): Bait => {
  const name = rng.pick(names)
  switch (rng.int(0, 3)) {
    case 0: {
      const line = `Win a free ${rng.pick(PRODUCTS)} today, click the link below right now!`
      return { text: Array.from({ length: rng.int(12, 20) }, () => line).join("\n"), flaw: "repeated_lines", score: 0 }
    }
    case 1:
      return { text: `${name} weather today. Sunny with a light wind, ${rng.int(12, 24)} degrees.`, flaw: "too_short", score: 1 }
    case 2: {
      const items = Array.from({ length: rng.int(12, 18) }, () => `- ${rng.pick(PRODUCTS)} for sale in ${rng.pick(names)}, good condition, ${rng.int(5, 90)} dollars`)
      return { text: items.join("\n"), flaw: "bullet_lines", score: 0 }
    }
    default:
      return {
        text: pageText([
          `Welcome to the ${name} community page`,
          "Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor incididunt ut labore et dolore magna aliqua.",
          "Ut enim ad minim veniam, quis nostrud exercitation ullamco laboris nisi ut aliquip ex ea commodo consequat.",
          "Duis aute irure dolor in reprehenderit in voluptate velit esse cillum dolore eu fugiat nulla pariatur.",
          "Excepteur sint occaecat cupidatat non proident, sunt in culpa qui officia deserunt mollit anim id est laborum."
        ]),
        flaw: "lorem_ipsum",
        score: 0
      }
  }
}

// ── near-duplicates ────────────────────────────────────────────────────────────────────────────────────────────

const REPOST_LINES = ["Reposted from our archive.", "Shared by a reader, thank you!", "Updated last spring.", "Originally posted on the old site."]

/** A copy with small edits: a line added at the top or bottom and one word changed, as scrapers and mirrors do. */
const nearCopy = (rng: WorldRandom, text: string): string => {
  const words = text.split(" ")
  const i = rng.int(Math.floor(words.length / 4), Math.floor((3 * words.length) / 4))
  if (/^[a-z]+$/.test(words[i]!)) words[i] = rng.pick(["really", "very", "quite", "also"])
  const edited = words.join(" ")
  return rng.chance(0.5) ? `${rng.pick(REPOST_LINES)}\n\n${edited}` : `${edited}\n\n${rng.pick(REPOST_LINES)}`
}

// ── the web ────────────────────────────────────────────────────────────────────────────────────────────────────

const SITES: ReadonlyArray<ReadonlyArray<string>> = [
  ["deals", "bestshop", "promo"], ["forum", "board", "chat"], ["myblog", "diary", "travelnotes"],
  ["guide", "visit", "localnews"], ["almanac", "atlas", "encyclopedia"], ["school", "lessons", "learn"]
]

const pageOfGrade = (rng: WorldRandom, topics: ReadonlyArray<Topic>, names: ReadonlyArray<string>, grade: number, n: number): string => {
  switch (grade) {
    case 0:
      return spam(rng)
    case 1:
      return chatter(rng, names)
    case 2:
      return blog(rng, names)
    case 3:
      return guide(rng, rng.pick(topics))
    case 4:
      return article(rng, rng.pick(topics))
    default:
      return lesson(rng, rng.pick(topics), n)
  }
}

/** `count` web documents: ordinary pages of every grade, near-duplicates of earlier pages, and filter bait. */
export const makeWebPages = (rng: WorldRandom, w: WorldFacts, count: number): Array<LabelledDocument> => {
  const topics = topicsOf(w)
  const names = allNames(w)
  const out: Array<LabelledDocument> = []
  // Pages long enough that a copy with two small edits stays above MinHash's similarity threshold.
  const copyable: Array<LabelledDocument> = []
  for (let i = 0; i < count; i++) {
    const id = `web-${String(i).padStart(6, "0")}`
    const roll = rng.random()
    if (roll < BAIT_SHARE) {
      const b = bait(rng, names)
      out.push({ doc: makeDocument(id, b.text, { url: `https://${rng.pick(SITES[0]!)}.example/${id}` }), score: b.score, kind: "filter_bait", bait: b.flaw })
      continue
    }
    if (roll < BAIT_SHARE + NEAR_DUPLICATE_SHARE && copyable.length > 0) {
      const source = rng.pick(copyable)
      out.push({
        doc: makeDocument(id, nearCopy(rng, source.doc.text), { url: `https://mirror${rng.int(1, 9)}.example/${id}` }),
        score: source.score,
        kind: "near_duplicate",
        duplicateOf: source.doc.id
      })
      continue
    }
    const grade = rng.weighted(GRADE_WEIGHTS)
    const text = pageOfGrade(rng, topics, names, grade, rng.int(1, 40))
    const page: LabelledDocument = { doc: makeDocument(id, text, { url: `https://${rng.pick(SITES[grade]!)}.example/${id}` }), score: grade, kind: "page" }
    out.push(page)
    if (text.split(" ").length >= 120) copyable.push(page)
  }
  return out
}
