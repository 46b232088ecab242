#!/usr/bin/env bash
# A soak on the GPU machine (after ../shared/gpu/prepare, carrying .gpu): a random-weight full-size
# Phi-2 (scripts/phi2_reference.py) generating for MINUTES minutes in one process (flashcl bench
# soak: random prompt lengths up to the context, sampling and greedy), with nvidia-smi's
# memory.used sampled every 30 s beside it.
#
# One device call may run 10 minutes, so the soak runs detached (setsid: it lives on while the
# machine is held) and each call waits up to WAIT seconds for it, then copies what it has so far
# into $OUT. Call again within the machine's idle window to go on waiting; the first call starts it.
#   MINUTES=20.5 WAIT=560 bash scripts/gpu-soak.sh      (again: WAIT=560 bash scripts/gpu-soak.sh)
set -uo pipefail
out=${OUT:-gpu-out}; mkdir -p "$out"
state=/tmp/soak; mkdir -p "$state"
export PYTHONUNBUFFERED=1
source scripts/gpu-opencl.sh
t0=$(date +%s)
if [ ! -f "$state/started" ]; then
  [ -f /tmp/phi2/model/config.json ] || python3 scripts/phi2_reference.py /tmp/phi2 > "$out/reference.log" 2>&1
  date +%T > "$state/started"
  setsid nohup bash -c '
    ( while true; do echo "$(date +%T) $(nvidia-smi --query-gpu=memory.used --format=csv,noheader)"; sleep 30; done ) > '"$state"'/nvidia-smi-memory.txt &
    sampler=$!
    source .gpu/env.sh
    GPU_JAVA_OPTS="-Xmx8g" gpu_java dev.flashcl.cli.Main bench soak --model /tmp/phi2/model --minutes '"${MINUTES:-20.5}"' \
      --json '"$state"'/soak.json 2>&1 | grep --line-buffered -v INFO > '"$state"'/soak.md
    echo "exit ${PIPESTATUS[0]}" > '"$state"'/done
    kill $sampler' > "$state/nohup.log" 2>&1 < /dev/null &
  echo "soak started at $(cat "$state/started") for ${MINUTES:-20.5} minutes"
fi
while [ ! -f "$state/done" ] && [ $(( $(date +%s) - t0 )) -lt "${WAIT:-560}" ]; do sleep 5; done
cp "$state"/soak.md "$state"/nvidia-smi-memory.txt "$out/" 2>/dev/null
cp "$state"/soak.json "$out/" 2>/dev/null
echo "soak started $(cat "$state/started"), now $(date +%T), $([ -f "$state/done" ] && cat "$state/done" || echo running)"
tail -n 4 "$state/soak.md"
