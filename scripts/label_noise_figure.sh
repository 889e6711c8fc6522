#!/usr/bin/env bash
# Dev-time figure for the README: 40 % symmetric label noise on the shipped 10k Fashion-MNIST
# training slice, the embedded architecture trained from PyTorch's default initialisation (seed 0)
# for EPOCHS epochs (AdamW lr 2e-3, batch 128, cosine), once with clean labels and once per loss on
# the noisy labels; prints the accuracy on the 2,000-image test slice (true labels) of each.
#
#   bash scripts/label_noise_figure.sh [EPOCHS=15] [OUT=.tmp/label-noise]
set -euo pipefail
cd "$(dirname "$0")/.."
EPOCHS=${1:-15}
OUT=${2:-.tmp/label-noise}
mkdir -p "$OUT"
for v in clean_ce:ce noisy_ce:ce noisy_bootstrap:bootstrap noisy_gce:gce noisy_sce:sce noisy_elr:elr; do
  name=${v%%:*}; loss=${v##*:}
  labels='labels: { noise: { model: symmetric, rate: 0.4 } }'
  [ "$name" = clean_ce ] && labels=''
  printf 'init: reinit\nepochs: %s\nbatch_size: 128\noptimizer: { name: adamw, lr: 0.002 }\nschedule: { name: cosine }\nloss: { name: %s }\n%s\nseed: 0\n' "$EPOCHS" "$loss" "$labels" > "$OUT/$name.yaml"
  node dist/src/cli/bin.js train --recipe "$OUT/$name.yaml" --out "$OUT/$name.onnx" --val assets/default/fashion-mnist-test-2000.npz --threads 1 --json \
    | tail -1 | node -e "let s='';process.stdin.on('data',d=>s+=d).on('end',()=>{const j=JSON.parse(s);console.log('$name'.padEnd(16), 'test accuracy', j.val_accuracy.toFixed(4), ' seconds', j.seconds.toFixed(0))})"
done
