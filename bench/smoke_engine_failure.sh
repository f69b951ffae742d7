#!/usr/bin/env bash
# An engine that fails in an interleaved run is reported and the others finish
# every step: lightning cannot open (no database under --use_existing_db=1),
# the null engine still runs all three workloads, and the exit status is 2.
set -u
bench="$1"
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
out=$("$bench" --db="$dir" --use_existing_db=1 --engines=lightning,null --num=2000 \
      --benchmarks=readrandom,readseq,readrandom 2>&1)
rc=$?
fail() { echo "FAIL: $1"; echo "$out"; exit 1; }
[ "$rc" = 2 ] || fail "exit status $rc, expected 2"
echo "$out" | grep -q "lightning FAILED: open failed" || fail "lightning's failure not reported"
[ "$(echo "$out" | grep -c '^readrandom   :')" = 2 ] || fail "the null engine did not run both readrandom steps"
echo "$out" | grep -q '^readseq      : not supported by null' || fail "the null engine skipped no readseq step"
echo "ok"
