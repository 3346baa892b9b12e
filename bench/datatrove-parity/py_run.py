"""The reference side: datatrove's filters and spaCy's English tokenizer over a corpus, one JSON line per text.

    python py_run.py CORPUS.jsonl OUT.jsonl [--jobs N]

Per text: `words` (split_into_words), `nsent` (len(split_into_sentences)), `tokens` ([text, followed by a space]
from nlp.tokenizer), one {keep, reason, text} per filter (text: what the filter kept, C4QualityFilter rewrites
it), and `chain`, the FineWeb order (Gopher repetition -> Gopher quality -> C4 quality without the terminal
punctuation rule -> FineWeb quality) with the step that dropped the text. An exception is recorded as
keep=null, reason="ERROR <type>: <message>". ts_run.ts writes the same fields for our ports.
"""
import argparse
import json
import multiprocessing
import os
import sys
import time
from importlib.metadata import version

import spacy
from datatrove.data import Document
from datatrove.pipeline.filters import (
    C4ParagraphFilter,
    C4QualityFilter,
    FineWebQualityFilter,
    GopherQualityFilter,
    GopherRepetitionFilter,
)
from datatrove.utils.text import split_into_sentences, split_into_words
from datatrove.utils.typeshelper import Languages

FILTERS = {
    "gopher_rep": GopherRepetitionFilter(),
    "gopher_quality": GopherQualityFilter(),
    "c4_ntp_false": C4QualityFilter(filter_no_terminal_punct=False),
    "c4_default": C4QualityFilter(),
    "c4_sentences": C4QualityFilter(split_paragraph=False),
    "c4_paragraph": C4ParagraphFilter(),
    "fineweb": FineWebQualityFilter(),
}
CHAIN = ["gopher_rep", "gopher_quality", "c4_ntp_false", "fineweb"]

nlp = spacy.blank("en")


def run_filter(f, doc):
    try:
        r = f.filter(doc)
    except Exception as e:  # recorded, compared like any other outcome
        return {"keep": None, "reason": f"ERROR {type(e).__name__}: {e}", "text": None}
    keep, reason = (r[0], r[1]) if isinstance(r, tuple) else (bool(r), None)
    return {"keep": bool(keep), "reason": None if keep else reason, "text": doc.text if keep else None}


def process(line):
    rec = json.loads(line)
    id_, text = rec["id"], rec["text"]
    out = {"id": id_}
    out["words"] = list(split_into_words(text, Languages.english))
    out["nsent"] = len(split_into_sentences(text, Languages.english))
    out["tokens"] = [[t.text, t.whitespace_ == " "] for t in nlp.tokenizer(text)]
    for name, f in FILTERS.items():
        out[name] = run_filter(f, Document(text=text, id=id_))
    # the chain hands each filter the document the previous one kept (C4QualityFilter's rewrite included)
    d = Document(text=text, id=id_)
    chain = {"keep": True, "reason": None, "step": None, "text": None}
    for name in CHAIN:
        r = run_filter(FILTERS[name], d)
        if not r["keep"]:
            chain = {"keep": r["keep"], "reason": r["reason"], "step": name, "text": None}
            break
    else:
        chain["text"] = d.text
    out["chain"] = chain
    return json.dumps(out, ensure_ascii=False) + "\n"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("corpus")
    ap.add_argument("out")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    args = ap.parse_args()
    print(f"py_run: datatrove {version('datatrove')}, spaCy {version('spacy')}, {args.jobs} processes",
          file=sys.stderr)
    t0 = time.time()
    n = 0
    with open(args.corpus, encoding="utf-8") as fin, open(args.out, "w", encoding="utf-8") as fout:
        lines = [l for l in fin if l.strip()]
        if args.jobs > 1:
            with multiprocessing.Pool(args.jobs) as pool:
                for s in pool.imap(process, lines, chunksize=8):  # imap keeps the corpus order
                    fout.write(s)
                    n += 1
        else:
            for l in lines:
                fout.write(process(l))
                n += 1
    print(f"py_run: {n} texts in {time.time() - t0:.1f}s", file=sys.stderr)


if __name__ == "__main__":
    main()
