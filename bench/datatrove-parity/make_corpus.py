"""Build the parity corpus: one JSONL file of {"id", "text"}, deterministic (seeded).

    python make_corpus.py OUT.jsonl [--web DIR] [--quick]

Parts (the id prefix says which):
  real samples   c4demo/, edge/, wikiline/, wikichunk/, shakespeare/ from DIR (../shared/data/pretrain/web);
                 a file that is absent is skipped
  perturbed      the first 350 real samples with citation marks (+cite), the first three lines repeated (+dup3),
                 CRLF line ends with indentation (+crlf), and all three (+all)
  generated      gen/ (random sentences over contractions, abbreviations, numbers, URLs, emails, emoji, CJK, odd
                 spaces), hand/ (hand-written tricky forms), gen2/ (real sentences with light noise and boilerplate
                 lines, so texts get past Gopher quality into the C4 and FineWeb branches), big/ (the wiki and
                 Shakespeare files as one document each), tgt/ (long words, hashes, bullets, ellipses, one word
                 per line, no stop words, FineWeb list_ratio)
  fuzz           rule/, rule1/ (every special case of spaCy's English tokenizer, alone and in 34 contexts), fuzz/,
                 fuzzsp/, fuzzsp2/ (random strings over a tricky alphabet and tokenizer-relevant pieces)

Needs spaCy (the fuzz part reads the special cases from spacy.blank("en")). --quick keeps every real sample,
perturbation and spaCy special case, and makes the random parts smaller (12,355 texts instead of 70,355 with
every sample present: about 3 CPU-minutes of datatrove instead of 10).
"""
import argparse
import json
import os
import random
import re
import sys

import spacy

ap = argparse.ArgumentParser()
ap.add_argument("out")
ap.add_argument("--web", default=None, help="folder with c4_demo.jsonl, cc_c4filter_edgecases_50.json, ...")
ap.add_argument("--quick", action="store_true")
args = ap.parse_args()

N_GEN, N_GEN2, N_FUZZ = (250, 250, 2000) if args.quick else (2500, 2000, 20000)


def web_file(name):
    path = os.path.join(args.web, name) if args.web else None
    if path and os.path.isfile(path):
        return path
    print(f"make_corpus: {name} not found, skipped", file=sys.stderr)
    return None


# ---------------------------------------------------------------- real samples
base = []  # (id, text)

if p := web_file("c4_demo.jsonl"):
    with open(p, encoding="utf-8") as f:
        for i, line in enumerate(f):
            if line.strip():
                base.append((f"c4demo/{i}", json.loads(line)["text"]))

if p := web_file("cc_c4filter_edgecases_50.json"):
    with open(p, encoding="utf-8") as f:
        for i, item in enumerate(json.load(f)):
            base.append((f"edge/{i}", item["text"]))

wiki_lines = []
if p := web_file("wiki_demo.txt"):
    with open(p, encoding="utf-8") as f:
        wiki_lines = [l.rstrip("\n") for l in f]
for i, l in enumerate(wiki_lines):
    base.append((f"wikiline/{i}", l))

# wiki re-chunked: 25 sentences per text joined with "\n"
SENT_SPLIT = re.compile(r"(?<=[.!?])\s+")
sents = [s for l in wiki_lines for s in SENT_SPLIT.split(l) if s]
for k in range(0, len(sents), 25):
    base.append((f"wikichunk/{k // 25}", "\n".join(sents[k : k + 25])))

shk = []
if p := web_file("tinyshakespeare_input.txt"):
    with open(p, encoding="utf-8") as f:
        shk = f.read().split("\n")
for k in range(0, len(shk), 40):
    base.append((f"shakespeare/{k // 40}", "\n".join(shk[k : k + 40])))

