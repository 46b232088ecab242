#!/usr/bin/env bash
# On the GPU machine: what NVIDIA's compiler made of each cached program whose kernels match
# PATTERN (default: prefill and gemm). Its binaries are PTX text; ptxas (from the CUDA toolkit
# there) compiles each for sm_90 and reports registers, spills and local arrays, and cuobjdump's
# SASS gives static instruction counts per kernel: FFMA against shared-memory loads by width
# (LDS = 4 bytes, LDS.64, LDS.128), spills (LDL/STL) and the rest that matters.
#   bash scripts/gpu-sass-report.sh [PATTERN] > report.txt
pattern=${1:-prefill|gemm}
ptxas=$(command -v ptxas || ls /usr/local/cuda*/bin/ptxas 2>/dev/null | head -1)
cuobjdump=$(command -v cuobjdump || ls /usr/local/cuda*/bin/cuobjdump 2>/dev/null | head -1)
[ -n "$ptxas" ] && [ -n "$cuobjdump" ] || { echo "no ptxas/cuobjdump here"; exit 0; }
tmp=$(mktemp -d)
for f in ~/.cache/flashcl/kernels/*.bin; do
  names=$(grep -ao '\.entry [a-zA-Z0-9_]*' "$f" | cut -c8- | tr '\n' ' ')
  echo "$names" | grep -qE "$pattern" || continue
  tr -d '\000' < "$f" > "$tmp/k.ptx"
  echo "== $(basename "$f" | cut -c1-12): $names"
  grep -ao '\.shared \.align [0-9]* \.b8 [^;]*' "$tmp/k.ptx" | sed 's/^/   /'
  "$ptxas" -arch=sm_90 -v -o "$tmp/k.cubin" "$tmp/k.ptx" 2>&1 | grep -E "Compiling entry|Used|spill" | sed 's/ptxas info *: /   /'
  "$cuobjdump" -sass "$tmp/k.cubin" | awk '
    /Function :/ { if (fn) report(); fn = $3; delete c }
    /\/\*[0-9a-f]+\*\// { op = $2; if (op ~ /^@/) op = $3; sub(/;$/, "", op); c[op]++ }
    function report(   s, k) { s = ""; for (k in c) if (k ~ /^(FFMA|FMUL|FADD|LDS|STS|LDSM|LDL|STL|LDG|HMMA|MUFU|BAR|LDGSTS|SHFL)/) s = s " " k "=" c[k]; print "   " fn ":" s }
    END { if (fn) report() }'
done
rm -rf "$tmp"
