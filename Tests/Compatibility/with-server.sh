#!/usr/bin/env bash
# Runs a command against a freshly started Switchboard server, then stops the server.
#
#   Tests/Compatibility/with-server.sh BIN [serve options...] -- COMMAND [args...]
#
# The server listens on a free loopback port; COMMAND sees its base URL in $SWITCHBOARD_URL and
# its process id in $SWITCHBOARD_PID.
# The server is stopped with SIGTERM afterwards and must exit 0 (a graceful drain).
set -euo pipefail
bin=$1; shift
serve_args=()
while [ $# -gt 0 ] && [ "$1" != "--" ]; do serve_args+=("$1"); shift; done
shift || true
log=$(mktemp)
"$bin" serve --port 0 "${serve_args[@]}" >"$log.out" 2>"$log" &
pid=$!
cleanup() { kill -TERM "$pid" 2>/dev/null || true; }
trap cleanup EXIT
for _ in $(seq 1 600); do
  if grep -q "listening on" "$log.out" 2>/dev/null; then break; fi
  if ! kill -0 "$pid" 2>/dev/null; then echo "server exited early:"; cat "$log"; exit 1; fi
  sleep 0.1
done
url=$(grep -o "http://[0-9.:]*" "$log.out" | head -1)
[ -n "$url" ] || { echo "server did not start:"; cat "$log"; exit 1; }
status=0
SWITCHBOARD_URL="$url" SWITCHBOARD_PID="$pid" "$@" || status=$?
trap - EXIT
kill -TERM "$pid"
server_status=0
wait "$pid" || server_status=$?
if [ "$status" -ne 0 ] || [ "$server_status" -ne 0 ]; then
  echo "command exit $status, server exit $server_status; server log:"; tail -20 "$log"
  [ "$status" -ne 0 ] && exit "$status"; exit "$server_status"
fi
rm -f "$log" "$log.out"