# gen2 builds its texts from real sentences; without the wiki sample it takes them from whatever real text there
# is, and without any from these plain ones.
FALLBACK_SENTENCES = [
    "The river runs through the middle of the old town and into the lake.",
    "Most of the houses on the north side were built with stone from the hills.",
    "She said that the train would be late, so we walked to the station.",
    "In the spring the farmers plant wheat and barley in the lower fields.",
    "He has been working on the bridge for more than two years now.",
    "The museum is open every day except Monday, and entry is free for children.",
    "They moved to the city when their son started school.",
    "A small group of birds had built their nests under the roof of the barn.",
    "After the war the factory was turned into a school for the workers' children.",
    "It is not clear who wrote the letter, but it was found in the library.",
    "The committee met twice a year to decide which roads should be repaired.",
    "We could see the lights of the harbour from the top of the hill.",
]
if not sents:
    sents = [s for _, t in base for l in t.split("\n") for s in SENT_SPLIT.split(l) if len(s.split()) >= 4]
if len(sents) < 10:
    sents = FALLBACK_SENTENCES

rng = random.Random(1234)

# ---------------------------------------------------------------- perturbations of the real samples
CITES = ["[1]", "[23]", "[edit]", "[]", "[citation needed]", "[note 2]", "[a]"]


def add_citations(t: str) -> str:
    # after ". " (between the period and the space) and at line ends
    out = re.sub(r"\. ", lambda m: "." + rng.choice(CITES) + " " if rng.random() < 0.5 else m.group(0), t)
    return "\n".join(l + (rng.choice(CITES) if rng.random() < 0.5 else "") for l in out.split("\n"))


def dup_first3(t: str) -> str:
    lines = t.split("\n")
    return t + "\n" + "\n".join(lines[:3])


def crlf(t: str) -> str:
    return t.replace("\n", "\r\n  ")


perturbed = []
for id_, t in base[:350]:
    perturbed.append((id_ + "+cite", add_citations(t)))
    perturbed.append((id_ + "+dup3", dup_first3(t)))
    perturbed.append((id_ + "+crlf", crlf(t)))
    perturbed.append((id_ + "+all", crlf(dup_first3(add_citations(t)))))

# ---------------------------------------------------------------- generated texts
EMOJI = ["😀", "👍🏽", "👨‍👩‍👧", "🇺🇸", "❤️", "✨", "🎉🎉", "☺", "🙂🙃", "🤖"]
CJK = ["東京は日本の首都です。", "我喜欢学习中文！", "한국어 문장입니다.", "これはテストです", "中文，标点。", "「引用」と『二重』"]
URLS = ["https://example.com/path?q=1&x=2", "http://www.foo.org.", "www.bar.co.uk/index.html", "(https://t.co/abc)",
        "https://en.wikipedia.org/wiki/Foo_(bar)", "ftp://files.example.net/a.txt", "example.com", "http://localhost:8080/x"]
EMAILS = ["john.doe@example.com", "<info@foo.org>", "a+b@c.io.", "mailto:someone@x.y"]
CONTR = ["can't", "won't", "I'm", "you're", "it's", "don't", "ain't", "y'all", "gonna", "wanna", "shouldn't've", "'tis",
         "o'clock", "rock'n'roll", "We'll", "she'd", "They’re", "isn’t", "DON'T", "Can't", "'cause", "lovin'", "cannot"]
ABBR = ["U.S.", "e.g.", "i.e.", "Dr.", "Mr.", "Mrs.", "etc.", "a.m.", "p.m.", "Jan.", "St.", "No.", "vs.", "Inc.",
        "U.K.", "Ph.D.", "approx.", "Corp.", "Mt.", "Gov."]
NUMS = ["$5.00", "10km", "3:30pm", "1,000,000", "50%", "-3.5", "2nd", "1990s", "5'11\"", "£20", "€3,50", "#1", "24/7",
        "9-5", "10x", "1/2", "100°C", "+44 20 7946 0958", "v2.0.1"]
