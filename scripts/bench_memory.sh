#!/bin/bash
# Peak resident memory of the streamed verbs on the 60,000-image Fashion-MNIST training set
# (Debian's dataset-fashion-mnist), against the size of the raw inputs as float32 (60000 x 784 x 4
# bytes = 188 MB). Needs /usr/bin/time (GNU time). Usage:
#   scripts/bench_memory.sh                      # the built CLI (dist/)
#   BIN=/path/to/other/dist/src/cli/bin.js scripts/bench_memory.sh   # another build, for before/after
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
BIN=${BIN:-$root/dist/src/cli/bin.js}
FM=${FM:-/usr/share/datasets/fashion-mnist}
images=$FM/train-images-idx3-ubyte.gz
[ -f "$images" ] || { echo "bench_memory: $images is missing (apt-get install dataset-fashion-mnist)" >&2; exit 2; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
raw=$((60000 * 784 * 4))

peak() { # label, command…: prints the peak RSS in MB and as a multiple of the raw float32 inputs
  local label=$1; shift
  /usr/bin/time -f '%M' -o "$work/rss" "$@" > /dev/null 2> "$work/err" || { cat "$work/err" >&2; exit 1; }
  local kb; kb=$(tail -1 "$work/rss")
  awk -v l="$label" -v kb="$kb" -v raw="$raw" 'BEGIN { printf "%-34s peak RSS %6.0f MB  = %.2fx the raw float32 inputs (%.0f MB)\n", l, kb / 1024, kb * 1024 / raw, raw / 1e6 }'
}

# The same images as a uint8 .npz (stored), the input of corrupt and noise.
node -e "
const { loadDataset } = await import('$root/dist/src/data/load.js');
const { saveNpz } = await import('$root/dist/src/data/npz.js');
const ds = await loadDataset('$images');
const u8 = Uint8Array.from(ds.x, (v) => Math.round(v * 255));
await saveNpz('$work/train.npz', { x: { dtype: '|u1', shape: [ds.size, ...ds.itemShape], data: u8 }, y: { dtype: '<i4', shape: [ds.size], data: ds.labels } });
" --input-type=module

peak 'baseline (eval, 10 items)' node "$BIN" eval --limit 10 --threads 2
peak 'eval (60k IDX)' node "$BIN" eval --data "$images" --threads 2
peak 'eval (60k npz)' node "$BIN" eval --data "$work/train.npz" --threads 2
peak 'corrupt gaussian_noise s3 (60k npz)' node "$BIN" corrupt --data "$work/train.npz" --corruption gaussian_noise --severity 3 --permutations 0 --out "$work/c.npz"
rm -f "$work/c.npz"
peak 'noise symmetric 0.2 (60k npz)' node "$BIN" noise --data "$work/train.npz" --noise-model symmetric --rate 0.2 --out "$work/n.npz"
rm -f "$work/n.npz" "$work/n.npz.provenance.json"
if node "$BIN" noise --help | grep -q -- --copy-images; then
  peak 'noise --copy-images (60k npz)' node "$BIN" noise --data "$work/train.npz" --noise-model symmetric --rate 0.2 --copy-images --out "$work/n.npz"
fi
peak 'shift noise 0.5 (60k npz)' node "$BIN" shift --data "$work/train.npz" --kind noise --amount 0.5 --permutations 0 --out "$work/s.npz"
rm -f "$work/s.npz"
peak 'shift prior (60k npz)' node "$BIN" shift --data "$work/train.npz" --kind prior --proportions 5,1,1,1,1,1,1,1,1,1 --permutations 0 --out "$work/s.npz"
rm -f "$work/s.npz"
