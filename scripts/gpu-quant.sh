#!/usr/bin/env bash
# One device call (after ../shared/gpu/prepare and scripts/gpu-trim.sh, carrying .gpu): quantized
# weights on the full-size random Phi-2. The quantized and fp16 kernel tests on the GPU, then
# `bench generate` with the weights as stored (fp16), Q8_0 and Q4_0 quantized at load (decode at
# 512 and 2000, prefill of 2048, device memory) in the same call, then `bench quality` (KL
# divergence and top-1 agreement against fp16 on held-out Python files). Logs and JSON land in $OUT.
#   [TESTS=no] [QUALITY=no] [WEIGHTS='stored q8_0 q4_0'] [VARIANTS='base u4=-Dflashcl.gemvUnroll=4'] bash scripts/gpu-quant.sh
set -uo pipefail
source .gpu/env.sh
source scripts/gpu-opencl.sh
out=${OUT:-gpu-out}; mkdir -p "$out"
export PYTHONUNBUFFERED=1 GPU_JAVA_OPTS=-Xmx48g
[ -f /tmp/phi2/model/config.json ] || timeout 240 python3 scripts/phi2_reference.py /tmp/phi2 2>&1 | grep -v Warning | tail -3
cp testdata/tokenizer/tokenizer.json /tmp/phi2/model/
if [ "${TESTS:-yes}" != no ]; then
  timeout 200 bash -c "source .gpu/env.sh; gpu_test --select-class dev.flashcl.internal.phi.QuantKernelsTest --select-class dev.flashcl.internal.phi.PhiKernelsTest --details=tree" \
    > "$out/quant-tests.log" 2>&1
  echo "tests exit $?"; grep -E "tests (successful|failed|found)" "$out/quant-tests.log"
  grep -B2 -A12 -E "✘" "$out/quant-tests.log" | head -40
fi
# VARIANTS: the code as it is ("base") and, to measure a change against the code before it in
# the same call, LABEL=JVM-OPTIONS (e.g. "u4=-Dflashcl.gemvUnroll=4"; a comma separates several
# options); each weight format runs once per variant, the JSON and log named by weights and label.
base_opts=$GPU_JAVA_OPTS
for w in ${WEIGHTS:-stored q8_0 q4_0}; do
  for v in ${VARIANTS:-base}; do
    label=${v%%=*}; opts=""; [ "$label" = "$v" ] || opts=$(echo "${v#*=}" | tr ',' ' ')
    tag=$w; [ "$label" = base ] || tag="$w-$label"
    export GPU_JAVA_OPTS="$base_opts $opts"
    timeout 200 bash -c 'source .gpu/env.sh; gpu_java dev.flashcl.cli.Main bench generate --model /tmp/phi2/model --weights '"$w"' --prompt-lengths ${PROMPTS:-2048} --contexts 512,2000 --json '"$out/generate-$tag.json" \
      2>&1 | grep -v INFO > "$out/bench-generate-$tag.log"
    echo "$tag: $(grep -E '^\| decode \| context 512' "$out/bench-generate-$tag.log")  $(grep -E '^\| q?gemv_(qkv_fc1|dense_fc2)_f16' "$out/bench-generate-$tag.log" | tail -2 | tr -s ' ' | tr '\n' ' ')"
  done
done
export GPU_JAVA_OPTS="$base_opts"
if [ "${QUALITY:-yes}" != no ]; then
  python3 scripts/heldout_files.py > /tmp/heldout.txt
  timeout 240 bash -c 'source .gpu/env.sh; gpu_java dev.flashcl.cli.Main bench quality --model /tmp/phi2/model --file-list /tmp/heldout.txt --max-tokens 16384 --json '"$out/quality-phi2.json" \
    2>&1 | grep -v INFO | tee "$out/bench-quality.log"
fi
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm,clocks.max.mem --format=csv > "$out/gpu.csv" 2>&1
tar -C "$out" -czf /tmp/quant-results.tgz . && mv /tmp/quant-results.tgz "$out/"
