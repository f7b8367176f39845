#!/usr/bin/env bash
# On-demand check of liverec's scale-out on a real distributed object store (not in CI:
# Garage's build takes ~20 minutes): a throwaway PostgreSQL 15 cluster, Garage 2.5.0
# (single node, `cargo install garage --version 2.5.0 --locked` when missing) and two
# `liverec serve` nodes on loopback ports. It pushes with ffmpeg to node 2 after
# configuring node 1, plays every recording back from node 1's /vod (ffprobe), checks
# that a second publish of a live stream on the other node is refused, then kills node
# 1 mid-push (-9) and checks that node 2 finalises its HLS recording.
#
# Usage: scripts/cluster-check.sh [WORKDIR]   (needs root for the PostgreSQL cluster)
#        STORE=s3s-fs scripts/cluster-check.sh  (the same against s3s-fs: a quick dry run)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
export PATH="$HOME/.cargo/bin:$PATH"
work=${1:-/tmp/liverec-cluster-check}
pgbin=/usr/lib/postgresql/15/bin
step() { printf '\n==> %s\n' "$*"; }
fail() { echo "FAILED: $*" >&2; exit 1; }

store=${STORE:-garage}
if [ "$store" = garage ]; then
  command -v garage >/dev/null || { step "cargo install garage 2.5.0"; cargo install garage --version 2.5.0 --locked; }
fi
[ -x "$pgbin/initdb" ] || { apt-get update; DEBIAN_FRONTEND=noninteractive apt-get install -y postgresql-15; }
cargo build --release --quiet --bin liverec
liverec="$root/target/release/liverec"

rm -rf "$work"; mkdir -p "$work"; chmod 755 "$work"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  runuser -u postgres -- "$pgbin/pg_ctl" -D "$work/pg/data" -m fast -w stop >/dev/null 2>&1 || true
}
trap cleanup EXIT

step "PostgreSQL 15 (throwaway cluster)"
pgport=$((20000 + RANDOM % 10000))
mkdir -p "$work/pg"; chown postgres "$work/pg"
runuser -u postgres -- "$pgbin/initdb" -D "$work/pg/data" -U liverec --auth=trust -E UTF8 \
  --locale=C.UTF-8 --no-sync >/dev/null
runuser -u postgres -- "$pgbin/pg_ctl" -D "$work/pg/data" -l "$work/pg/log" -w \
  -o "-p $pgport -k $work/pg -c listen_addresses=127.0.0.1" start >/dev/null
database="postgres://liverec@127.0.0.1:$pgport/postgres"

s3port=$((30000 + RANDOM % 2000)); rpcport=$((s3port + 1))
key="GK$(openssl rand -hex 12)"; secret=$(openssl rand -hex 32)
region=garage
if [ "$store" = garage ]; then
  step "Garage 2.5.0 (single node)"
  cat > "$work/garage.toml" <<EOF
metadata_dir = "$work/garage/meta"
data_dir = "$work/garage/data"
db_engine = "sqlite"
replication_factor = 1
rpc_bind_addr = "127.0.0.1:$rpcport"
rpc_public_addr = "127.0.0.1:$rpcport"
rpc_secret = "$(openssl rand -hex 32)"
[s3_api]
s3_region = "garage"
api_bind_addr = "127.0.0.1:$s3port"
root_domain = ".s3.garage.localhost"
EOF
  GARAGE_DEFAULT_ACCESS_KEY=$key GARAGE_DEFAULT_SECRET_KEY=$secret GARAGE_DEFAULT_BUCKET=recordings \
    garage -c "$work/garage.toml" server --single-node --default-access-key --default-bucket \
    >"$work/garage.log" 2>&1 &
  pids+=($!)
else
  step "s3s-fs"
  region=us-east-1
  mkdir -p "$work/s3/recordings"
  s3s-fs --host 127.0.0.1 --port "$s3port" --access-key "$key" --secret-key "$secret" "$work/s3" \
    >"$work/s3s.log" 2>&1 &
  pids+=($!)
fi
for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$s3port/" && break; sleep 0.2; done