PUNCT = ["...", "…", "--", "—", "–", "!!", "?!", ":)", ":-(", "<3", "^_^", "(", ")", "\"", "'", "«", "»", "“", "”",
         "‘", "’", "*", "&", "/", "\\", "|", "~", "#hashtag", "@user", "[1]", "[edit]", "•", "-", ";", ":"]
WORDS = ("the be to of and that have with a in is was for on it as at by from this an not are but or his her "
         "they we you he she one all there their what so up out if about who get which go me when make can like "
         "time no just him know take people into year your good some could them see other than then now look "
         "only come its over think also back after use two how our work first well way even new want because any "
         "these give day most us naïve café résumé Straße İstanbul façade coöperate Ångström ﬁne ＡＢＣ 𝔘𝔫𝔦𝔠𝔬𝔡𝔢 KELVIN "
         "x² H₂O ǅ ﬀ Ⅻ").split()
SPACES = [" ", " ", " ", " ", "  ", "\u00a0", "\u2028", "\f", "\t", "   ", "\u3000", "\u2009", "\v", "\x1c", "\x85",
          "\u200b", "\u2029", " \n ", "\r", "\r\n"]


def gen_sentence() -> str:
    n = rng.randint(2, 18)
    toks = []
    for _ in range(n):
        r = rng.random()
        if r < 0.55:
            w = rng.choice(WORDS)
        elif r < 0.62:
            w = rng.choice(CONTR)
        elif r < 0.69:
            w = rng.choice(ABBR)
        elif r < 0.75:
            w = rng.choice(NUMS)
        elif r < 0.80:
            w = rng.choice(URLS)
        elif r < 0.83:
            w = rng.choice(EMAILS)
        elif r < 0.87:
            w = rng.choice(EMOJI)
        elif r < 0.90:
            w = rng.choice(CJK)
        else:
            w = rng.choice(PUNCT) if rng.random() < 0.97 else rng.choice(["{", "}", "{{x}}"])
        if rng.random() < 0.15:
            # glue punctuation/emoji onto the word
            w = w + rng.choice(PUNCT + EMOJI + [",", ".", "!", "?", "'s", "’s", "n't"])
        if rng.random() < 0.05:
            w = rng.choice(PUNCT) + w
        if rng.random() < 0.1:
            w = w.capitalize() if rng.random() < 0.5 else w.upper()
        toks.append(w)
    seps = [rng.choice(SPACES) if rng.random() < 0.2 else " " for _ in toks]
    s = "".join(t + sep for t, sep in zip(toks, seps)).rstrip(" ")
    end = rng.choice([".", ".", ".", "!", "?", "", "...", "…", "\"", "'", ".\"", "!)", ":", ". [1]", "[edit]", ".'"])
    return s[:1].upper() + s[1:] + end


def gen_text() -> str:
    nlines = rng.randint(1, 25)
    lines = []
    for _ in range(nlines):
        k = rng.randint(1, 6)
        line = " ".join(gen_sentence() for _ in range(k))
        if rng.random() < 0.1:
            line = rng.choice(["• ", "- ", "* ", "1. ", "  ", "\t"]) + line
        if rng.random() < 0.05:
            line = ""
        lines.append(line)
    if rng.random() < 0.1 and lines:
        lines += lines[: rng.randint(1, 3)]
    sep = rng.choice(["\n"] * 6 + ["\r\n", "\n\n", "\u2028", "\n  ", "\x0b", "\x1e"])
    t = sep.join(lines)
    if rng.random() < 0.1:
        t = rng.choice(SPACES) + t + rng.choice(SPACES)
    return t


generated = [(f"gen/{i}", gen_text()) for i in range(N_GEN)]

