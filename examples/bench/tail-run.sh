#!/bin/sh
# Runs the @type tail benchmark from the repository root: barge (./barge)
# reads ./bench-in/app.log with examples/bench/tail.conf (its <parse>
# @type set to $1); once the pos_file says the file is read to its end,
# barge is stopped (SIGTERM: it writes out its buffer and exits). Prints
# the lines written out, the wall time, barge's CPU time and peak RSS.
# usage: examples/bench/tail-run.sh none|json|cri
set -eu
rm -rf bench-out bench-buffer bench-state
sed "s/@type none/@type $1/" examples/bench/tail.conf > bench-tail.conf
size=$(stat -c %s bench-in/app.log)
want=$(printf '%016x' "$size")
start=$(date +%s.%N)
/usr/bin/time -v -o bench-time.txt ./barge run -c bench-tail.conf 2>bench-barge.log &
timer=$!
until grep -q "$want" bench-state/tail.pos 2>/dev/null; do sleep 0.05; done
pkill -TERM -P "$timer" # barge, the child of time(1)
wait "$timer"
end=$(date +%s.%N)
lines=$(for f in bench-out/*.zst; do zstd -dc "$f"; done | wc -l)
echo "$1: $lines records written out; wall $(echo "$end - $start" | bc) s; bytes $size"
grep -E 'User time|System time|Maximum resident' bench-time.txt
