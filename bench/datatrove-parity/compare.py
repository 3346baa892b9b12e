"""Compare py_run.py's output (datatrove + spaCy) with ts_run.ts's (our ports), text by text.

    python compare.py PY_OUT.jsonl TS_OUT.jsonl CORPUS.jsonl

Prints the number of texts that differ per field, then each class of difference with its count, a few ids and
the first differing window (tokens, words) or span (kept text), and which filter outcomes the corpus exercised
on the datatrove side. Exits 1 when anything differs beyond the one known exception, 0 otherwise.

The known exception: on an empty text datatrove's GopherRepetitionFilter divides by len(text) and raises
ZeroDivisionError; ours keeps the text, and in the chain GopherQualityFilter then drops it as gopher_short_doc.
"""
import collections
import difflib
import itertools
import json
import sys

if len(sys.argv) != 4:
    sys.exit(__doc__)
PY, TS, CORPUS = sys.argv[1:]
MAX_IDS = 4
FILTERS = ["gopher_rep", "gopher_quality", "c4_ntp_false", "c4_default", "c4_sentences", "c4_paragraph", "fineweb",
           "chain"]
ZERO_DIV = "ERROR ZeroDivisionError: division by zero"


def known_exception(field, text, a, b):
    """The empty-text ZeroDivisionError of datatrove's GopherRepetitionFilter (alone, and as the chain's step)."""
    if text != "" or a["keep"] is not None or a["reason"] != ZERO_DIV:
        return False
    if field == "gopher_rep":
        return b["keep"] is True
    return field == "chain" and b["keep"] is False and b["reason"] == "gopher_short_doc"


def first_diff(a, b, ctx=3):
    sm = difflib.SequenceMatcher(a=a, b=b, autojunk=False)
    for tag, i1, i2, j1, j2 in sm.get_opcodes():
        if tag != "equal":
            return a[max(0, i1 - ctx) : i2 + ctx], b[max(0, j1 - ctx) : j2 + ctx]
    return None


def diff_ops(a, b):
    sm = difflib.SequenceMatcher(a=a, b=b, autojunk=False)
    return [(tuple(a[i1:i2]), tuple(b[j1:j2])) for tag, i1, i2, j1, j2 in sm.get_opcodes() if tag != "equal"]


counts = collections.Counter()
classes = {}  # class key -> {"ids": [...], "n": int, "example": str, "known": bool}
coverage = collections.defaultdict(collections.Counter)
known_ids = set()


def note(key, id_, example=None, known=False):
    c = classes.setdefault(key, {"ids": [], "n": 0, "example": None, "known": known})
    c["n"] += 1
    if len(c["ids"]) < MAX_IDS:
        c["ids"].append(id_)
    if c["example"] is None and example is not None:
        c["example"] = example()


def compare(text, p, t):
    id_ = p["id"]
    if p["words"] != t["words"]:
        counts["words"] += 1
        for pa, tb in diff_ops(p["words"], t["words"])[:5]:
            note(("words", pa, tb), id_, lambda: first_diff(p["words"], t["words"]))
    if p["nsent"] != t["nsent"]:
        counts["nsent"] += 1
        note(("nsent", f"py={p['nsent']}", f"ts={t['nsent']}"), id_)
    ptext, ttext = [x[0] for x in p["tokens"]], [x[0] for x in t["tokens"]]
    if ptext != ttext:
        counts["tokens.text"] += 1
        for pa, tb in diff_ops(ptext, ttext)[:5]:
            note(("tokens.text", pa, tb), id_, lambda: first_diff(ptext, ttext))
    elif p["tokens"] != t["tokens"]:
        counts["tokens.space"] += 1
        pt, tt = [tuple(x) for x in p["tokens"]], [tuple(x) for x in t["tokens"]]
        for pa, tb in diff_ops(pt, tt)[:5]:
            note(("tokens.space", pa, tb), id_, lambda: first_diff(pt, tt))
    for name in FILTERS:
        a, b = p[name], t[name]
        if a["keep"] != b["keep"]:
            field = f"{name}.keep"
            key = (field, f"py={a['keep']}:{a['reason']}", f"ts={b['keep']}:{b['reason']}")
        elif a["reason"] != b["reason"]:
            field = f"{name}.reason"
            key = (field, f"py={a['reason']}", f"ts={b['reason']}")
        elif a["text"] != b["text"]:
            field = f"{name}.text"
            key = (field,)
        elif name == "chain" and a["step"] != b["step"]:
            field = "chain.step"
            key = (field, f"py={a['step']}", f"ts={b['step']}")
        else:
            continue
        counts[field] += 1
        known = known_exception(name, text, a, b)
        if known:
            known_ids.add(id_)
        note(key, id_, (lambda: first_diff(a["text"] or "", b["text"] or "", 40)) if key == (field,) else None, known)


with open(PY, encoding="utf-8") as fp, open(TS, encoding="utf-8") as ft, open(CORPUS, encoding="utf-8") as fc:
    for nline, (lc, lp, lt) in enumerate(itertools.zip_longest(fc, fp, ft), 1):
        if lc is None or lp is None or lt is None:
            short = [n for n, l in (("corpus", lc), ("py", lp), ("ts", lt)) if l is None]
            sys.exit(f"line {nline}: {', '.join(short)} ended before the others")
        c, p, t = json.loads(lc), json.loads(lp), json.loads(lt)
        if not (c["id"] == p["id"] == t["id"]):
            sys.exit(f"line {nline}: ids differ (corpus {c['id']!r}, py {p['id']!r}, ts {t['id']!r})")
        counts["texts"] += 1
        compare(c["text"], p, t)
        for name in FILTERS:
            r = p[name]
            outcome = "keep" if r["keep"] else str(r["reason"])
            coverage[name][f"{r['step']}:{outcome}" if name == "chain" and not r["keep"] else outcome] += 1

print(f"texts compared: {counts['texts']}")
print("texts that differ, per field:")
fields = ["words", "nsent", "tokens.text", "tokens.space"] + [
    f"{n}.{k}" for n in FILTERS for k in ("keep", "reason", "text")
] + ["chain.step"]
for k in fields:
    print(f"  {k:22s} {counts[k]}")

unexpected = [k for k, c in classes.items() if not c["known"]]
print(f"\ndifference classes: {len(classes)} ({len(classes) - len(unexpected)} the known empty-text exception)")
for key, c in sorted(classes.items(), key=lambda kv: (kv[1]["known"], -kv[1]["n"])):
    tag = "  [known: datatrove raises on an empty text]" if c["known"] else ""
    print(f"\n== {key!r}  ({c['n']} texts) e.g. {c['ids']}{tag}")
    if c["example"]:
        print(f"   py: {c['example'][0]!r}\n   ts: {c['example'][1]!r}")

print("\ndatatrove outcomes exercised (texts per outcome):")
for name in FILTERS:
    print(f"  {name}: " + ", ".join(f"{k} {v}" for k, v in coverage[name].most_common()))

if unexpected:
    print(f"\nFAIL: {len(unexpected)} difference class(es) beyond the known exception")
    sys.exit(1)
print(f"\nOK: identical except the known exception ({len(known_ids)} empty texts)")