# hand-written small texts of known-tricky forms
hand = [
    "", " ", "\n", "\n\n\n", "a", ".", "...", "Hello.", "Hello world.\n", "U.S.A. is big.", "I can't go. You won't go.",
    "e.g. this, i.e. that.", "Visit https://example.com/a?b=c. Or email me at a@b.com!",
    "He said \"no.\" Then left.", "(This is in parens.) And this.", "Mr. Smith went to Washington. He arrived at 5 p.m.",
    "The U.S. economy grew 3.5% in Q2.", "It's 5'11\" tall.", "I'm gonna do it.", "Don't!!! Stop???", "🙂 ok 🙂.",
    "東京。大阪。", "a\u00a0b\u00a0c.", "a\u2028b\u2029c.", "line1\fline2\vline3", "tab\tseparated\twords.",
    "multiple     spaces    here.", "lorem ipsum dolor sit amet.", "Enable JavaScript to view this page.",
    "We use cookies to improve your experience.", "function() { return 1; }", "x" * 1001 + " is long.",
    "a " * 60 + ".", "The the the the the the the.\n" * 10, "#" * 20, "• a\n• b\n• c", "wait...\nwait…\nwait...",
    "ǅemal and ǈuka.", "İstanbul is big. KELVIN K is Kelvin.", "ﬁne ﬂy.", "n't 's 're 'll 've 'd 'm",
    "y'all'd've", "ma'am, o'clock.", "A.B.C.D.E.F.G.", "....", "Hi!.?", "Yes—no–maybe.", "\"'Quoted'\"",
    "She said: 'Hello.' He replied: \"Bye.\"", "10:30a.m. 10.30am 10am", "$100. €200. ¥300.", "C++ and C# and F#.",
    "The end.[1] The start.[edit]", "[citation needed]This.[2][3]", "what?!", "Tell 'em.", "'90s music.",
    "Nov. 5, 2020. Dec. 25.", "Mass. Calif. Wash.", "Sen. Jones. Rep. Smith.", "&amp; &lt;tag&gt;",
    "<b>bold</b> text.", "C:\\Users\\me\\file.txt", "/usr/bin/env python3.", "snake_case and camelCase.",
    "1.2.3.4 is an IP.", "3.14159 is pi.", "100,000.50 dollars.", "ain't nobody.", "Ain't it.", "AIN'T IT.",
    "cannot Cannot CANNOT.", "gonna Gonna GONNA.", "I'll I'LL i'll.", "It’s ’tis ‘twas.", ":) :( ;) :D :P xD <3 </3",
    "-_- ^_^ (^_^) (>_<)", "\u200bzero\u200bwidth\u200b.", "a\u0301e\u0301 combining.", "𝔘𝔫𝔦𝔠𝔬𝔡𝔢 text.",
    "👨‍👩‍👧‍👦 family.", "🎉 party.",
    "St. Louis. St. Paul.", "No. 5. no. 6.", "vs. Vs. VS.", "etc., etc.", "Ph.D.s and M.D.s.", "a.k.a. aka.",
    "He's got 'em all.", "O'Neil's car.", "Rock 'n' roll.", "'Hello,' she said.", "Really?!?!",
    "Mid-sentence - dash -- double --- triple.", "e-mail e.mail E-Mail.", "co-operate re-enter.",
]
generated += [(f"hand/{i}", t) for i, t in enumerate(hand)]

# gen2: real sentences with light noise, so that texts get past Gopher quality and reach the deeper C4 /
# FineWeb branches; occasional policy / javascript / lorem / bullet / hash / ellipsis / list-like lines.
NOISE = CONTR + ABBR + NUMS + URLS + EMAILS + EMOJI + CJK + ["#", "##", "...", "…", "--", "'s", "n't", ":)", "e.g.,"]
SPECIAL_LINES = [
    "This website uses cookies to ensure you get the best experience.", "Please enable JavaScript in your browser.",
    "Read our Privacy Policy and Terms of Use.", "Lorem ipsum dolor sit amet, consectetur adipiscing elit.",
    "• Bullet point one", "- dash bullet item", "# Heading", "## Sub heading ##", "Read more...", "Continue reading…",
    "Home", "Contact us", "Share this:", "Posted by admin at 10:30 a.m.", "© 2020 Example Inc. All rights reserved.",
    "Click here", "Tags: a, b, c", "1.", "2.", "Our cookie policy.", "We use cookies.", "LOREM IPSUM.",
    "Learn more about the use of cookies here.",
]


