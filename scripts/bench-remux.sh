#!/usr/bin/env bash
# Remux benchmark (on demand, not part of the tests): liverec remux against ffmpeg -c copy
# (FLV, fragmented MP4, MPEG-TS, HLS, ADTS)
# on the anchor inputs (../shared/anchors/make-media.sh: 10-minute 720p H.264+AAC FLV,
# its 60-minute concatenation, 10-minute audio-only), same machine, same run, A/B
# interleaved. Prints CPU seconds (user+sys), peak RSS and the ratios ffmpeg / liverec.
# Env: WORK (default /tmp/liverec-bench), RUNS (default 3), INPUTS (default "in10 in60"),
# FORMATS (default "flv mp4 ts hls aac").
set -euo pipefail
cd "$(dirname "$0")/.."
WORK=${WORK:-/tmp/liverec-bench}
RUNS=${RUNS:-3}
INPUTS=${INPUTS:-"in10 in60"}
FORMATS=${FORMATS:-"flv mp4 ts hls aac"}
MEDIA=$WORK/media
OUT=$WORK/out
mkdir -p "$MEDIA" "$OUT"
[ -f "$MEDIA/in60.flv" ] || bash ../shared/anchors/make-media.sh "$MEDIA"
cargo build --release --quiet --bin liverec
LIVEREC=$PWD/target/release/liverec
command -v /usr/bin/time >/dev/null || { echo "needs /usr/bin/time (apt-get install time)"; exit 1; }

# measure CMD...: prints "cpu_seconds peak_kib"
measure() {
  local f; f=$(mktemp)
  /usr/bin/time -f '%U %S %M' -o "$f" "$@" >/dev/null 2>&1
  awk '{printf "%.3f %d\n", $1 + $2, $3}' "$f"
  rm -f "$f"
}

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

printf '%-8s %-5s %12s %12s %8s %12s %12s\n' input to ffmpeg_cpu_s liverec_cpu_s ratio ffmpeg_rss liverec_rss
for input in $INPUTS; do
  in="$MEDIA/$input.flv"
  for to in $FORMATS; do
    case $to in
      flv) ff=(-c copy -f flv "$OUT/ff.flv"); lr=(--to flv --out "$OUT/lr.flv") ;;
      # liverec's MP4 ends moov-first (rewritten at close), so the anchor is ffmpeg's +faststart.
      mp4) ff=(-c copy -f mp4 -movflags +faststart "$OUT/ff.mp4"); lr=(--to mp4 --out "$OUT/lr.mp4") ;;
      ts)  ff=(-c copy -f mpegts "$OUT/ff.ts"); lr=(--to ts --out "$OUT/lr.ts") ;;
      hls) rm -rf "$OUT/ffhls" "$OUT/lrhls"; mkdir -p "$OUT/ffhls"
           ff=(-c copy -f hls -hls_time 6 -hls_list_size 0 "$OUT/ffhls/i.m3u8"); lr=(--to hls --segment 6 --out "$OUT/lrhls/i.m3u8") ;;
      aac) ff=(-vn -c:a copy -f adts "$OUT/ff.aac"); lr=(--to aac --out "$OUT/lr.aac") ;;
    esac
    fcpu=(); lcpu=(); frss=0; lrss=0
    for _ in $(seq "$RUNS"); do
      read -r c r < <(measure ffmpeg -hide_banner -nostdin -v error -y -i "$in" "${ff[@]}"); fcpu+=("$c"); frss=$r
      read -r c r < <(measure "$LIVEREC" remux "$in" "${lr[@]}"); lcpu+=("$c"); lrss=$r
    done
    f=$(printf '%s\n' "${fcpu[@]}" | median); l=$(printf '%s\n' "${lcpu[@]}" | median)
    ratio=$(awk -v f="$f" -v l="$l" 'BEGIN { printf "%.1fx", (l > 0 ? f / l : 0) }')
    printf '%-8s %-5s %12s %12s %8s %10dK %10dK\n' "$input" "$to" "$f" "$l" "$ratio" "$frss" "$lrss"
  done
  cp_cpu=$(measure cp "$in" "$OUT/copy.flv" | cut -d' ' -f1)
  echo "$input: cp takes $cp_cpu CPU s"
done
