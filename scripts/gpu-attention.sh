#!/usr/bin/env bash
# One device call on the GPU machine (after ../shared/gpu/prepare, carrying .gpu): list devices,
# run the whole test suite on the GPU (Oclgrind's check runs in CI only), then benchmark flash,
# naive and PyTorch's flash attention on the same shapes. Results land in $OUT (or ./gpu-out).
#   bash scripts/gpu-attention.sh [--skip-tests] [bench args...]
set -uo pipefail
source .gpu/env.sh
out=${OUT:-gpu-out}; mkdir -p "$out"
# JOCL opens libOpenCL.so; give it one where only the versioned loader (or the vendor library) exists.
if ! ldconfig -p | grep -q 'libOpenCL\.so '; then
  lib=$(ldconfig -p | awk '/libOpenCL\.so\.1 /{print $NF; exit}')
  [ -n "$lib" ] || lib=$(ldconfig -p | awk '/libnvidia-opencl\.so\.1 /{print $NF; exit}')
  mkdir -p /tmp/flashcl-ocl && ln -sf "$lib" /tmp/flashcl-ocl/libOpenCL.so
  export LD_LIBRARY_PATH=/tmp/flashcl-ocl:${LD_LIBRARY_PATH:-}
fi
nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.sm,clocks.mem --format=csv | tee "$out/gpu.txt"
gpu_java dev.flashcl.cli.Main devices 2>&1 | tee "$out/devices.txt"
if [ "${1:-}" = "--skip-tests" ]; then shift; else
  gpu_test --select-package dev.flashcl --exclude-classname '.*OclgrindTest' --details=summary \
    --reports-dir "$out/junit" 2>&1 | tail -25 | tee "$out/tests.txt"
fi
GPU_JAVA_OPTS="-Xmx24g" gpu_java dev.flashcl.cli.Main bench attention --json "$out/attention.json" "$@" 2>"$out/bench.log" | tee "$out/attention.md"
tail -3 "$out/bench.log"
python3 scripts/torch_attention.py --json "$out/torch_attention.json" 2>&1 | tee "$out/torch.txt"
