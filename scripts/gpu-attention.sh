#!/usr/bin/env bash
# One device call on the GPU machine (after ../shared/gpu/prepare, carrying .gpu): list devices,
# benchmark flash, naive and PyTorch's flash attention on the same shapes, then run the whole test
# suite on the GPU (Oclgrind's check runs in CI only). Results land in $OUT/attention-results.tgz
# (or ./gpu-out/; one file: a device call returns at most 8), the tables on the output too.
# COMPARE: more bench runs in the same call, one per line, "name|JVM options|bench attention options|KERNELS_DIR",
# each written to attention-NAME.md/json (a kernel variant chosen by a -Dflashcl property, or an
# older kernel source: see KERNELS_DIR below).
#   [TUNE=yes] [TESTS=none] [BENCH=none] [TORCH=no] [COMPARE=...] [BUILD_ARGS=...] [BACKGROUND_BUILD_ARGS=...] [BUILD_LIMIT=s] [BENCH_LIMIT=s] [TEST_LIMIT=s] bash scripts/gpu-attention.sh [bench args...]
set -uo pipefail
source .gpu/env.sh
final=${OUT:-gpu-out}; out=/tmp/gpu-attention-out; mkdir -p "$out" "$final"
source scripts/gpu-opencl.sh
{ nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.sm,clocks.mem --format=csv; gpu_java dev.flashcl.cli.Main devices 2>&1; } | tee "$out/machine.txt"
# KERNELS_DIR: a folder holding kernels/*.cl that replaces the packaged kernel sources (an older
# version of a kernel, timed beside the current one in the same call).
java_main() { bash -c 'source .gpu/env.sh; GPU_CP="${KERNELS_DIR:+$KERNELS_DIR:}$GPU_CP"; GPU_JAVA_OPTS="-Xmx24g ${EXTRA_JAVA_OPTS:-}" gpu_java dev.flashcl.cli.Main "$@"' flashcl "$@"; }
# NVIDIA's compiler takes up to 45 s a prefill variant: build every variant first into the kernel
# cache, then the bench (the figures) and the test suite, each under a time limit so that one slow
# step cannot eat the call.
# One variant at a time per process (NVIDIA's driver crashed building several in one process), 8 processes.
build_all() {   # build_all LOG_PREFIX [build-kernels args]
  local prefix=$1; shift
  for i in 0 1 2 3 4 5 6 7; do
    timeout "${BUILD_LIMIT:-200}" bash -c "$(declare -f java_main); java_main build-kernels --shard $i/8 $*" > "/tmp/$prefix-$i.txt" 2>&1 &
  done
  wait; tail -qn1 /tmp/$prefix-?.txt | tee -a "$out/build.txt"
}
# The COMPARE runs' kernels (their own -D options or sources), 4 processes each, beside the main build.
while IFS='|' read -r name jopts args kernels; do
  [ -n "$name" ] || continue
  for i in 0 1 2 3; do
    KERNELS_DIR="$kernels" EXTRA_JAVA_OPTS="$jopts" timeout "${BUILD_LIMIT:-200}" bash -c "$(declare -f java_main); java_main build-kernels --shard $i/4 ${BUILD_ARGS:-}" \
      > "/tmp/build-$name-$i.txt" 2>&1 &
  done
done <<< "${COMPARE:-}"
build_all build ${BUILD_ARGS:-}
# BACKGROUND_BUILD_ARGS: more variants (e.g. --head-dims 64,96,128) built while the bench runs, for the tests.
[ -z "${BACKGROUND_BUILD_ARGS:-}" ] || { build_all background $BACKGROUND_BUILD_ARGS & background=$!; }
# flashcl tune: the fastest tile and decode work-group at Phi-2's shape, kept per device and driver
if [ "${TUNE:-no}" = yes ]; then
  timeout 240 bash -c "$(declare -f java_main); java_main tune" 2>&1 | grep -v INFO | tee "$out/tune.txt"
  cp ~/.cache/flashcl/tuning.json "$out/" 2>/dev/null
fi
[ "${BENCH:-all}" = none ] || timeout "${BENCH_LIMIT:-200}" bash -c "$(declare -f java_main); java_main bench attention --json '$out/attention.json' $*" \
  2>"$out/bench.log" | tee "$out/attention.md"
[ "${BENCH:-all}" = none ] || tail -3 "$out/bench.log"
while IFS='|' read -r name jopts args kernels; do
  [ -n "$name" ] || continue
  KERNELS_DIR="$kernels" EXTRA_JAVA_OPTS="$jopts" timeout "${BENCH_LIMIT:-200}" bash -c "$(declare -f java_main); java_main bench attention --json '$out/attention-$name.json' $args" \
    2>"$out/bench-$name.log" | tee "$out/attention-$name.md"
done <<< "${COMPARE:-}"
bundle() { tar -C "$out" -czf "$final/attention-results.tgz" .; }
bundle
# What NVIDIA's compiler made of the prefill and GEMM kernels: registers, spills, local arrays, SASS counts.
bash scripts/gpu-sass-report.sh > "$out/sass.txt" 2>&1; grep -E "^==|^   (flash|gemm|Used|\.shared)" "$out/sass.txt" | head -60
[ "${BENCH:-all}" = none ] || [ "${TORCH:-yes}" = no ] || timeout 120 python3 scripts/torch_attention.py --json "$out/torch_attention.json" 2>&1
[ -z "${background:-}" ] || wait "$background"
if [ "${TESTS:-all}" != none ]; then
  # --details=tree streams each test as it ends, so a run cut short still shows how far it got.
  timeout "${TEST_LIMIT:-240}" bash -c "source .gpu/env.sh; gpu_test --select-package dev.flashcl --exclude-classname '.*OclgrindTest' --exclude-classname '.*FuzzTest' \
    --details=tree" > "$out/tests.log" 2>&1
  echo "tests exit $?"; grep -E "tests (successful|failed|found)|containers failed" "$out/tests.log"
  grep -B2 -A12 -E "✘|MethodSource.*=>|Failures \(" "$out/tests.log" | head -80
fi
bundle