start_node() { # name http rtmp
  mkdir -p "$work/$1"
  cat > "$work/$1/liverec.toml" <<EOF
[testing]
record_interval_seconds = 2
[retention]
min_free_bytes = 16777216
[database]
url = "$database"
node_id = "$1"
[storage]
url = "s3://recordings/liverec"
endpoint = "http://127.0.0.1:$s3port"
region = "$region"
path_style = true
allow_http = true
access_key_id = "$key"
secret_access_key = "$secret"
EOF
  RUST_LOG=info "$liverec" serve --config "$work/$1/liverec.toml" --data "$work/$1/data" \
    --http "127.0.0.1:$2" --rtmp "127.0.0.1:$3" >"$work/$1.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 100); do curl -sf -o /dev/null "http://127.0.0.1:$2/healthz" && return; sleep 0.2; done
  fail "node $1 did not start (see $work/$1.log)"
}
api() { # port action json
  curl -s "http://127.0.0.1:$1/" -H "X-TC-Action: $2" -H 'X-TC-Version: 2018-08-01' \
    -H 'Content-Type: application/json' -d "$3"
}
push() { # rtmp-port stream seconds
  ffmpeg -v error -re -f lavfi -i testsrc=size=320x240:rate=25 -f lavfi -i sine -t "$3" \
    -c:v libx264 -preset veryfast -g 25 -c:a aac -f flv "rtmp://127.0.0.1:$1/live/$2"
}
json() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }

step "two nodes"
start_node n1 18181 19181
start_node n2 18182 19182
curl -s http://127.0.0.1:18181/healthz
tid=$(api 18181 CreateLiveRecordTemplate '{"TemplateName":"all","FlvParam":{"Enable":1},"HlsParam":{"Enable":1},"Mp4Param":{"Enable":1},"AacParam":{"Enable":1},"HlsSpecialParam":{"FlowContinueDuration":3}}' \
  | json 'd["Response"]["TemplateId"]')
api 18181 CreateLiveRecordRule "{\"DomainName\":\"localhost\",\"AppName\":\"live\",\"TemplateId\":$tid}" >/dev/null
sleep 1.2

step "a template made on node 1 governs a push to node 2"
push 19182 cam 5
sleep 6   # the HLS splice timeout (3 s), the uploads
api 18181 SearchMedia '{"StreamIds":["cam"],"Limit":100}' > "$work/search.json"
python3 - "$work/search.json" > "$work/urls" <<'EOF'
import json, sys
for m in json.load(open(sys.argv[1]))["Response"]["MediaInfoSet"]:
    print(m["BasicInfo"]["MediaUrl"])
EOF
formats=$(json '" ".join(sorted({m["BasicInfo"]["Type"] for m in d["Response"]["MediaInfoSet"]}))' < "$work/search.json")
[ "$formats" = "aac flv hls mp4" ] || fail "formats recorded: $formats"
[ -s "$work/urls" ] || fail "no recording found: $(cat "$work/search.json")"
while read -r url; do
  path=${url#*/vod/}
  ffprobe -v error -show_entries format=duration -of csv=p=0 "http://127.0.0.1:18181/vod/$path" >/dev/null \
    || fail "$path does not play from node 1"
  echo "plays from node 1: $path"
done < "$work/urls"

step "a live stream is refused on the other node"
push 19181 dup 6 & first=$!
sleep 2
if push 19182 dup 1 2>/dev/null; then fail "second publisher accepted on node 2"; fi
wait $first || fail "first publisher disturbed"
echo "refused as expected"

step "node 1 dies mid-push: node 2 finalises its HLS recording"
push 19181 orphan 14 2>/dev/null & pusher=$!
sleep 9
kill -9 "${pids[1]}"; wait "$pusher" 2>/dev/null || true
for _ in $(seq 40); do
  found=$(api 18182 SearchMedia '{"StreamIds":["orphan"],"Limit":100}' | grep -c '\.m3u8' || true)
  [ "$found" -gt 0 ] && break
  sleep 1
done
[ "${found:-0}" -gt 0 ] || fail "node 2 did not finalise node 1's HLS recording"
echo "node 2 finalised it"
step "cluster check passed ($store, PostgreSQL 15, two nodes)"
