#!/bin/sh
# Writes N log lines of 100 bytes (newline included) of the given kind to
# stdout, for the README's @type tail figures:
#   none: "2026-12-06T04:20:00.000000Z INFO req=00000000 alpha beta ..."
#   json: {"level":"info","req":"00000000","path":"/api/v1/items","msg":"..."}
#   cri:  "2026-12-06T04:20:00.000000000Z stdout F alpha beta ..." (every
#         tenth line a partial P line, joined with the next one)
# usage: tail-input.sh none|json|cri N > FILE
set -eu
kind=$1 n=$2
# msg(n): n characters of words drawn at random (seeded: the same file
# every time), so that the output's compression sees realistic text.
lib='BEGIN { srand(1); nw = split("alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu nu xi omicron pi rho sigma tau upsilon phi chi psi omega", w, " ") }
function msg(n,   s) { s = ""; while (length(s) < n) s = s w[int(rand() * nw) + 1] " "; return substr(s, 1, n) }'
case $kind in
none) awk -v n="$n" "$lib"'
  END { for (i = 0; i < n; i++) printf "2026-12-06T04:20:%02d.%06dZ INFO req=%08d %s\n", i%60, i%1000000, i, msg(53) }' </dev/null ;;
json) awk -v n="$n" "$lib"'
  END { for (i = 0; i < n; i++) printf "{\"level\":\"info\",\"req\":\"%08d\",\"path\":\"/api/v1/items\",\"msg\":\"%s\"}\n", i, msg(34) }' </dev/null ;;
cri) awk -v n="$n" "$lib"'
  END { for (i = 0; i < n; i++) printf "2026-12-06T04:20:%02d.%09dZ stdout %s %s\n", i%60, i, (i%10==3 ? "P" : "F"), msg(59) }' </dev/null ;;
*) echo "usage: $0 none|json|cri N" >&2; exit 2 ;;
esac
