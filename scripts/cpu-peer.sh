#!/usr/bin/env bash
# flashcl on this machine's OpenCL CPU device (PoCL) beside llama.cpp's CPU build on the same GGUF
# files of the embedded model, in one run (src/test/java/dev/flashcl/bench/CpuPeerBench.java).
#   bash scripts/cpu-peer.sh [DEVICE]
set -euo pipefail
cd "$(git rev-parse --show-toplevel)"
mvn -q -B test-compile dependency:build-classpath -Dmdep.outputFile=target/test-classpath.txt -Dmdep.includeScope=test
java -cp "target/test-classes:target/classes:$(cat target/test-classpath.txt)" dev.flashcl.bench.CpuPeerBench "$@" 2>&1 | grep -v "^\[main\] INFO"
