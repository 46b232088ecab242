#!/usr/bin/env bash
# One device call (after ../shared/gpu/prepare, carrying .gpu): a random-weight model at Phi-2's
# full size made by transformers, flashcl's logits and greedy tokens checked against it
# (flashcl verify), flashcl's generate benchmark and transformers' speed on the same model, and
# the tokenizer golden data regenerated with transformers' decode. Results land in
# $OUT/phi2-results.tgz (one file: a device call returns at most 8), the tables on the output too.
# BENCHES: one benchmark per line, "name|JVM options|bench generate options|CLASSES" (default: one
# "default||"), each written to $OUT/generate-NAME.json and bench-generate-NAME.log. CLASSES: a
# folder of compiled classes and kernels (an older commit's target/classes) that replaces
# .gpu/classes, to time an older version beside the current one in the same call.
# TUNE=gemv (or attention,gemv) runs flashcl tune first, so the benchmarks take what it picks.
#   [GOLDEN=no] [SPEED=] [VERIFY=no] [TESTS=none] [TUNE=gemv] [BENCHES=...] bash scripts/gpu-phi2.sh
set -uo pipefail
source .gpu/env.sh
final=${OUT:-gpu-out}; out=/tmp/gpu-phi2-out; mkdir -p "$out" "$final"
bundle() { tar -C "$out" -czf "$final/phi2-results.tgz" .; }
export PYTHONUNBUFFERED=1
source scripts/gpu-opencl.sh
java_main() { bash -c 'source .gpu/env.sh; [ -z "${CLASSES:-}" ] || GPU_CP="${GPU_CP/.gpu\/classes:/$CLASSES:}"; GPU_JAVA_OPTS="-Xmx24g ${JOPTS:-}" gpu_java dev.flashcl.cli.Main "$@"' flashcl "$@"; }
[ "${GOLDEN:-yes}" = no ] || { python3 testdata/tokenizer/make_golden.py > "$out/golden.log" 2>&1 && cp testdata/tokenizer/golden.json "$out/"; }
[ -f /tmp/phi2/reference.json ] || timeout 240 python3 scripts/phi2_reference.py /tmp/phi2 ${SPEED---speed} 2>&1 | grep -v Warning | tee "$out/reference.log"
cp /tmp/phi2/transformers_speed.json "$out/" 2>/dev/null
[ "${VERIFY:-yes}" = no ] || CLASSES= timeout 200 bash -c "$(declare -f java_main); java_main verify --model /tmp/phi2/model --reference /tmp/phi2" 2>&1 | tee "$out/verify.log"
[ -z "${TUNE:-}" ] || CLASSES= timeout 200 bash -c "$(declare -f java_main); java_main tune --what $TUNE" 2>&1 | grep -v INFO | tee "$out/tune.log"
while IFS='|' read -r name jopts args classes; do
  [ -n "$name" ] || continue
  CLASSES="$classes" JOPTS="$jopts" timeout 200 bash -c "$(declare -f java_main); java_main bench generate --model /tmp/phi2/model $args --json $out/generate-$name.json" 2>&1 \
    | grep -v INFO | tee "$out/bench-generate-$name.log"
  bundle
done <<< "${BENCHES:-default||}"
if [ "${TESTS:-phi}" != none ]; then
  # the engine's test classes on the GPU (the attention sweeps run through scripts/gpu-attention.sh)
  timeout "${TEST_LIMIT:-200}" bash -c "source .gpu/env.sh; gpu_test --select-class dev.flashcl.internal.phi.PhiKernelsTest \
    --select-class dev.flashcl.internal.kernels.FlashAttentionDecodeTest --select-class dev.flashcl.internal.phi.PhiAttentionTest --select-class dev.flashcl.internal.cl.KernelSignaturesTest --select-class dev.flashcl.internal.phi.PhiModelTest --select-class dev.flashcl.internal.phi.EmbeddedModelTest --select-class dev.flashcl.internal.phi.GenerateErrorsTest \
    --select-class dev.flashcl.tokenizer.TokenizerGoldenTest --select-class dev.flashcl.internal.checkpoint.CheckpointErrorsTest --select-class dev.flashcl.internal.kernels.TuningTest --details=tree" > "$out/tests.log" 2>&1
  echo "tests exit $?"; grep -E "tests (successful|failed|found)|containers failed" "$out/tests.log"
  grep -B2 -A12 -E "✘|Failures \(" "$out/tests.log" | head -60
fi
bundle
