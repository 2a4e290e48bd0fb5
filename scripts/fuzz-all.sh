#!/usr/bin/env bash
# Runs every Go fuzz target of the repository for a short time each (default 4s).
# A crash fails the run and leaves the input under the package's testdata/fuzz/.
set -euo pipefail
t=${1:-4s}
cd "$(git rev-parse --show-toplevel)"
n=0
while IFS= read -r file; do
  dir=$(dirname "$file")
  for f in $(grep -oE '^func (Fuzz[A-Za-z0-9_]+)\(' "$file" | sed -E 's/^func (Fuzz[A-Za-z0-9_]+)\(/\1/'); do
    echo "fuzz: ./$dir $f ($t)"
    go test -run '^$' -fuzz "^${f}\$" -fuzztime "$t" "./$dir" >/tmp/fuzz.$$.log 2>&1 || { cat /tmp/fuzz.$$.log; rm -f /tmp/fuzz.$$.log; exit 1; }
    n=$((n+1))
  done
done < <(git ls-files '*_test.go' | xargs grep -l '^func Fuzz' | sort)
rm -f /tmp/fuzz.$$.log
echo "fuzz: $n targets ran, $n passed, 0 failed"
