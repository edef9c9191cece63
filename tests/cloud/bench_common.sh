# bench_common.sh — shared by bench/cloud_fetch.sh and bench/cloud_resume.sh (sourced, not
# run; it lives here so bench/run does not take it for a benchmark).
# Starts tests/cloud/faulty_server.py on 127.0.0.1 (socket.sendfile fast path) serving a
# scratch directory, and makes a file of random bytes there.
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)   # tests/cloud
src=$(cd "$here/../.." && pwd)
build=$(cd "$1" && pwd)
tool="$build/plugins/cloud/cloud-tool"
[ -x "$tool" ] || { echo "cloud-tool not built at $tool" >&2; exit 1; }
scale=${BENCH_SCALE:-1}
size=$(awk -v s="$scale" 'BEGIN { printf "%d", 2 * 1024 * 1024 * 1024 * s }')
work=$(mktemp -d "${TMPDIR:-/tmp}/cloudbench.XXXXXX")
server_pid=
cleanup() {
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
mkdir -p "$work/root" "$work/cache" "$work/ref"
head -c "$size" /dev/urandom > "$work/root/fw.ipsw"
sha=$(sha1sum "$work/root/fw.ipsw" | cut -d' ' -f1)
python3 "$src/tests/cloud/faulty_server.py" --root "$work/root" > "$work/port" &
server_pid=$!
for _ in $(seq 100); do grep -q PORT "$work/port" 2>/dev/null && break; sleep 0.05; done
port=$(awk '/PORT/ { print $2 }' "$work/port")
base="http://127.0.0.1:$port"
# Proxies from the environment must not catch loopback traffic.
export no_proxy=127.0.0.1 NO_PROXY=127.0.0.1
sent() { # body bytes the server sent for /fw.ipsw since the last reset
  curl -s "$base/_stats" | python3 -c 'import json,sys; print(json.load(sys.stdin)["sent"].get("/fw.ipsw", 0))'
}
reset_stats() { curl -s "$base/_stats?reset=1" > /dev/null; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b == 0) print "inf"; else printf "%.3f", a / b }'; }
