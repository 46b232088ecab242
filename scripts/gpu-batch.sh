#!/usr/bin/env bash
# One device call (after ../shared/gpu/prepare and scripts/gpu-trim.sh, carrying .gpu): the
# batched decode of continuous batching on the full-size random Phi-2. The GEMM and batch tests
# on the GPU, `bench batch` as it is and with each change turned off (VARIANTS: "name|JVM
# options" lines) in the same call, then `bench serve` at 1, 8, 32 and 64 clients. Everything lands in $OUT (logs and JSON), the tables on the output too.
#   [SERVE=no] [TESTS=no] bash scripts/gpu-batch.sh
set -uo pipefail
source .gpu/env.sh
source scripts/gpu-opencl.sh
out=${OUT:-gpu-out}; mkdir -p "$out"
export PYTHONUNBUFFERED=1 GPU_JAVA_OPTS=-Xmx24g
[ -f /tmp/phi2/model/config.json ] || timeout 240 python3 scripts/phi2_reference.py /tmp/phi2 2>&1 | grep -v Warning | tail -3
cp testdata/tokenizer/tokenizer.json /tmp/phi2/model/
if [ "${TESTS:-yes}" != no ]; then
  timeout 240 bash -c "source .gpu/env.sh; GPU_JAVA_OPTS='${TEST_OPTS:-}' gpu_test --select-class dev.flashcl.internal.phi.PhiKernelsTest --select-class dev.flashcl.internal.phi.PhiBatchTest \
    --select-class dev.flashcl.BatcherTest --details=tree" > "$out/batch-tests.log" 2>&1
  echo "tests exit $?"; grep -E "tests (successful|failed|found)" "$out/batch-tests.log"
  grep -B2 -A12 -E "✘" "$out/batch-tests.log" | head -40
fi
# name|JVM options: the current code, then each change of it turned off, then all of them off
while IFS='|' read -r name jopts; do
  GPU_JAVA_OPTS="-Xmx24g $jopts" timeout 150 bash -c 'source .gpu/env.sh; gpu_java dev.flashcl.cli.Main bench batch --model /tmp/phi2/model --json '"$out/batch-$name.json" \
    2>&1 | grep -v INFO | tee "$out/bench-batch-$name.log"
done <<< "${VARIANTS:-current|
no-skinny|-Dflashcl.skinnyGemm=off
no-loads16|-Dflashcl.decodeLoads16=off
before|-Dflashcl.skinnyGemm=off -Dflashcl.decodeLoads16=off}"
if [ "${SERVE:-yes}" != no ]; then
  timeout 240 bash -c 'source .gpu/env.sh; gpu_java dev.flashcl.cli.Main bench serve --model /tmp/phi2/model --clients 1,8,32,64 --prompt-tokens 512 --new-tokens 256 --json '"$out/serve.json" \
    2>&1 | grep -v INFO | tee "$out/bench-serve.log"
fi
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm,clocks.max.mem --format=csv > "$out/gpu.csv" 2>&1
# a device call returns at most 8 files: the logs and JSON also travel as one archive
tar -C "$out" -czf /tmp/batch-results.tgz . && mv /tmp/batch-results.tgz "$out/"
