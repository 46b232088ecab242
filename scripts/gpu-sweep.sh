#!/usr/bin/env bash
# One device call (after ../shared/gpu/prepare, carrying .gpu): scripts/phi_sweep.py's models, and
# flashcl verify on each in fp16 with tensor cores, fp16 portable and fp32 storage. The verdict
# lines go to the output and $OUT/sweep.log.
set -uo pipefail
source .gpu/env.sh
export PYTHONUNBUFFERED=1
out=${OUT:-gpu-out}; mkdir -p "$out"
timeout 400 python3 scripts/phi_sweep.py /tmp/sweep "$@" 2>&1 | grep -v -E 'Warning|Loading weights|Writing model' | tee "$out/sweep-reference.log"
dirs=(/tmp/sweep/*/); [ $# -gt 0 ] && dirs=($(printf '/tmp/sweep/%s/ ' "$@"))   # names given: only those
for d in "${dirs[@]}"; do
  name=$(basename "$d")
  for mode in tc portable f32; do
    case $mode in tc) j="" a="" ;; portable) j="-Dflashcl.tensorCores=off" a="" ;; f32) j="" a="--storage f32" ;; esac
    line=$(GPU_JAVA_OPTS="-Xmx24g $j" timeout 120 bash -c 'source .gpu/env.sh; gpu_java dev.flashcl.cli.Main verify --model '"$d"'model --reference '"$d"' '"$a" 2>&1 | grep -v INFO | tail -4)
    echo "$name $mode: $(echo "$line" | tr '\n' ' ')" | tee -a "$out/sweep.log"
  done
done
