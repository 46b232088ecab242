#!/usr/bin/env bash
# After ../shared/gpu/prepare: keeps .gpu plus the working tree under the device call's 64 MiB.
# The embedded model's copy in .gpu/classes becomes a link to testdata/embedded (which travels
# anyway), and Jazzer (the fuzzing engine, 8 MB; fuzzing runs in CI only) and XChart's PDF/SVG
# export libraries (4 MB; plots are drawn here, not there) leave .gpu/lib, so the GPU scripts
# exclude ReadersFuzzTest; so do Selenium's dependencies (guava, byte-buddy, OpenTelemetry: the
# browser test runs here only).
set -euo pipefail
cd "$(git rev-parse --show-toplevel)"
if [ -d .gpu/classes/models/embedded ] && [ ! -L .gpu/classes/models/embedded ]; then
  rm -rf .gpu/classes/models/embedded
  ln -s ../../../testdata/embedded .gpu/classes/models/embedded
fi
rm -f .gpu/lib/byte-buddy-*.jar .gpu/lib/guava-*.jar .gpu/lib/failureaccess-*.jar .gpu/lib/listenablefuture-*.jar .gpu/lib/j2objc-*.jar .gpu/lib/opentelemetry-*.jar
rm -f .gpu/lib/llama-*.jar .gpu/lib/jazzer-*.jar .gpu/lib/pdfbox*.jar .gpu/lib/fontbox-*.jar .gpu/lib/graphics2d-*.jar .gpu/lib/VectorGraphics2D-*.jar .gpu/lib/commons-logging-*.jar
tracked=$(git ls-files -z | xargs -0 du -cb | tail -1 | cut -f1)
untracked=$(git ls-files -o --exclude-standard -z | xargs -0 -r du -cb | tail -1 | cut -f1)
echo "gpu-trim: $(( (tracked + ${untracked:-0} + $(du -sb .gpu | cut -f1)) * 100 / 1048576 / 100 )) MiB travel (64 at most)"
