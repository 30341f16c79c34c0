#!/usr/bin/env bash
# Tatoeba eng→fra, the lecture-era baseline: the PyTorch translation tutorial's shape (GRU 256,
# one layer, Bahdanau attention, no label smoothing, untied, Adam 1e-3 without weight decay,
# batch 32, greedy search; `rnnlm bench --budget`'s family gru256), trained in rnnlm for the
# same time as benchmarks/tatoeba.sh's model, on the same split and the same 8,000-id BPE (so
# benchmarks/joeynmt_peer.py can take this run's split and vocabulary). rnnlm's encoder is
# always bidirectional (128 per direction here), where the tutorial's reads one way.
#
#   RNNLM_DATA=../shared/data PYTHONPATH=src flock /tmp/rnnlm-cpu.lock \
#       benchmarks/tatoeba_baseline.sh [OUT] [TRAIN_TIME]
set -euo pipefail
OUT=${1:-/tmp/tatoeba-gru256}
TRAIN_TIME=${2:-30m}
PY=${PYTHON:-python}
mkdir -p "$OUT"
timed() { local name=$1; shift; /usr/bin/time -v -o "$OUT/$name.time" "$@"; }

timed train $PY -m rnnlm train tatoeba-eng-fra --pairs tsv --tokenizer bpe --vocab-size 8000 \
    --cell gru --layers 1 --hidden 256 --embedding 256 --dropout 0.1 --attention bahdanau \
    --label-smoothing 0 --batch-size 32 --lr 1e-3 --weight-decay 0 --val-fraction 0.01 --eval-every 2000 \
    --max-time "$TRAIN_TIME" --out "$OUT/run"
timed test-greedy $PY -m rnnlm eval "$OUT/run" --beam 1 --json \
    --outputs "$OUT/test-greedy.txt" > "$OUT/test-greedy.json"
{ cat "$OUT/test-greedy.json"; grep -H "Maximum resident" "$OUT"/*.time; } | tee "$OUT/summary.txt"
