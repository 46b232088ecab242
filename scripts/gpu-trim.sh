#!/usr/bin/env bash
# After ../shared/gpu/prepare: keeps .gpu plus the working tree under the device call's 64 MiB.
# The embedded model's copy in .gpu/classes becomes a link to testdata/embedded (which travels
# anyway), and Jazzer (the fuzzing engine, 8 MB; fuzzing runs in CI only) leaves .gpu/lib, so the
# GPU scripts exclude ReadersFuzzTest.
set -euo pipefail
cd "$(git rev-parse --show-toplevel)"
if [ -d .gpu/classes/models/embedded ] && [ ! -L .gpu/classes/models/embedded ]; then
  rm -rf .gpu/classes/models/embedded
  ln -s ../../../testdata/embedded .gpu/classes/models/embedded
fi
rm -f .gpu/lib/jazzer-*.jar
echo "gpu-trim: $(( ($(git ls-files -z | xargs -0 du -cb | tail -1 | cut -f1) + $(du -sbL .gpu --exclude=embedded | cut -f1)) / 1048576 )) MiB travel"
