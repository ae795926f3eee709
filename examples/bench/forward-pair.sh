#!/bin/bash
# forward-pair.sh [NAME]: the README's barge-to-barge forward figure
# (Performance, "Forward output"): loadgen into a sending barge that
# forwards with acks to a receiving barge, 15 s; prints the end-to-end
# rate, each barge's peak RSS and the peak of their summed PSS (sampled
# every 0.2 s). Run from the repository with ./barge and ./loadgen built
# (BIN=dir to take them from elsewhere).
set -u
name=${1:-run}
here=$(cd "$(dirname "$0")" && pwd)
bin=$(cd "${BIN:-$here/../..}" && pwd)
d=${TMPDIR:-/tmp}/barge-fw-$name; rm -rf $d; mkdir -p $d/r $d/s; cd $d
cp $here/forward-receiver.conf r/barge.conf
cp $here/forward-sender.conf s/barge.conf
(cd r && exec $bin/barge run -c barge.conf >log 2>&1) & rp=$!
(cd s && exec $bin/barge run -c barge.conf >log 2>&1) & sp=$!
sleep 1.5
echo "uptime before: $(uptime)"
(peak=0; while kill -0 $rp 2>/dev/null && kill -0 $sp 2>/dev/null; do
   a=$(awk '/^Pss:/{print $2}' /proc/$rp/smaps_rollup 2>/dev/null); b=$(awk '/^Pss:/{print $2}' /proc/$sp/smaps_rollup 2>/dev/null)
   [ -n "$a" ] && [ -n "$b" ] && [ $((a+b)) -gt $peak ] && peak=$((a+b)) && echo $peak > $d/psspeak
   sleep 0.2; done) &
$bin/loadgen -addr 127.0.0.1:24300 -mode packed -records 1000 -record-size 200 -ack -duration 15s -verify-dir ./r/out
echo "uptime after: $(uptime)"
echo "receiver $(grep VmHWM /proc/$rp/status)"
echo "sender   $(grep VmHWM /proc/$sp/status)"
echo "peak summed PSS: $(($(cat $d/psspeak)/1024)) MiB"
kill -TERM $sp; wait $sp; kill -TERM $rp; wait $rp
wait
rm -rf $d/r/out $d/r/buf $d/s/buf
