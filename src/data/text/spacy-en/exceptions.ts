/**
 * spaCy's tokenizer exceptions (special cases) for English: a string → the ORTH of each token it becomes.
 * spacy/lang/tokenizer_exceptions.py (base exceptions, emoticons) and spacy/lang/en/tokenizer_exceptions.py
 * (contractions, abbreviations), explosion/spaCy f69c32f.
 */
const title = (s: string) => s.charAt(0).toUpperCase() + s.slice(1)

const baseExceptions = (): Map<string, ReadonlyArray<string>> => {
  const exc = new Map<string, ReadonlyArray<string>>()
  for (const orth of [" ", "\t", "\\t", "\n", "\\n", "\u2014", "\u00a0"]) exc.set(orth, [orth])
  const singles = ["'", '\\")', "<space>", "''", "C++", ..."abcdefghijklmnopqrstuvwxyz".split("").map((c) => c + "."), "ä.", "ö.", "ü."]
  for (const orth of singles) exc.set(orth, [orth])
  const emoticons = `:) :-) :)) :-)) :))) :-))) (: (-: =) (= :] :-] [: [-: [= =] :o) (o: :} :-} 8) 8-) (-8 ;) ;-) (; (-;
:( :-( :(( :-(( :((( :-((( ): )-: =( >:( :') :'-) :'( :'-( :/ :-/ =/ =| :| :-| ]= =[ :1 :P :-P :p :-p :O :-O :o :-o
:0 :-0 :() >:o :* :-* :3 :-3 =3 :> :-> :X :-X :x :-x :D :-D ;D ;-D =D xD XD xDD XDD 8D 8-D ^_^ ^__^ ^___^ >.< >.>
<.< ._. ;_; -_- -__- v.v V.V v_v V_V o_o o_O O_o O_O 0_o o_0 0_0 o.O O.o O.O o.o 0.0 o.0 0.o @_@ <3 <33 <333 </3
(^_^) (-_-) (._.) (>_<) (*_*) (¬_¬) ಠ_ಠ ಠ︵ಠ (ಠ_ಠ) ¯\\(ツ)/¯ (╯°□°）╯︵┻━┻ ><(((*>`.split(/\s+/)
  for (const orth of emoticons) exc.set(orth, [orth])
  for (const u of "cfkCFK") exc.set(`°${u}.`, ["°", u, "."])
  return exc
}

