#!/usr/bin/env bash
# The launcher as a user meets it, after mvn install built target/flashcl.jar: relative paths from
# another directory, a non-root user whose PATH lacks /usr/sbin, a missing OpenCL driver as that
# user, an old Java, and --help installing nothing. Each check failed on the launcher before.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
work=$(mktemp -d)
chmod 755 "$work"
trap 'rm -rf "$work"' EXIT
fail() { echo "launcher: FAIL: $*"; exit 1; }
n=0
pass() { n=$((n + 1)); echo "launcher: ok: $*"; }

# 1. A relative --prompt-file from the caller's directory.
mkdir -p "$work/caller"
printf 'def square(x):\n' > "$work/caller/p.txt"
out=$(cd "$work/caller" && "$root/flashcl" generate -q --prompt-file p.txt --max-new-tokens 3 2>&1) || fail "relative --prompt-file: $out"
[ -n "$out" ] || fail "relative --prompt-file printed nothing"
pass "relative --prompt-file resolves against the caller's directory"

# A bin directory with only what a user's PATH has, and fakes where needed.
fake="$work/bin"
mkdir -p "$fake"
cat > "$fake/apt-get" <<'SH'
#!/bin/sh
echo "apt-get $*" >> "$APT_LOG"
exit 0
SH
chmod +x "$fake/apt-get"
export APT_LOG="$work/apt.log"
: > "$APT_LOG"
chmod 666 "$APT_LOG"

if command -v runuser >/dev/null && [ "$(id -u)" = 0 ] && runuser -u nobody -- test -r "$root/target/flashcl.jar" -a -x "$root/flashcl"; then
  home="$work/home"
  mkdir -p "$home"
  chmod 777 "$home"
  as_user() { runuser -u nobody -- env HOME="$home" PATH="$fake:/usr/local/bin:/usr/bin:/bin" APT_LOG="$APT_LOG" "$@"; }
  # 2. A non-root user without /usr/sbin on PATH: the OpenCL check finds the installed driver.
  out=$(cd "$work/caller" && as_user "$root/flashcl" devices --no-probe 2>&1) || fail "non-root devices: $out"
  echo "$out" | grep -q '\* selected' || fail "non-root devices: $out"
  [ ! -s "$APT_LOG" ] || fail "non-root devices tried to install: $(cat "$APT_LOG")"
  pass "a non-root user without /usr/sbin on PATH finds the OpenCL driver"
  # 3. As that user with no driver registered: the exact command to run, not an obscure failure.
  mkdir -p "$work/no-icd"
  if out=$(cd "$work/caller" && as_user env OCL_ICD_VENDORS="$work/no-icd" "$root/flashcl" devices 2>&1); then fail "no driver, non-root: exit 0: $out"; fi
  echo "$out" | grep -q 'sudo apt-get install -y pocl-opencl-icd' || fail "no driver, non-root: $out"
  [ ! -s "$APT_LOG" ] || fail "a non-root user ran apt-get"
  pass "without a driver, a non-root user is told the exact install command"
else
  echo "launcher: skipped the non-root checks (they need root, runuser, and a checkout that user nobody can read: $root)"
fi

# 4. --help and --version install nothing, even with no driver registered.
for a in --help --version; do
  out=$(OCL_ICD_VENDORS="$work/no-icd" PATH="$fake:$PATH" "$root/flashcl" "$a" 2>&1) || fail "$a: $out"
  [ ! -s "$APT_LOG" ] || fail "$a ran apt-get: $(cat "$APT_LOG")"
done
pass "--help and --version install nothing"

# 5. An old Java is named, with the version it found.
cat > "$fake/java" <<'SH'
#!/bin/sh
echo 'openjdk version "11.0.2" 2019-01-15' >&2
SH
chmod +x "$fake/java"
if out=$(PATH="$fake:$PATH" "$root/flashcl" --version 2>&1); then fail "Java 11 accepted: $out"; fi
echo "$out" | grep -q 'Java 17 or newer is needed.*11.0.2' || fail "old Java: $out"
pass "an old Java is refused with its version"
echo "launcher: all $n checks passed"
