#!/usr/bin/env bash
# After ../shared/gpu/prepare: keeps .gpu plus the working tree under the device call's 64 MiB.
# The embedded model's copy in .gpu/classes becomes a link to testdata/embedded (which travels
# anyway), and Jazzer (the fuzzing engine, 8 MB; fuzzing runs in CI only) and XChart's PDF/SVG
# export libraries (4 MB; plots are drawn here, not there) leave .gpu/lib, so the GPU scripts
# exclude ReadersFuzzTest; so do Selenium's dependencies (guava, byte-buddy, OpenTelemetry: the
# browser test runs here only), and the chat-template and LangChain4j libraries.
set -euo pipefail
cd "$(git rev-parse --show-toplevel)"
if [ -d .gpu/classes/models/embedded ] && [ ! -L .gpu/classes/models/embedded ]; then
  rm -rf .gpu/classes/models/embedded
  ln -s ../../../testdata/embedded .gpu/classes/models/embedded
fi
rm -f .gpu/lib/byte-buddy-*.jar .gpu/lib/guava-*.jar .gpu/lib/failureaccess-*.jar .gpu/lib/listenablefuture-*.jar .gpu/lib/j2objc-*.jar .gpu/lib/opentelemetry-*.jar
rm -f .gpu/lib/llama-*.jar .gpu/lib/jazzer-*.jar .gpu/lib/pdfbox*.jar .gpu/lib/fontbox-*.jar .gpu/lib/graphics2d-*.jar .gpu/lib/VectorGraphics2D-*.jar .gpu/lib/commons-logging-*.jar
# Chat templates (Jinjava and what it brings) and LangChain4j: no GPU run renders a template or uses LangChain4j.
rm -f .gpu/lib/jinjava-*.jar .gpu/lib/javassist-*.jar .gpu/lib/commons-lang3-*.jar .gpu/lib/commons-net-*.jar .gpu/lib/java-ipv6-*.jar .gpu/lib/big-math-*.jar \
      .gpu/lib/re2j-*.jar .gpu/lib/algebra-*.jar .gpu/lib/derive4j-*.jar .gpu/lib/hubspot-style-*.jar .gpu/lib/immutable*-*.jar .gpu/lib/encode-*.jar \
      .gpu/lib/checker-qual-*.jar .gpu/lib/jsr305-*.jar .gpu/lib/error_prone_*.jar .gpu/lib/annotations-*.jar .gpu/lib/jackson-datatype-jdk8-*.jar \
      .gpu/lib/langchain4j-*.jar .gpu/lib/jspecify-*.jar .gpu/lib/snakeyaml-*.jar .gpu/lib/jackson-dataformat-yaml-*.jar \
      .gpu/lib/jackson-module-kotlin-*.jar .gpu/lib/jsonschema-*.jar .gpu/lib/swagger-*.jar .gpu/lib/classmate-*.jar .gpu/lib/jackson-datatype-jsr310-*.jar
# NO_SERVER=1: also the server's libraries (Jetty, Micrometer), for runs without `serve` or `bench serve`;
# NO_TESTS=1: also the JUnit launcher and the test classes, for runs through gpu_java only.
if [ "${NO_SERVER:-0}" = 1 ]; then rm -f .gpu/lib/jetty-*.jar .gpu/lib/micrometer-*.jar .gpu/lib/prometheus-*.jar .gpu/lib/HdrHistogram-*.jar .gpu/lib/LatencyUtils-*.jar; fi
if [ "${NO_TESTS:-0}" = 1 ]; then rm -f .gpu/lib/junit-platform-console-standalone-*.jar; rm -rf .gpu/test-classes; mkdir -p .gpu/test-classes; fi
tracked=$(git ls-files -z | xargs -0 du -cb | tail -1 | cut -f1)
untracked=$(git ls-files -o --exclude-standard -z | xargs -0 -r du -cb | tail -1 | cut -f1)
echo "gpu-trim: $(( (tracked + ${untracked:-0} + $(du -sb .gpu | cut -f1)) * 100 / 1048576 / 100 )) MiB travel (64 at most)"