def noisy(s: str) -> str:
    words = s.split(" ")
    out = []
    for w in words:
        r = rng.random()
        if r < 0.03:
            out.append(rng.choice(NOISE))
        elif r < 0.05:
            w = w + rng.choice(NOISE)
        elif r < 0.06:
            w = rng.choice(["(", "\"", "'", "“", "‘", "["]) + w
        out.append(w)
    seps = [rng.choice(SPACES) if rng.random() < 0.03 else " " for _ in out]
    return "".join(t + sep for t, sep in zip(out, seps)).rstrip(" ")


for i in range(N_GEN2):
    nlines = rng.randint(1, 30)
    lines = []
    for _ in range(nlines):
        r = rng.random()
        if r < 0.12:
            lines.append(rng.choice(SPECIAL_LINES))
        elif r < 0.15:
            lines.append("")
        else:
            k = rng.randint(1, 5)
            st = rng.randrange(0, len(sents) - k)
            lines.append(noisy(" ".join(sents[st : st + k])))
    if rng.random() < 0.15:
        lines += lines[: rng.randint(1, 4)]
    if rng.random() < 0.03:
        lines = [l for l in " ".join(lines).split(" ")]  # one word per line: list_ratio
    sep = rng.choice(["\n"] * 8 + ["\r\n", "\n\n", "\u2028", "\n  "])
    generated.append((f"gen2/{i}", sep.join(lines)))

# targeted: long documents (gopher_long_doc), long words, hashes, bullets, one word per line, ellipses, no stop words
if wiki_lines:
    generated.append(("big/wiki", "\n".join(wiki_lines)))
if shk:
    generated.append(("big/shakespeare", "\n".join(shk)))
generated += [
    ("tgt/longwords", " ".join(["Pneumonoultramicroscopicsilicovolcanoconiosis", "the", "and"] * 40) + "."),
    ("tgt/hashes", " ".join(["#tag the word and"] * 30) + "."),
    ("tgt/bullets", "\n".join(["• the item and more words here"] * 60)),
    ("tgt/list", "\n".join(["the", "and", "of", "to", "with"] * 30)),
    ("tgt/ellipsis", "\n".join(["the thing and that was it..."] * 60)),
    ("tgt/nostop", " ".join(["Alpha beta gamma delta epsilon zeta eta theta."] * 20)),
    # FineWeb list_ratio: many short lines, each one long token
    ("tgt/list1", "\n".join(f"Pneumonoultramicroscopic{i:03d}silicovolcano." for i in range(60))),
    ("tgt/list2", "\n".join(f"https://example.com/some/long/path/{i:04d}/index.html" for i in range(40))
     + "\nThe end of the list is here and that is all."),
    ("tgt/list3", "\n".join(f"Item{i:03d}-with-a-long-hyphenated-name-here." for i in range(50))),
    ("tgt/list4", "\n".join(f"{i:05d}\u00a0abcdefghijklmnopqrstuvwxyz!" for i in range(50))),
    ("tgt/list5", "\r\n".join(f"Entry number {i} in the table of things." for i in range(80))),
    ("tgt/list6", "\n\n".join(f"Entry{i}: described." for i in range(80))),
]

