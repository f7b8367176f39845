#!/usr/bin/env python3
"""Stream mixing benchmark (on demand, not part of the tests): two 720p30 inputs → one 720p30
output in real time, B in the bottom-right quarter over A.

- CPU: of `liverec serve` (release) and its mix engine (the ffmpeg child) together, over
  --seconds (60) of steady mixing, as a share of one core. Target: ≤ 0.7.
- Latency: each input's picture carries the wall clock at which it was made, burnt in as 40
  black/white blocks (milliseconds, binary) in A's top-left corner; the output C is read back
  as liverec writes its FLV recording (decoded as it grows) and each picture's clock is compared
  with the wall clock at which it was decoded. A's own recording is read back the same way: the
  difference of the medians is what the mix adds between input and output (target ≤ 1 s); the
  end-to-end figure also holds the pusher's encoder, liverec's 200 ms write tick and the
  decoding.

The inputs are made by this script (raw frames, paced by the wall clock) and encoded by ffmpeg
(libx264 veryfast, 2.5 Mbit/s, 1 s GOP, AAC tones 440 Hz and 1 kHz); their CPU is not counted.

Usage: scripts/bench-mix.py [--seconds 60] [--work /tmp/liverec-bench/mix]
"""
import argparse, glob, importlib.util, json, os, shutil, statistics, subprocess, sys, threading, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
spec = importlib.util.spec_from_file_location("bench_ingest", os.path.join(ROOT, "scripts", "bench-ingest.py"))
bi = importlib.util.module_from_spec(spec)
spec.loader.exec_module(bi)

W, H, FPS = 1280, 720, 30
BITS, BLOCK, X0, Y0 = 40, 24, 16, 16


def stamp(frame, ms):
    """Writes `ms` into the luma plane of `frame` (a bytearray of I420) as BITS blocks."""
    for bit in range(BITS):
        value = 235 if (ms >> (BITS - 1 - bit)) & 1 else 16
        x = X0 + bit * BLOCK
        row = bytes([value]) * (BLOCK - 4)
        for y in range(Y0 + 2, Y0 + BLOCK - 2):
            at = y * W + x + 2
            frame[at:at + BLOCK - 4] = row


def read_stamp(gray):
    ms = 0
    for bit in range(BITS):
        x, y = X0 + bit * BLOCK + BLOCK // 2, Y0 + BLOCK // 2
        ms = (ms << 1) | (1 if gray[y * W + x] > 128 else 0)
    return ms


