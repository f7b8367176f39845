#!/usr/bin/env bash
# Remux benchmark (on demand, not part of the tests): liverec remux against ffmpeg -c copy
# (FLV, fragmented MP4, MPEG-TS, HLS, ADTS)
# on the anchor inputs (../shared/anchors/make-media.sh: 10-minute 720p H.264+AAC FLV,
# its 60-minute concatenation, 10-minute audio-only), same machine, same run, A/B
# interleaved. Prints CPU seconds (user+sys), peak RSS and the ratios ffmpeg / liverec and
# liverec / cp (cp measured in the same loop).
# Env: WORK (default /tmp/liverec-bench), RUNS (default 3), INPUTS (default "in10 in60"),
# FORMATS (default "flv mp4 ts hls aac"), OVERWRITE (set: the anchor's method, see below).
set -euo pipefail
cd "$(dirname "$0")/.."
WORK=${WORK:-/tmp/liverec-bench}
RUNS=${RUNS:-3}
INPUTS=${INPUTS:-"in10 in60"}
FORMATS=${FORMATS:-"flv mp4 ts hls aac"}
command -v /usr/bin/time >/dev/null || { echo "needs /usr/bin/time (apt-get install time)"; exit 1; }
MEDIA=$WORK/media
OUT=$WORK/out
mkdir -p "$MEDIA" "$OUT"
[ -f "$MEDIA/in60.flv" ] || bash ../shared/anchors/make-media.sh "$MEDIA"
cargo build --release --quiet --bin liverec
LIVEREC=$PWD/target/release/liverec

# measure CMD...: prints "cpu_seconds peak_kib". CPU from wait4's rusage (microseconds,
# where /usr/bin/time prints hundredths; it includes the waited-for command), peak RSS
# from /usr/bin/time, whose small C process is what forks the command (a child forked
# from Python would carry Python's RSS as its high-water mark across exec).
measure() {
  local f; f=$(mktemp)
  python3 -c '
import os, sys
pid = os.fork()
if pid == 0:
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    os.execvp(sys.argv[1], sys.argv[1:])
_, _, ru = os.wait4(pid, 0)
print(f"{ru.ru_utime + ru.ru_stime:.4f}", end=" ")
' /usr/bin/time -f '%M' -o "$f" "$@"
  cat "$f"; rm -f "$f"
}

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

printf '%-6s %-4s %9s %9s %9s %8s %8s %10s %10s\n' input to ffmpeg_s liverec_s cp_s ff/lr lr/cp ffmpeg_rss liverec_rss
for input in $INPUTS; do
  in="$MEDIA/$input.flv"
  cat "$in" > /dev/null   # input in the page cache, as in the anchor
  for to in $FORMATS; do
    case $to in
      flv) ff=(-c copy -f flv "$OUT/ff.flv"); lr=(--to flv --out "$OUT/lr.flv") ;;
      # liverec's MP4 ends moov-first, so the anchor is ffmpeg's +faststart.
      mp4) ff=(-c copy -f mp4 -movflags +faststart "$OUT/ff.mp4"); lr=(--to mp4 --out "$OUT/lr.mp4") ;;
      ts)  ff=(-c copy -f mpegts "$OUT/ff.ts"); lr=(--to ts --out "$OUT/lr.ts") ;;
      hls) ff=(-c copy -f hls -hls_time 6 -hls_list_size 0 "$OUT/ffhls/i.m3u8"); lr=(--to hls --segment 6 --out "$OUT/lrhls/i.m3u8") ;;
      aac) ff=(-vn -c:a copy -f adts "$OUT/ff.aac"); lr=(--to aac --out "$OUT/lr.aac") ;;
    esac
    fcpu=(); lcpu=(); ccpu=(); frss=0; lrss=0
    for _ in $(seq "$RUNS"); do
      # Outputs removed first, outside the measurement: nobody pays for truncating the
      # previous run's file. OVERWRITE=1 keeps them, as ../shared/anchors/remux-bench.sh
      # does (each command then also frees its previous output's pages).
      [ -n "${OVERWRITE:-}" ] || rm -rf "$OUT"/ff* "$OUT"/lr* "$OUT/copy.flv"
      mkdir -p "$OUT/ffhls"
      read -r c r < <(measure ffmpeg -hide_banner -nostdin -v error -y -i "$in" "${ff[@]}"); fcpu+=("$c"); frss=$r
      read -r c r < <(measure "$LIVEREC" remux "$in" "${lr[@]}"); lcpu+=("$c"); lrss=$r
      read -r c _ < <(measure cp "$in" "$OUT/copy.flv"); ccpu+=("$c")
    done
    f=$(printf '%s\n' "${fcpu[@]}" | median); l=$(printf '%s\n' "${lcpu[@]}" | median)
    c=$(printf '%s\n' "${ccpu[@]}" | median)
    ratio=$(awk -v f="$f" -v l="$l" 'BEGIN { printf "%.2fx", (l > 0 ? f / l : 0) }')
    vs_cp=$(awk -v c="$c" -v l="$l" 'BEGIN { printf "%.2fx", (c > 0 ? l / c : 0) }')
    printf '%-6s %-4s %9s %9s %9s %8s %8s %9dK %9dK\n' "$input" "$to" "$f" "$l" "$c" "$ratio" "$vs_cp" "$frss" "$lrss"
  done
done
