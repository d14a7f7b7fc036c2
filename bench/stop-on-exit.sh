# Sourced by bench/run.sh and scripts/conformance.sh: if the driver is killed before it can stop its
# servers, stop them here, by the PIDs it recorded in $pidfile (exported as PEERWEB_BENCH_PIDFILE).
pidfile=$(mktemp)
export PEERWEB_BENCH_PIDFILE="$pidfile"
cleanup() {
  while read -r pid dir; do
    [ -n "$pid" ] && kill "$pid" 2>/dev/null
    for _ in 1 2 3 4 5 6 7 8 9 10; do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    case "$dir" in */peerweb-bench-*) rm -rf "$dir" ;; esac
  done <"$pidfile"
  rm -f "$pidfile"
}
trap cleanup EXIT
trap 'exit 129' HUP
trap 'exit 130' INT
trap 'exit 143' TERM
