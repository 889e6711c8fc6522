#!/bin/sh
# Reproduces the default model with `gauntlet train` (dev tool; needs Debian's dataset-fashion-mnist
# and GNU time): the default model's recipe (scripts/default_model_recipe.yaml, init: reinit) on the
# full 60,000-image Fashion-MNIST training set and on the shipped 10,000-image slice, each evaluated
# on the full 10,000-image test set; prints accuracy, training seconds, wall time and peak RSS.
#
#   npx tsc -p tsconfig.json && sh scripts/train_full_fashion_mnist.sh [OUTDIR] [THREADS]
set -eu
cd "$(dirname "$0")/.."
DIR=${FASHION_MNIST_DIR:-/usr/share/datasets/fashion-mnist}
OUT=${1:-$(mktemp -d /tmp/gauntlet-full-XXXXXX)}
THREADS=${2:-2}
mkdir -p "$OUT"
G="node dist/src/cli/bin.js"
for set in full slice; do
  if [ "$set" = full ]; then DATA="$DIR/train-images-idx3-ubyte.gz"; else DATA=assets/default/fashion-mnist-train-10k.npz; fi
  /usr/bin/time -v -o "$OUT/$set.time" $G train --data "$DATA" --recipe scripts/default_model_recipe.yaml \
    --threads "$THREADS" --out "$OUT/$set.onnx" --json > "$OUT/$set.train.json"
  $G eval --model "$OUT/$set.onnx" --data "$DIR/t10k-images-idx3-ubyte.gz" --json > "$OUT/$set.eval.json"
  node -e '
    const fs = require("fs");
    const [set, out] = process.argv.slice(1);
    const last = (f) => JSON.parse(fs.readFileSync(f, "utf8").trim().split("\n").pop());
    const t = last(`${out}/${set}.train.json`), e = last(`${out}/${set}.eval.json`);
    const time = fs.readFileSync(`${out}/${set}.time`, "utf8");
    const rss = Number(/Maximum resident set size \(kbytes\): (\d+)/.exec(time)[1]);
    const wall = /Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (\S+)/.exec(time)[1];
    console.log(JSON.stringify({ set, test_accuracy: e.accuracy, test_samples: e.samples, train_seconds: t.seconds, wall, peak_rss_mb: rss / 1024, final_loss: t.final_loss, train_accuracy: t.train_accuracy }));
  ' "$set" "$OUT"
done
