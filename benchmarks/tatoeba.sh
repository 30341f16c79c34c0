#!/usr/bin/env bash
# Tatoeba eng→fra: a 30-minute encoder–decoder run on this CPU, a target-side language model
# with its tokenizer, λ for fusion chosen on val, then greedy / beam 5 / beam 5 + fusion on the
# project's test split (2,000 pairs whose English sentences are in no other split).
#
#   RNNLM_DATA=../shared/data PYTHONPATH=src flock /tmp/rnnlm-cpu.lock \
#       benchmarks/tatoeba.sh [OUT] [TRAIN_TIME] [LM_TIME]
#
# Writes OUT/run (the translation run), OUT/lm (the LM), OUT/*.json (each `rnnlm eval
# --json`), OUT/*.time (/usr/bin/time -v of each step: peak RSS) and OUT/summary.txt.
set -euo pipefail
OUT=${1:-/tmp/tatoeba}
TRAIN_TIME=${2:-30m}
LM_TIME=${3:-8m}
PY=${PYTHON:-python}
mkdir -p "$OUT"
timed() { local name=$1; shift; /usr/bin/time -v -o "$OUT/$name.time" "$@"; }

timed train $PY -m rnnlm train tatoeba-eng-fra --pairs tsv --tokenizer bpe --vocab-size 8000 \
    --cell lstm --layers 1 --hidden 512 --embedding 512 --tie-weights --dropout 0.1 \
    --attention bahdanau --label-smoothing 0.1 --batch-size 96 --lr 2e-3 --weight-decay 0.01 \
    --warmup-steps 200 --val-fraction 0.01 --eval-every 1000 --max-time "$TRAIN_TIME" \
    --out "$OUT/run"

# the French side of the training pairs, one sentence per line, for the language model
$PY - "$OUT" <<'EOF'
import sys
from pathlib import Path
from rnnlm.config import load_json
from rnnlm.train.pairs import pairs_of
out = Path(sys.argv[1])
parts = pairs_of(load_json(out / "run" / "config.json").resolve())
(out / "fra.train.txt").write_text("".join(t + "\n" for t in parts["train"].targets))
EOF
timed lm $PY -m rnnlm train "$OUT/fra.train.txt" --documents lines --tokenizer-from "$OUT/run" \
    --layers 1 --hidden 512 --embedding 256 --dropout 0.1 --batch-size 64 --lr 3e-3 \
    --weight-decay 0.01 --val-fraction 0.02 --eval-every 1000 --sample-length 0 \
    --max-time "$LM_TIME" --out "$OUT/lm"

for w in 0.1 0.2 0.3; do
    timed "val-fusion-$w" $PY -m rnnlm eval "$OUT/run" --split val --beam 5 --lm "$OUT/lm" \
        --lm-weight "$w" --json > "$OUT/val-fusion-$w.json"
done
timed val-beam5 $PY -m rnnlm eval "$OUT/run" --split val --beam 5 --json > "$OUT/val-beam5.json"
BEST=$($PY - "$OUT" <<'EOF'
import json, sys
from pathlib import Path
from rnnlm.inference.fusion import pick_weight
out = Path(sys.argv[1])
scores = {0.0: json.loads((out / "val-beam5.json").read_text())["bleu"]}
scores.update({w: json.loads((out / f"val-fusion-{w}.json").read_text())["bleu"]
               for w in (0.1, 0.2, 0.3)})
print(pick_weight(scores))
EOF
)
echo "λ chosen on val: $BEST" > "$OUT/summary.txt"

timed test-greedy $PY -m rnnlm eval "$OUT/run" --beam 1 --json \
    --outputs "$OUT/test-greedy.txt" > "$OUT/test-greedy.json"
timed test-beam5 $PY -m rnnlm eval "$OUT/run" --beam 5 --json \
    --outputs "$OUT/test-beam5.txt" > "$OUT/test-beam5.json"
if [ "$BEST" != "0.0" ]; then
    timed test-fusion $PY -m rnnlm eval "$OUT/run" --beam 5 --lm "$OUT/lm" --lm-weight "$BEST" \
        --json --outputs "$OUT/test-fusion.txt" > "$OUT/test-fusion.json"
fi
for f in "$OUT"/test-*.json; do echo "$(basename "$f"): $(cat "$f")" >> "$OUT/summary.txt"; done
grep -H "Maximum resident" "$OUT"/*.time >> "$OUT/summary.txt"
cat "$OUT/summary.txt"
