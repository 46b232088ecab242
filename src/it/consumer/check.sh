#!/usr/bin/env bash
# Builds the consumer project against the flashcl artifact in the local repository (mvn install
# first), checks that what it inherits at compile and runtime scope is only JOCL, slf4j-api and
# Jackson, and runs it on the default OpenCL device.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp -r "$here/pom.xml" "$here/src" "$work/"
cd "$work"
mvn -q -B dependency:tree -DoutputFile=tree.txt
echo "consumer: mvn dependency:tree"
sed 's/^/  /' tree.txt
mvn -q -B dependency:list -DincludeScope=runtime -DoutputFile=deps.txt -DexcludeTransitive=false
deps=$(grep -Eo '[a-zA-Z0-9_.-]+:[a-zA-Z0-9_.-]+:jar' deps.txt | sed 's/:jar$//' | sort -u)
echo "consumer: runtime dependencies of a project that depends on flashcl:"
echo "$deps" | sed 's/^/  /'
allowed='^(dev\.flashcl:flashcl|org\.jocl:jocl|org\.slf4j:slf4j-api|com\.fasterxml\.jackson\.core:jackson-(databind|core|annotations))$'
bad=$(echo "$deps" | grep -Ev "$allowed" || true)
if [ -n "$bad" ]; then
  echo "consumer: FAIL: flashcl leaks these to library users:"; echo "$bad" | sed 's/^/  /'; exit 1
fi
mvn -q -B compile dependency:build-classpath -Dmdep.outputFile=cp.txt
out=$(java -cp "target/classes:$(cat cp.txt)" example.Consumer 2>consumer.err) || { cat consumer.err; echo "consumer: FAIL: the consumer did not run"; exit 1; }
echo "$out" | sed 's/^/  /'
echo "$out" | grep -q '^stop: MAX_TOKENS, tokens: 16$' || { cat consumer.err; echo "consumer: FAIL: unexpected output"; exit 1; }
echo "consumer: PASS (only the allowed libraries; generated on the default device)"
