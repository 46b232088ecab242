#!/usr/bin/env bash
# flashcl check on the H200, quick then full; the reports come back in $OUT (docs/check-reports/ keeps them).
# Here first: ../shared/gpu/prepare && bash scripts/gpu-trim.sh, then carry [".gpu"] and run
#   bash scripts/gpu-check.sh
set -uo pipefail
source .gpu/env.sh
out=${OUT:-gpu-out}; mkdir -p "$out"
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader
gpu_java dev.flashcl.cli.Main check --device gpu --quick > "$out/h200-quick.txt" 2> "$out/h200-quick.err"; echo "quick rc=$?"
tail -1 "$out/h200-quick.txt"
gpu_java dev.flashcl.cli.Main check --device gpu --full --json "$out/h200.json" > "$out/h200.txt" 2> "$out/h200.err"; rc=$?; echo "full rc=$rc"
tail -1 "$out/h200.txt"
grep '^FAIL' "$out/h200.txt" | head -20
exit $rc