const englishExceptions = (): Map<string, ReadonlyArray<string>> => {
  const exc = new Map<string, ReadonlyArray<string>>()
  const put = (pieces: ReadonlyArray<string>) => exc.set(pieces.join(""), pieces)
  for (const orth of ["i", "I"]) {
    put([orth, "'m"])
    put([orth, "m"])
    put([orth, "'m", "a"])
    put([orth, "m", "a"])
  }
  for (const pron of ["i", "you", "he", "she", "it", "we", "they"]) {
    for (const orth of [pron, title(pron)]) {
      put([orth, "'ll"])
      put([orth, "ll"])
      put([orth, "'ll", "'ve"])
      put([orth, "ll", "ve"])
      put([orth, "'d"])
      put([orth, "d"])
      put([orth, "'d", "'ve"])
      put([orth, "d", "ve"])
    }
  }
  for (const pron of ["i", "you", "we", "they"]) {
    for (const orth of [pron, title(pron)]) {
      put([orth, "'ve"])
      put([orth, "ve"])
    }
  }
  for (const pron of ["you", "we", "they"]) {
    for (const orth of [pron, title(pron)]) {
      put([orth, "'re"])
      put([orth, "re"])
    }
  }
  for (const pron of ["he", "she", "it"]) {
    for (const orth of [pron, title(pron)]) {
      put([orth, "'s"])
      put([orth, "s"])
    }
  }
  const wWords: ReadonlyArray<readonly [string, "sing" | "plur" | null]> = [
    ["who", null], ["what", null], ["when", null], ["where", null], ["why", null], ["how", null], ["there", null],
    ["that", "sing"], ["this", "sing"], ["these", "plur"], ["those", "plur"]
  ]
  for (const [word, morph] of wWords) {
    for (const orth of [word, title(word)]) {
      if (morph !== "plur") {
        put([orth, "'s"])
        put([orth, "s"])
      }
      put([orth, "'ll"])
      put([orth, "ll"])
      put([orth, "'ll", "'ve"])
      put([orth, "ll", "ve"])
      if (morph !== "sing") {
        put([orth, "'re"])
        put([orth, "re"])
        put([orth, "'ve"])
        put([orth, "ve"])
      }
      put([orth, "'d"])
      put([orth, "d"])
      put([orth, "'d", "'ve"])
      put([orth, "d", "ve"])
    }
  }
  for (const verb of ["ca", "could", "do", "does", "did", "had", "may", "might", "must", "need", "ought", "sha", "should", "wo", "would"]) {
    for (const orth of [verb, title(verb)]) {
      put([orth, "n't"])
      put([orth, "nt"])
      put([orth, "n't", "'ve"])
      put([orth, "nt", "ve"])
    }
  }
  for (const verb of ["could", "might", "must", "should", "would"]) {
    for (const orth of [verb, title(verb)]) {
      put([orth, "'ve"])
      put([orth, "ve"])
    }
  }
  for (const verb of ["ai", "are", "is", "was", "were", "have", "has", "dare"]) {
    for (const orth of [verb, title(verb)]) {
      put([orth, "n't"])
      put([orth, "nt"])
    }
  }
  for (const word of ["doin", "goin", "nothin", "nuthin", "ol", "somethin"]) {
    for (const orth of [word, title(word)]) {
      put([orth])
      put([orth + "'"])
    }
  }
  for (const word of ["em", "ll", "nuff"]) {
    put([word])
    put(["'" + word])
  }
  for (let h = 1; h <= 12; h++) {
    for (const period of ["a.m.", "am", "p.m.", "pm"]) put([`${h}`, period])
  }
  for (
    const pieces of [
      ["y'", "all"], ["y", "all"], ["how", "'d", "'y"], ["How", "'d", "'y"], ["not", "'ve"], ["not", "ve"], ["Not", "'ve"],
      ["Not", "ve"], ["can", "not"], ["Can", "not"], ["gon", "na"], ["Gon", "na"], ["got", "ta"], ["Got", "ta"], ["let", "'s"],
      ["Let", "'s"], ["c'm", "on"], ["C'm", "on"]
    ]
  ) put(pieces)
  const singles = [
    "'S", "'s", "\u2018S", "\u2018s", "and/or", "w/o", "'re", "'Cause", "'cause", "'cos", "'Cos", "'coz", "'Coz", "'cuz",
    "'Cuz", "'bout", "ma'am", "Ma'am", "o'clock", "O'clock", "lovin'", "Lovin'", "lovin", "Lovin", "havin'", "Havin'",
    "havin", "Havin", "doin'", "Doin'", "doin", "Doin", "goin'", "Goin'", "goin", "Goin", "Mt.", "Ak.", "Ala.", "Apr.",
    "Ariz.", "Ark.", "Aug.", "Calif.", "Colo.", "Conn.", "Dec.", "Del.", "Feb.", "Fla.", "Ga.", "Ia.", "Id.", "Ill.",
    "Ind.", "Jan.", "Jul.", "Jun.", "Kan.", "Kans.", "Ky.", "La.", "Mar.", "Mass.", "Mich.", "Minn.", "Miss.", "N.C.",
    "N.D.", "N.H.", "N.J.", "N.M.", "N.Y.", "Neb.", "Nebr.", "Nev.", "Nov.", "Oct.", "Okla.", "Ore.", "Pa.", "S.C.",
    "Sep.", "Sept.", "Tenn.", "Va.", "Wash.", "Wis.", "'d", "a.m.", "Adm.", "Bros.", "co.", "Co.", "Corp.", "D.C.",
    "Dr.", "e.g.", "E.g.", "E.G.", "Gen.", "Gov.", "i.e.", "I.e.", "I.E.", "Inc.", "Jr.", "Ltd.", "Md.", "Messrs.",
    "Mo.", "Mont.", "Mr.", "Mrs.", "Ms.", "p.m.", "Ph.D.", "Prof.", "Rep.", "Rev.", "Sen.", "St.", "vs.", "v.s."
  ]
  for (const orth of singles) put([orth])
  for (
    const s of ["Ill", "ill", "Its", "its", "Hell", "hell", "Shell", "shell", "Shed", "shed", "were", "Were", "Well", "well", "Whore", "whore"]
  ) exc.delete(s)
  return exc
}

/** `update_exc(BASE_EXCEPTIONS, _exc)`: merge, then add a typographic-apostrophe twin of every entry with `'`. */
const buildExceptions = (): Map<string, ReadonlyArray<string>> => {
  const merged = new Map(baseExceptions())
  for (const [k, v] of englishExceptions()) merged.set(k, v)
  const out = new Map(merged)
  for (const [k, v] of merged) {
    if (k.includes("'")) out.set(k.replaceAll("'", "’"), v.map((p) => p.replaceAll("'", "’")))
  }
  return out
}

export const SPECIALS: ReadonlyMap<string, ReadonlyArray<string>> = buildExceptions()
