#!/usr/bin/env bash
# DialogSum: encoder–decoders trained on the official dev split (500 dialogues; the train split
# is not in ../shared/data), with and without the pointer-generator, scored on the test split
# (three references each) by ROUGE-1/2/L F1 beside the extractive Lead-3 and Longest-3
# utterances, scored by the same scorer.
#
#   RNNLM_DATA=../shared/data PYTHONPATH=src flock /tmp/rnnlm-cpu.lock \
#       benchmarks/dialogsum.sh [OUT] [TRAIN_TIME]
set -euo pipefail
OUT=${1:-/tmp/dialogsum}
TRAIN_TIME=${2:-10m}
PY=${PYTHON:-python}
DEV=${RNNLM_DATA%%:*}/dialogsum/dialogsum.dev.jsonl
TEST=${RNNLM_DATA%%:*}/dialogsum/dialogsum.test.jsonl
mkdir -p "$OUT"
timed() { local name=$1; shift; /usr/bin/time -v -o "$OUT/$name.time" "$@"; }

$PY - "$TEST" > "$OUT/baselines.json" <<'EOF'
import json, sys
from pathlib import Path
from rnnlm.data.pairs import parse_pairs
from rnnlm.inference.metrics import lead_3, longest_3, rouge
test = parse_pairs(Path(sys.argv[1]).read_text(), "jsonl:dialogue,summary", "test")
print(json.dumps({name: rouge([pick(s) for s in test.sources], test.references)
                  for name, pick in (("lead-3", lead_3), ("longest-3", longest_3))}))
EOF
for copy in --no-copy --copy; do
    name=${copy#--}
    timed "train-$name" $PY -m rnnlm train "$DEV" --pairs jsonl:dialogue,summary $copy \
        --vocab-size 4000 --layers 1 --hidden 256 --embedding 256 --tie-weights --dropout 0.2 \
        --batch-size 16 --lr 2e-3 --weight-decay 0.01 --val-fraction 0.1 --test-pairs 0 \
        --max-source-length 400 --eval-every 200 --max-time "$TRAIN_TIME" --out "$OUT/$name"
    timed "test-$name" $PY -m rnnlm eval "$OUT/$name" --text "$TEST" --beam 4 --rouge --json \
        --outputs "$OUT/test-$name.txt" > "$OUT/test-$name.json"
done
cat "$OUT"/baselines.json "$OUT"/test-*.json
