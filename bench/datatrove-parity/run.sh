#!/usr/bin/env bash
# Parity check of our spaCy English tokenizer and datatrove filter ports against the real datatrove + spaCy.
#
#   bash bench/datatrove-parity/run.sh PYTHON [WEB_DIR] [OUT_DIR] [--quick] [--jobs N]
#
# PYTHON   a Python with datatrove (0.10.0 is what the ports follow) and spaCy installed
# WEB_DIR  the real samples (c4_demo.jsonl, cc_c4filter_edgecases_50.json, wiki_demo.txt,
#          tinyshakespeare_input.txt); default ../shared/data/pretrain/web from the repository root; absent files
#          are skipped, the generated and fuzz parts need none
# OUT_DIR  where corpus.jsonl, py_out.jsonl, ts_out.jsonl and compare.txt go; default a fresh mktemp -d
# --quick  smaller generated and fuzz parts (every real sample and spaCy special case is still in)
# --jobs   datatrove processes (default: every core)
#
# Exits 0 when our outputs equal datatrove's on every text except the documented one (datatrove's
# GopherRepetitionFilter raises ZeroDivisionError on an empty text; ours keeps it), 1 otherwise.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)

quick=()
jobs=()
pos=()
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) quick=(--quick); shift ;;
    --jobs) jobs=(--jobs "$2"); shift 2 ;;
    -h|--help) sed -n '2,15p' "$0"; exit 0 ;;
    *) pos+=("$1"); shift ;;
  esac
done
if [ ${#pos[@]} -lt 1 ] || [ ${#pos[@]} -gt 3 ]; then
  sed -n '2,15p' "$0" >&2
  exit 2
fi
python=${pos[0]}
web=${pos[1]:-$root/../shared/data/pretrain/web}
out=${pos[2]:-$(mktemp -d)}
mkdir -p "$out"
out=$(cd "$out" && pwd)

"$python" -c 'import datatrove, spacy' || { echo "run.sh: $python lacks datatrove or spaCy" >&2; exit 2; }
echo "run.sh: output in $out" >&2

"$python" "$here/make_corpus.py" "$out/corpus.jsonl" --web "$web" "${quick[@]}"
"$python" "$here/py_run.py" "$out/corpus.jsonl" "$out/py_out.jsonl" "${jobs[@]}"
(cd "$root" && npx tsx bench/datatrove-parity/ts_run.ts "$out/corpus.jsonl" "$out/ts_out.jsonl")

set +e
"$python" "$here/compare.py" "$out/py_out.jsonl" "$out/ts_out.jsonl" "$out/corpus.jsonl" | tee "$out/compare.txt"
status=${PIPESTATUS[0]}
set -e
echo "run.sh: compare exited $status; report in $out/compare.txt" >&2
exit "$status"
