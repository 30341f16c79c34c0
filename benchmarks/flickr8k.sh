#!/usr/bin/env bash
# Flickr8k captioning (the 800 shared photographs: 650 train, 50 val, 100 test, split by
# image): a Show-Attend-Tell captioner trained for TRAIN_TIME with (a) the small CNN from
# scratch and (b) the frozen ImageNet-pretrained EfficientNet-Lite0, one after the other;
# each scored on the 100 test images (beam 5) beside the most-frequent-caption and
# nearest-neighbour baselines, by the same scorer; then the speed of each (caption_speed.py).
#
#   RNNLM_DATA=../shared/data PYTHONPATH=src flock /tmp/rnnlm-cpu.lock \
#       benchmarks/flickr8k.sh [OUT] [TRAIN_TIME]
set -euo pipefail
OUT=${1:-/tmp/flickr8k}
TRAIN_TIME=${2:-30m}
PY=${PYTHON:-python}
DATA=${RNNLM_DATA%%:*}/flickr8k-800
mkdir -p "$OUT"
timed() { local name=$1; shift; /usr/bin/time -v -o "$OUT/$name.time" "$@"; }
for encoder in efficientnet-lite0 cnn; do
    timed "train-$encoder" $PY -m rnnlm train "$DATA/images" --captions "$DATA/captions.txt" \
        --encoder "$encoder" --max-time "$TRAIN_TIME" --out "$OUT/$encoder" \
        > "$OUT/train-$encoder.log" 2>&1
    timed "eval-$encoder" $PY -m rnnlm eval "$OUT/$encoder" --baselines --json \
        > "$OUT/eval-$encoder.json" 2> "$OUT/eval-$encoder.err"
    $PY -m rnnlm eval "$OUT/$encoder" --beam 1 --json > "$OUT/eval-$encoder-greedy.json" \
        2> /dev/null
    $PY -m rnnlm caption "$OUT/$encoder" "$DATA/images" > "$OUT/captions-$encoder.tsv" \
        2> /dev/null
done
$PY "$(dirname "$0")/caption_speed.py" "$OUT/efficientnet-lite0" "$OUT/cnn" \
    > "$OUT/speed.json"
echo "wrote $OUT"
