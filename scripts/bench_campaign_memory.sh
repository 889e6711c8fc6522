#!/bin/bash
# Peak resident memory (and wall and CPU time: on a shared machine the wall time is mostly the load) of a campaign with the default campaign's stresses — PGD L∞
# ε 0.02 and 0.05, Gaussian noise severity 2 and 4, contrast severity 3, 20 % symmetric label noise,
# staged (24 cells), 1,000 bootstrap resamples — on the default model, at 2,000 and 20,000 items of
# the 60,000-image Fashion-MNIST training set (Debian's dataset-fashion-mnist), each size written
# as its own uint8 .npz so that the data read is the data used. PGD runs STEPS steps (default 1:
# the memory of a cell does not depend on the steps, and 10 steps at 20,000 items take ~40 min on a
# loaded 2-core machine); STEPS=10 gives the default campaign exactly. Needs /usr/bin/time (GNU time).
#   scripts/bench_campaign_memory.sh                                   # the built CLI (dist/)
#   BIN=/path/to/other/dist/src/cli/bin.js scripts/bench_campaign_memory.sh   # another build (before/after)
#   SIZES="2000 20000" STEPS=1 EXTRA="--chunk-items 0" scripts/bench_campaign_memory.sh
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
BIN=${BIN:-$root/dist/src/cli/bin.js}
FM=${FM:-/usr/share/datasets/fashion-mnist}
SIZES=${SIZES:-2000 20000}
STEPS=${STEPS:-1}
EXTRA=${EXTRA:-}
images=$FM/train-images-idx3-ubyte.gz
[ -f "$images" ] || { echo "bench_campaign_memory: $images is missing (apt-get install dataset-fashion-mnist)" >&2; exit 2; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

node -e "
const { loadDataset } = await import('$root/dist/src/data/load.js');
const { saveNpz } = await import('$root/dist/src/data/npz.js');
const ds = await loadDataset('$images');
for (const n of '$SIZES'.split(' ').map(Number)) {
  const u8 = Uint8Array.from(ds.x.subarray(0, n * 784), (v) => Math.round(v * 255));
  await saveNpz('$work/train-' + n + '.npz', { x: { dtype: '|u1', shape: [n, 1, 28, 28], data: u8 }, y: { dtype: '<i4', shape: [n], data: ds.labels.subarray(0, n) } });
}
" --input-type=module

for n in $SIZES; do
  cat > "$work/c-$n.yaml" <<YAML
model: $root/assets/default/model.onnx
data: $work/train-$n.npz
seed: 0
stresses:
  adversarial: [{ attack: pgd, norm: linf, eps: [0.02, 0.05], steps: $STEPS }]
  drift: [{ corruption: gaussian_noise, severity: [2, 4] }, { corruption: contrast, severity: 3 }]
  annotation: [{ model: symmetric, rate: 0.2 }]
YAML
  # shellcheck disable=SC2086
  /usr/bin/time -f '%M %e %U %S' -o "$work/rss" node "$BIN" run "$work/c-$n.yaml" --out "$work/run-$n" --no-registry --json $EXTRA > /dev/null 2> "$work/err" || { cat "$work/err" >&2; exit 1; }
  read -r kb secs user sys < <(tail -1 "$work/rss")
  awk -v n="$n" -v kb="$kb" -v s="$secs" -v u="$user" -v sy="$sys" -v steps="$STEPS" 'BEGIN { printf "%6d items (PGD %d steps)  peak RSS %6.0f MB  wall %6.0f s  CPU %6.0f s\n", n, steps, kb / 1024, s, u + sy }'
done
