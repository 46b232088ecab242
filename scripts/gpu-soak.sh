#!/usr/bin/env bash
# One device call (after ../shared/gpu/prepare, carrying .gpu): a random-weight full-size Phi-2
# (scripts/phi2_reference.py) generating for MINUTES minutes in one process (flashcl bench soak:
# random prompt lengths up to the context, sampling and greedy), with nvidia-smi's memory.used
# sampled every 30 s beside it. Results in $OUT.   MINUTES=8 bash scripts/gpu-soak.sh
set -uo pipefail
out=${OUT:-gpu-out}; mkdir -p "$out"
export PYTHONUNBUFFERED=1
source scripts/gpu-opencl.sh
[ -f /tmp/phi2/reference.json ] || python3 scripts/phi2_reference.py /tmp/phi2 > "$out/reference.log" 2>&1
( while true; do echo "$(date +%T) $(nvidia-smi --query-gpu=memory.used --format=csv,noheader)"; sleep 30; done ) > "$out/nvidia-smi-memory.txt" &
sampler=$!
bash -c 'source .gpu/env.sh; GPU_JAVA_OPTS="-Xmx8g" gpu_java dev.flashcl.cli.Main bench soak --model /tmp/phi2/model --minutes '"${MINUTES:-8}"' --json '"$out"'/soak.json' 2>&1 | grep -v INFO | tee "$out/soak.md"
kill $sampler
cat "$out/nvidia-smi-memory.txt"
