#!/usr/bin/env python3
"""Ingest protocols benchmark (on demand, not part of the tests): RTMPS and SRT against RTMP.

Part 1 — server CPU per stream-minute of one `liverec serve` (release) recording FLV + HLS from N
`ffmpeg -re -stream_loop -1` pushers of the same 2.7 Mbit/s 720p H.264 + AAC clip over RTMP, RTMPS
(a self-signed certificate) and SRT (the clip remuxed to MPEG-TS; `-srt_streamid`, `-linger 2`),
for N = 10 and 50, interleaved in rounds (RTMP, RTMPS, SRT, then the reverse), measured over the
steady window as `scripts/bench-ingest.py` measures (its helpers, and its hot memory state).
Printed: medians, single runs, RTMPS / RTMP and SRT / RTMP.

Part 2 — SRT loss: --loss-streams (50) SRT pushers each send the 30 s TS clip once, in real time;
every video and audio frame they sent must be in the stream's FLV recording (tags counted, minus
the two sequence headers at its head).

Usage: scripts/bench-protocols.py [--ns 10,50] [--seconds 40] [--repeat 2] [--loss-streams 50]
       [--protocols rtmp,rtmps,srt] [--work /tmp/liverec-bench/protocols]
About 15 minutes with the defaults.
"""
import argparse, glob, importlib.util, json, os, shutil, signal, statistics, subprocess, sys, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
spec = importlib.util.spec_from_file_location("bench_ingest", os.path.join(ROOT, "scripts", "bench-ingest.py"))
bi = importlib.util.module_from_spec(spec)
spec.loader.exec_module(bi)

RTMPS_PORT = 19361
SRT_PORT = 19371


class Pushers(bi.FfmpegPushers):
    """N ffmpeg pushers of `clip` to `target(k)` (a list of output arguments), started over 2 s,
    stopped with SIGTERM after `seconds` (None: left to end by themselves)."""

    def __init__(self, clip, target, n, seconds, loop=True):  # pylint: disable=super-init-not-called
        self.procs = []
        for k in range(n):
            loop_args = ["-stream_loop", "-1"] if loop else []
            self.procs.append(subprocess.Popen(
                ["ffmpeg", "-hide_banner", "-nostdin", "-v", "error", "-re"] + loop_args + ["-i", clip,
                 "-c", "copy"] + target(k), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL))
            time.sleep(2 / max(n, 1))
        self.deadline = time.time() + seconds if seconds else None
        self.pid = None
        self.stdout = None

    def poll(self):
        if self.deadline is None:
            return 0 if all(p.poll() is not None for p in self.procs) else None
        return super().poll()


def target(protocol):
    if protocol == "rtmp":
        return lambda k: ["-f", "flv", f"rtmp://127.0.0.1:{bi.RTMP_PORT}/both/s{k}"]
    if protocol == "rtmps":
        return lambda k: ["-f", "flv", f"rtmps://127.0.0.1:{RTMPS_PORT}/both/s{k}"]
    return lambda k: ["-f", "mpegts", "-linger", "2", "-srt_streamid", f"#!::r=both/s{k},m=publish",
                      f"srt://127.0.0.1:{SRT_PORT}"]


def certificate(work):
    cert, key = os.path.join(work, "cert.pem"), os.path.join(work, "key.pem")
    if not os.path.exists(cert):
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                        "-days", "30", "-subj", "/CN=localhost", "-keyout", key, "-out", cert], check=True,
                       capture_output=True)
    return cert, key


def start(liverec, work, data):
    """liverec with RTMP, RTMPS and SRT, FLV + HLS for app `both`."""
    cert, key = certificate(work)
    config = os.path.join(work, "protocols.toml")
    open(config, "w").write(f'[limits]\nmax_connections_per_ip = 5000\n[tls]\ncert_file = "{cert}"\n'
                            f'key_file = "{key}"\n')
    shutil.rmtree(data, ignore_errors=True)
    os.makedirs(data)
    log = open(data + ".log", "w")
    p = subprocess.Popen([liverec, "serve", "--data", data, "--http", bi.HTTP, "--rtmp", f"127.0.0.1:{bi.RTMP_PORT}",
                          "--rtmps", f"127.0.0.1:{RTMPS_PORT}", "--srt", f"127.0.0.1:{SRT_PORT}", "--config", config],
                         stdout=log, stderr=log, start_new_session=True, env={**os.environ, "RUST_LOG": "warn"})
    bi.wait_port(bi.RTMP_PORT)
    t = bi.api("CreateLiveRecordTemplate", {"TemplateName": "flv_hls", "FlvParam": {"Enable": 1, "RecordInterval": 1800},
                                            "HlsParam": {"Enable": 1}})
    bi.api("CreateLiveRecordRule", {"DomainName": "localhost", "AppName": "both", "TemplateId": t["TemplateId"]})
    return p