# ---------------------------------------------------------------- tokenizer fuzz
# Every special case of spaCy's English tokenizer in several contexts, then random strings over a tricky alphabet.
rules = sorted(spacy.blank("en").tokenizer.rules.keys())
frng = random.Random(99)
fuzz = []
CTX = ["{}", "({})", "{}.", "\"{}\"", "'{}'", "{},", "{}!", "{}?", "{}'s", "{}n't", "[{}]", "{}:", "“{}”", "{})",
       "{}...", "-{}-", "{}/", "{}%", "{}$", "${}", "#{}", "{}…", "{}'", "'{}", "{}\u00a0x", "x{}"]
for i, r in enumerate(rules):
    variants = [c.format(r) for c in CTX]
    variants += [c.format(r.upper()) for c in CTX[:4]] + [c.format(r.capitalize()) for c in CTX[:4]]
    fuzz.append((f"rule/{i}", " ".join(variants)))
    fuzz.append((f"rule1/{i}", r))

ALPHA = list("aAzZeE01239.,;:!?'\"`()[]{}<>-_/\\|@#$%^&*+=~ \n\t") + [
    "\u00a0", "\u2028", "\u2029", "\f", "\v", "\r", "\x85", "\u200b", "\u3000", "\u2009", "’", "‘", "“", "”", "«", "»",
    "—", "–", "…", "•", "·", "¿", "¡", "°", "£", "€", "¥", "©", "®", "™", "§", "¶", "é", "ß", "İ", "ı", "K", "ǅ",
    "ﬁ", "Ａ", "１", "٣", "𝔘", "😀", "👍🏽", "‍", "️", "🇺", "🇸", "東", "京", "。", "、", "！", "？", "「", "」", "ー",
    "ก", "ा", "\u0301", "\u0300", "ʼ", "′", "″", "‐", "‑", "−", "×", "÷", "½", "²", "Ⅻ", "\x1c", "\x1f", "\x00"]
PIECES = ["'s", "n't", "'ll", "'re", "'ve", "'d", "'m", "can", "won", "ain", "gon", "na", "U.S.", "a.m.", "p.m.",
          "e.g.", "i.e.", "Mr.", "St.", "etc.", "vs.", ":)", ":(", "<3", "^_^", "http://", "https://", "www.", ".com",
          "@", "mailto:", "...", "--", "1.5", "10km", "5pm", "$", "%", "cause", "'cause", "o'clock", "y'all", "ma'am",
          "Co.", "Inc.", "Dr.", "Jan.", "No.", "'em", "nothin'", "lovin'", "'90s", "dont", "cant", "Ill", "well", "id"]


def rand_str():
    n = frng.randint(1, 40)
    s = []
    for _ in range(n):
        r = frng.random()
        if r < 0.35:
            s.append(frng.choice(PIECES))
        elif r < 0.55:
            s.append(frng.choice("abcdefghij ABC"))
        else:
            s.append(frng.choice(ALPHA))
    return "".join(s)


for i in range(N_FUZZ):
    fuzz.append((f"fuzz/{i}", rand_str()))
# the same with frequent spaces between pieces (spaCy tokenizes each whitespace-delimited span on its own)
for i in range(N_FUZZ):
    s = rand_str()
    fuzz.append((f"fuzzsp/{i}", "".join(c + (" " if frng.random() < 0.3 else "") for c in s)))
    t = rand_str() + " " + rand_str()
    fuzz.append((f"fuzzsp2/{i}",
                 " ".join(frng.choice(PIECES) + frng.choice(ALPHA) for _ in range(frng.randint(1, 8))) + " " + t))

# ---------------------------------------------------------------- write
parts = {"real": base, "perturbed": perturbed, "generated": generated, "fuzz": fuzz}
with open(args.out, "w", encoding="utf-8") as f:
    for texts in parts.values():
        for id_, t in texts:
            f.write(json.dumps({"id": id_, "text": t}, ensure_ascii=False) + "\n")
sizes = " ".join(f"{k}={len(v)}" for k, v in parts.items())
print(f"make_corpus: {sizes} total={sum(len(v) for v in parts.values())}{' (quick)' if args.quick else ''}",
      file=sys.stderr)
