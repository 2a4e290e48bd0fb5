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
    # Go's fuzz coordinator can end a run with "context deadline exceeded" and no failing
    # input when the machine is loaded; only a written failing input is a finding, so
    # such a run is retried once.
    for try in 1 2; do
      if go test -run '^$' -fuzz "^${f}\$" -fuzztime "$t" "./$dir" >/tmp/fuzz.$$.log 2>&1; then break; fi
      if [ "$try" = 2 ] || grep -q "Failing input written to" /tmp/fuzz.$$.log || ! grep -q "context deadline exceeded" /tmp/fuzz.$$.log; then
        cat /tmp/fuzz.$$.log; rm -f /tmp/fuzz.$$.log; exit 1
      fi
      echo "fuzz: $f ended with a coordinator deadline and no failing input; retrying once"
    done
    n=$((n+1))
  done
done < <(git ls-files '*_test.go' | xargs grep -l '^func Fuzz' | sort)
rm -f /tmp/fuzz.$$.log
echo "fuzz: $n passed, 0 failed"