def pusher(url, luma, tone, stop):
    """Makes frames of plain `luma` (U, V neutral) with the clock burnt in, at FPS, pushed by ffmpeg."""
    enc = subprocess.Popen(
        ["ffmpeg", "-hide_banner", "-v", "error", "-f", "rawvideo", "-pix_fmt", "yuv420p", "-s", f"{W}x{H}",
         "-r", str(FPS), "-i", "pipe:0", "-re", "-f", "lavfi", "-i", f"sine=f={tone}:r=44100",
         "-map", "0:v", "-map", "1:a", "-c:v", "libx264", "-preset", "veryfast", "-tune", "zerolatency",
         "-b:v", "2500k", "-g", str(FPS), "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest", "-f", "flv", url],
        stdin=subprocess.PIPE, stdout=subprocess.DEVNULL)
    frame = bytearray(bytes([luma]) * (W * H) + bytes([128]) * (W * H // 2))
    start, n = time.time(), 0
    try:
        while not stop.is_set():
            due = start + n / FPS
            pause = due - time.time()
            if pause > 0:
                time.sleep(pause)
            stamp(frame, int(time.time() * 1000) & ((1 << BITS) - 1))
            enc.stdin.write(frame)
            n += 1
    except BrokenPipeError:
        pass
    finally:
        enc.stdin.close()
        enc.wait()


def recording_of(scratch, stream):
    """The FLV being written for `stream` (its sidecar names the stream)."""
    for sidecar in glob.glob(os.path.join(scratch, "*.flv.json")):
        try:
            if json.load(open(sidecar))["stream"]["stream"] == stream:
                return sidecar[:-len(".json")]
        except (OSError, ValueError, KeyError):
            pass
    return None


def watch_output(scratch, stream, stop, latencies):
    """Decodes `stream`'s growing FLV recording; records wall clock − burnt-in clock per picture."""
    path = None
    while path is None and not stop.is_set():
        path = recording_of(scratch, stream)
        time.sleep(0.1)
    if path is None:
        return
    dec = subprocess.Popen(["ffmpeg", "-v", "error", "-threads", "1", "-f", "flv", "-i", "pipe:0", "-f", "rawvideo",
                            "-pix_fmt", "gray", "pipe:1"], stdin=subprocess.PIPE, stdout=subprocess.PIPE)

    def feed():
        with open(path, "rb") as f:
            while not stop.is_set():
                chunk = f.read(1 << 16)
                if chunk:
                    dec.stdin.write(chunk)
                    dec.stdin.flush()
                else:
                    time.sleep(0.01)
        dec.stdin.close()

    threading.Thread(target=feed, daemon=True).start()
    size = W * H
    while True:
        picture = dec.stdout.read(size)
        if len(picture) < size:
            break
        now = int(time.time() * 1000) & ((1 << BITS) - 1)
        latencies.append(now - read_stamp(picture))
    dec.wait()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--work", default="/tmp/liverec-bench/mix")
    args = ap.parse_args()
    shutil.rmtree(args.work, ignore_errors=True)
    os.makedirs(args.work)
    subprocess.run(["cargo", "build", "--release", "--quiet", "--bin", "liverec"], cwd=ROOT, check=True)
    liverec = os.path.join(ROOT, "target", "release", "liverec")
    data = os.path.join(args.work, "data")
    log = open(data + ".log", "w")
    server = subprocess.Popen([liverec, "serve", "--data", data, "--http", bi.HTTP, "--rtmp",
                               f"127.0.0.1:{bi.RTMP_PORT}"], stdout=log, stderr=log, start_new_session=True,
                              env={**os.environ, "RUST_LOG": os.environ.get("BENCH_LOG", "warn")})
    bi.wait_port(bi.RTMP_PORT)
    t = bi.api("CreateLiveRecordTemplate", {"TemplateName": "flv", "FlvParam": {"Enable": 1, "RecordInterval": 3600}})
    for stream in ["a", "c"]:
        bi.api("CreateLiveRecordRule", {"DomainName": "localhost", "AppName": "live", "StreamName": stream,
                                        "TemplateId": t["TemplateId"]})
    bi.api("CreateCommonMixStream", {
        "MixStreamSessionId": "bench",
        "InputStreamList": [
            {"InputStreamName": "a", "LayoutParams": {"ImageLayer": 1}},
            {"InputStreamName": "b", "LayoutParams": {"ImageLayer": 2, "ImageWidth": 0.5, "ImageHeight": 0.5,
                                                      "LocationX": 0.5, "LocationY": 0.5}}],
        "OutputParams": {"OutputStreamName": "c", "OutputStreamType": 1, "OutputStreamFrameRate": FPS}})
    stop = threading.Event()
    url = f"rtmp://127.0.0.1:{bi.RTMP_PORT}/live/"
    threads = [threading.Thread(target=pusher, args=(url + "a", 81, 440, stop)),
               threading.Thread(target=pusher, args=(url + "b", 41, 1000, stop))]
    latencies, direct = [], []
    scratch = os.path.join(data, ".scratch")
    threads.append(threading.Thread(target=watch_output, args=(scratch, "c", stop, latencies)))
    threads.append(threading.Thread(target=watch_output, args=(scratch, "a", stop, direct)))
    for th in threads:
        th.start()
    time.sleep(10)  # the mix starts, settles
    pids = bi.tree(server.pid)
    engines = [p for p in pids if p != server.pid]
    c0, t0, n0, d0 = bi.cpu(pids), time.time(), len(latencies), len(direct)
    time.sleep(args.seconds)
    c1, t1 = bi.cpu(bi.tree(server.pid)), time.time()
    window, baseline = latencies[n0:], sorted(direct[d0:])
    stop.set()
    for th in threads:
        th.join()
    bi.stop(server)
    share = (c1 - c0) / (t1 - t0)
    print(f"engine processes: {len(engines)}; pictures read back: {len(window)} of {int(args.seconds * FPS)}")
    print(f"CPU (liverec + engine), share of one core: {share:.3f}  (target <= 0.7)")
    if window:
        window.sort()
        p95 = window[int(len(window) * 0.95) - 1]
        print(f"latency A → C (pusher to decoded recording), ms: median {statistics.median(window):.0f}, p95 {p95}")
    if window and baseline:
        added = statistics.median(window) - statistics.median(baseline)
        print(f"latency A → A's own recording, same path without the mix, ms: median {statistics.median(baseline):.0f}")
        print(f"latency the mix adds (input to output), ms: median {added:.0f}  (target <= 1000)")
    sys.exit(0 if window else 1)


if __name__ == "__main__":
    main()
