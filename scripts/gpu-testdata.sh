#!/usr/bin/env bash
# One device call on the GPU machine that regenerates the test data made by transformers and
# tokenizers: the tokenizer's golden data, the tiny random Phi model with its references, and the
# embedded model (trained). Everything generated comes back in $OUT as testdata.tgz.* (split at
# 15 MB); unpack here with: cat testdata.tgz.* | tar xz
set -uo pipefail
out=${OUT:-gpu-out}; mkdir -p "$out"
export PYTHONUNBUFFERED=1
python3 -c "import sys, torch, transformers, tokenizers; print(sys.version.split()[0], torch.__version__, transformers.__version__, tokenizers.__version__, torch.cuda.get_device_name())"
python3 testdata/tokenizer/make_golden.py 2>&1 | tee "$out/tokenizer.log"
python3 testdata/tiny-phi/make_tiny.py 2>&1 | tee "$out/tiny.log"
[ "${TRAIN:-yes}" = no ] || python3 testdata/embedded/train.py 2>&1 | tee "$out/train.log"
tar cz testdata/tokenizer/{tokenizer.json,tokenizer_config.json,special_tokens_map.json,golden.json} \
  testdata/tiny-phi testdata/embedded | split -b 15m - "$out/testdata.tgz."
ls -la "$out"
