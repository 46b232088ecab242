#!/usr/bin/env bash
# One device call on the GPU machine (after ../shared/gpu/prepare, carrying .gpu): list devices,
# benchmark flash, naive and PyTorch's flash attention on the same shapes, then run the whole test
# suite on the GPU (Oclgrind's check runs in CI only). Results land in $OUT (or ./gpu-out).
#   [TUNE=yes] [TESTS=none] [BENCH=none] [BUILD_ARGS=...] [BUILD_LIMIT=s] [BENCH_LIMIT=s] [TEST_LIMIT=s] bash scripts/gpu-attention.sh [bench args...]
set -uo pipefail
source .gpu/env.sh
out=${OUT:-gpu-out}; mkdir -p "$out"
source scripts/gpu-opencl.sh
# (at most 8 files come back from a device call: keep $OUT to machine, build, attention.md/json, bench.log, torch, tests)
{ nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.sm,clocks.mem --format=csv; gpu_java dev.flashcl.cli.Main devices 2>&1; } | tee "$out/machine.txt"
java_main() { bash -c 'source .gpu/env.sh; GPU_JAVA_OPTS="-Xmx24g ${EXTRA_JAVA_OPTS:-}" gpu_java dev.flashcl.cli.Main "$@"' flashcl "$@"; }
# NVIDIA's compiler takes up to 45 s a prefill variant: build every variant first into the kernel
# cache, then the bench (the figures) and the test suite, each under a time limit so that one slow
# step cannot eat the call.
# One variant at a time per process (NVIDIA's driver crashed building several in one process), 8 processes.
build_all() {
  for i in 0 1 2 3 4 5 6 7; do
    timeout "${BUILD_LIMIT:-200}" bash -c "$(declare -f java_main); java_main build-kernels --shard $i/8 ${BUILD_ARGS:-}" > "/tmp/build-$i.txt" 2>&1 &
  done
  wait; tail -qn1 /tmp/build-?.txt | tee "$out/build.txt"
}
build_all
# flashcl tune: the fastest tile and decode work-group at Phi-2's shape, kept per device and driver
if [ "${TUNE:-no}" = yes ]; then
  timeout 240 bash -c "$(declare -f java_main); java_main tune" 2>&1 | grep -v INFO | tee "$out/tune.txt"
  cp ~/.cache/flashcl/tuning.json "$out/" 2>/dev/null
fi
[ "${BENCH:-all}" = none ] || timeout "${BENCH_LIMIT:-200}" bash -c "$(declare -f java_main); java_main bench attention --json '$out/attention.json' $*" \
  2>"$out/bench.log" | tee "$out/attention.md"
[ "${BENCH:-all}" = none ] || tail -3 "$out/bench.log"
# What NVIDIA's compiler made of the loads (its program binaries are PTX text).
for k in flash_attn_decode_f16 flash_attn_prefill_f16; do
  f=$(grep -la "entry $k" ~/.cache/flashcl/kernels/*.bin 2>/dev/null | head -1)
  [ -n "$f" ] && { echo "global loads in $k:"; grep -ao "ld\.global[.a-z0-9]*" "$f" | sort | uniq -c; }
done
[ "${BENCH:-all}" = none ] || timeout 120 python3 scripts/torch_attention.py --json "$out/torch_attention.json" 2>&1
if [ "${TESTS:-all}" != none ]; then
  # --details=tree streams each test as it ends, so a run cut short still shows how far it got.
  timeout "${TEST_LIMIT:-240}" bash -c "source .gpu/env.sh; gpu_test --select-package dev.flashcl --exclude-classname '.*OclgrindTest' \
    --details=tree" > "$out/tests.log" 2>&1
  echo "tests exit $?"; grep -E "tests (successful|failed|found)|containers failed" "$out/tests.log"
  grep -B2 -A12 -E "✘|MethodSource.*=>|Failures \(" "$out/tests.log" | head -80
fi
