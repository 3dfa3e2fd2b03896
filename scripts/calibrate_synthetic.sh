#!/usr/bin/env bash
# Calibration of the embedded synthetic suite (issue #4): pretrain tiny-p8 on upstream-synth,
# then per task: full fine-tuning from the pretrained model, linear probing, and training from
# scratch, all with the same budget. Prints test macro-F1 per run. (Rounds 1-7 of CALIBRATION.md; the
# calibration now runs as Pipelines/calibration.yaml.) AdamW as then; `peftlab train` defaults to the
# pipeline recipe (SGD).
#   bash scripts/calibrate_synthetic.sh [OUT_DIR] [STEPS]
set -euo pipefail
out=${1:-/tmp/calib}; steps=${2:-600}
P=.build/release/peftlab
mkdir -p "$out"
[ -f "$out/upstream.h5" ] || $P train --dataset upstream-synth --preset tiny-p8 --head linear -S steps=3000 -S batch=64 \
  -S optimizer=adamw -S weight_decay=0.05 -S clip=1 -S lr=1e-3 -S warmup=100 --log-every 500 --save "$out/upstream.h5" > "$out/pretrain.log"
grep -E "^(val|test):" "$out/pretrain.log" | sed 's/^/upstream /'
for d in chaoyang-synth covid19-ct-synth busi-synth cxr3-synth oct-synth limuc-synth; do
  for run in full probe scratch; do
    case $run in
      full) args="--init-from $out/upstream.h5 -S lr=5e-4";;
      probe) args="--init-from $out/upstream.h5 --mode linear-probe -S lr=5e-3";;
      scratch) args="-S lr=5e-4";;
    esac
    $P train --dataset $d --preset tiny-p8 --head l2_linear -S steps=$steps -S batch=64 -S warmup=30 --log-every 100000 \
      -S optimizer=adamw -S weight_decay=0.05 -S clip=1 $args \
      > "$out/$d-$run.log"
    echo "$d $run $(grep '^test:' "$out/$d-$run.log")"
  done
done
