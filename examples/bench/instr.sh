#!/bin/bash
# instr.sh on|off [N]: the forward to zstd figure (examples/bench/zstd.conf)
# with the metrics listener on and scraped every second, or off (README
# Performance, "Metrics"). Run from the repository with ./barge and
# ./loadgen built (BIN=dir to take them from elsewhere).
here=$(cd "$(dirname "$0")" && pwd)
bin=$(cd "${BIN:-$here/../..}" && pwd)
mode=$1; d=${TMPDIR:-/tmp}/barge-instr-$mode-${2:-1}; rm -rf $d; mkdir -p $d; cd $d
cp $here/zstd.conf barge.conf
if [ $mode = on ]; then sed -i 's/  log_level warn/  log_level warn\n  http_port 24231/' barge.conf; fi
(exec $bin/barge run -c barge.conf >log 2>&1) & bp=$!
sleep 1.5
if [ $mode = on ]; then (while kill -0 $bp 2>/dev/null; do curl -s -o /dev/null http://127.0.0.1:24231/metrics; sleep 1; done) & fi
$bin/loadgen -addr 127.0.0.1:24299 -mode packed -records 1000 -record-size 200 -ack -duration 15s -verify-dir ./bench-out 2>&1 | grep -E "end to end|send rate"
kill -TERM $bp; wait $bp
cd /; rm -rf $d