def one_case(args, liverec, clips, protocol, n):
    data = os.path.join(args.work, "data")
    server = start(liverec, args.work, data)
    time.sleep(1)
    clip = clips["ts" if protocol == "srt" else "flv"]
    rate = os.path.getsize(clip) / 60
    memory = bi.HotMemory(args.work, n * rate * 2.2 / 2**20, args.seconds)
    # bench-ingest's measure() with these pushers in place of its own.
    original = bi.FfmpegPushers
    bi.FfmpegPushers = lambda _clip, _url, n_, seconds: Pushers(clip, target(protocol), n_, seconds)
    try:
        port = RTMPS_PORT if protocol == "rtmps" else bi.RTMP_PORT
        r = bi.measure(server.pid, liverec, clip, f"rtmp://127.0.0.1:{port}/both/s", n, args.seconds,
                       pusher="ffmpeg", memory=memory)
    finally:
        bi.FfmpegPushers = original
    bi.stop(server)
    shutil.rmtree(data, ignore_errors=True)
    return dict(protocol=protocol, n=n, cpu_per_stream_min=r["cpu"] / r["stream_min"],
                mem_per_stream_mib=(r["peak"] - r["rss0"]) / 1024 / n, memory=r["memory"])


def loss(args, liverec, ts30):
    """Part 2: every frame of N one-shot SRT pushes recorded."""
    n = args.loss_streams
    data = os.path.join(args.work, "data")
    server = start(liverec, args.work, data)
    time.sleep(1)
    counts = subprocess.run(["ffprobe", "-v", "error", "-count_packets", "-show_entries",
                             "stream=index,nb_read_packets", "-of", "json", ts30], capture_output=True, text=True)
    # A TS stream is listed under its program too: once per index.
    sent = sum({s["index"]: int(s["nb_read_packets"]) for s in json.loads(counts.stdout)["streams"]}.values())
    pushers = Pushers(ts30, target("srt"), n, None, loop=False)
    t0 = bi.cpu(bi.tree(server.pid))
    while pushers.poll() is None:
        time.sleep(0.5)
    time.sleep(3)
    c = bi.cpu(bi.tree(server.pid)) - t0
    bi.stop(server)
    lost = []
    for k in range(n):
        flvs = glob.glob(os.path.join(data, "localhost", "both", f"s{k}", "*.flv"))
        got = sum(bi.flv_tags(f) - 2 for f in flvs)
        lost.append(max(0, sent - got))
    shutil.rmtree(data, ignore_errors=True)
    return dict(streams=n, frames_per_stream=sent, lost_total=sum(lost), worst=max(lost),
                cpu_per_stream_min=c / (n * 30 / 60))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ns", default="10,50")
    ap.add_argument("--seconds", type=float, default=40)
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--loss-streams", type=int, default=50)
    ap.add_argument("--protocols", default="rtmp,rtmps,srt")
    ap.add_argument("--work", default="/tmp/liverec-bench/protocols")
    args = ap.parse_args()
    os.makedirs(args.work, exist_ok=True)
    subprocess.run(["cargo", "build", "--release", "--quiet", "--bin", "liverec"], cwd=ROOT, check=True)
    liverec = os.path.join(ROOT, "target", "release", "liverec")
    flv = bi.media(args.work)
    ts = os.path.join(args.work, "clip60.ts")
    ts30 = os.path.join(args.work, "clip30.ts")
    for out, extra in [(ts, []), (ts30, ["-t", "30"])]:
        if not os.path.exists(out):
            subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", flv] + extra + ["-c", "copy", "-f", "mpegts", out],
                           check=True)
    clips = {"flv": flv, "ts": ts}
    rows = []
    order = args.protocols.split(",")
    for n in [int(x) for x in args.ns.split(",")]:
        for round_ in range(args.repeat):
            for protocol in (order if round_ % 2 == 0 else list(reversed(order))):
                row = one_case(args, liverec, clips, protocol, n)
                rows.append(row)
                print(json.dumps(row), flush=True)
                with open(os.path.join(args.work, "results.jsonl"), "a") as f:
                    f.write(json.dumps(row) + "\n")
    print("\nCPU-s per stream-minute (medians; single runs):")
    for n in sorted({r["n"] for r in rows}):
        med = {}
        for p in order:
            vals = [r["cpu_per_stream_min"] for r in rows if r["n"] == n and r["protocol"] == p]
            med[p] = statistics.median(vals)
            mem = statistics.median([r["mem_per_stream_mib"] for r in rows if r["n"] == n and r["protocol"] == p])
            print(f"  N={n:4d} {p:6s} {med[p]:.4f} ({', '.join(f'{v:.4f}' for v in vals)}) {mem:.2f} MiB/stream")
        for p in order[1:]:
            ratio = f"{med[p] / med[order[0]]:.2f}x" if med[order[0]] else "n/a"
            print(f"  N={n:4d} {p.upper()} / {order[0].upper()} = {ratio}")
    if args.loss_streams:
        result = loss(args, liverec, ts30)
        print("\nSRT loss:", json.dumps(result))
        with open(os.path.join(args.work, "results.jsonl"), "a") as f:
            f.write(json.dumps(dict(loss=result)) + "\n")


if __name__ == "__main__":
    main()
