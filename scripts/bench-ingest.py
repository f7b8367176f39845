#!/usr/bin/env python3
"""Live-ingest benchmark (on demand, not part of the tests).

Part 1 — CPU per stream-minute against the anchor, same run, same load: nginx-rtmp
(Debian libnginx-mod-rtmp, the anchor's config, app `both` = FLV record + HLS) and
`liverec serve` (a template with FLV + HLS) each receive N streams from the same load
generator, `liverec bench publish`, replaying a 2.7 Mbit/s 720p H.264+AAC clip in real
time. Server CPU (utime+stime of the process tree from /proc) is divided by the stream
minutes pushed; the ratio nginx / liverec is printed.

Part 2 — scale: liverec alone with --big streams for --big-seconds: zero frames lost
(every audio/video tag the publisher sent is in the FLV recordings, counted by walking
the tags) and RSS per stream ((peak − idle) / N). Recordings are deleted afterwards.

With --storage s3, liverec is also measured recording to an S3 server (`s3s-fs` on
loopback, installed with `cargo install s3s-fs --version 0.14.1 --features binary
--locked` when missing) in the same loop, and liverec-s3 / liverec (local disk) is
printed, with the frames lost (FLV tags sent against tags in the FLV objects).

With --baseline PATH, a second liverec binary (an earlier build) is measured in the same
loop under the same load, and liverec / baseline is printed: an A/B of a change. With
--repeat K every server is measured K times per N, interleaved (in ABBA order), and medians
are printed.

Usage: scripts/bench-ingest.py [--ns 10,50] [--seconds 45] [--big 500] [--big-seconds 30]
       [--skip-nginx] [--skip-big] [--work /tmp/liverec-bench/ingest]
       [--baseline target/base/liverec] [--repeat 3] [--storage s3]
Needs ffmpeg; nginx + libnginx-mod-rtmp are installed with apt-get when missing (root).
"""
import argparse, glob, json, os, shutil, signal, statistics, struct, subprocess, sys, time, urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ANCHORS = os.path.join(ROOT, "..", "shared", "anchors")
TCK = os.sysconf("SC_CLK_TCK")
HTTP = "127.0.0.1:18091"
RTMP_PORT = 19351


def tree(pid):
    pids, frontier = {pid}, [pid]
    while frontier:
        parent = frontier.pop()
        for stat in glob.glob("/proc/[0-9]*/stat"):
            try:
                s = open(stat).read()
                if int(s[s.rindex(")") + 2:].split()[1]) == parent:
                    child = int(stat.split("/")[2])
                    if child not in pids:
                        pids.add(child)
                        frontier.append(child)
            except (OSError, ValueError):
                pass
    return pids


def cpu(pids):
    total = 0.0
    for pid in pids:
        try:
            s = open(f"/proc/{pid}/stat").read()
            f = s[s.rindex(")") + 2:].split()
            total += (int(f[11]) + int(f[12])) / TCK
        except (OSError, ValueError):
            pass
    return total


def rss_kib(pids):
    total = 0
    for pid in pids:
        try:
            for line in open(f"/proc/{pid}/status"):
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            pass
    return total


def wait_port(port, limit=15):
    deadline = time.time() + limit
    while time.time() < deadline:
        out = subprocess.run(["ss", "-ltn", f"sport = :{port}"], capture_output=True, text=True).stdout
        if f":{port}" in out:
            return
        time.sleep(0.1)
    sys.exit(f"nothing listens on {port}")


def media(work):
    clip = os.path.join(work, "clip60.flv")
    if not os.path.exists(clip):
        os.makedirs(work, exist_ok=True)
        # As the anchor's make-media.sh: libx264 ultrafast, 2.64 Mbit/s, keyframe every 2 s.
        subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc2=size=1280x720:rate=30",
                        "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000", "-t", "60",
                        "-c:v", "libx264", "-preset", "ultrafast", "-b:v", "2500k", "-maxrate", "2500k",
                        "-bufsize", "5000k", "-g", "60", "-pix_fmt", "yuv420p",
                        "-c:a", "aac", "-b:a", "128k", "-ac", "2", clip], check=True)
    return clip


def publish(liverec, clip, url, n, seconds):
    p = subprocess.Popen([liverec, "bench", "publish", "--streams", str(n), "--input", clip, "--url", url,
                          "--seconds", str(seconds), "--stagger", "2"], stdout=subprocess.PIPE, text=True)
    return p


class FfmpegPushers:
    """The anchor's own load: N `ffmpeg -re -stream_loop -1 -i CLIP -c copy -f flv URL{k}` processes,
    started over 2 s, stopped with SIGTERM after `seconds`. Quacks like the bench publisher's Popen."""

    def __init__(self, clip, url, n, seconds):
        self.procs = []
        for k in range(n):
            self.procs.append(subprocess.Popen(
                ["ffmpeg", "-hide_banner", "-nostdin", "-v", "error", "-re", "-stream_loop", "-1", "-i", clip,
                 "-c", "copy", "-f", "flv", f"{url}{k}"], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL))
            time.sleep(2 / max(n, 1))
        self.deadline = time.time() + seconds
        self.pid = None
        self.stdout = None

    def cpu(self):
        return cpu({p.pid for p in self.procs})

    def poll(self):
        if time.time() < self.deadline:
            return None
        for p in self.procs:
            p.send_signal(signal.SIGTERM)
        for p in self.procs:
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        return 0


def measure(server_pid, liverec, clip, url, n, seconds, sample_rss=False, pusher="bench"):
    pids = tree(server_pid)
    rss0 = rss_kib(pids)
    c0 = cpu(pids)
    pub = FfmpegPushers(clip, url, n, seconds) if pusher == "ffmpeg" else publish(liverec, clip, url, n, seconds)
    peak = rss0
    pub_cpu = 0.0
    while pub.poll() is None:
        pids = tree(server_pid)
        if sample_rss:
            peak = max(peak, rss_kib(pids))
        pub_cpu = (pub.cpu() if pusher == "ffmpeg" else cpu({pub.pid})) or pub_cpu
        time.sleep(0.5)
    summary = json.loads(pub.stdout.read() or "{}") if pub.stdout else {}
    # Let the server close, store (an S3 upload) and index its files: until it idles.
    c1, deadline = cpu(tree(server_pid)), time.time() + 120
    while time.time() < deadline:
        time.sleep(1)
        now = cpu(tree(server_pid))
        if now - c1 < 0.02:
            break
        c1 = now
    return dict(cpu=c1 - c0, stream_min=n * seconds / 60, rss0=rss0, peak=peak, publisher=summary, publisher_cpu=pub_cpu)


def api(action, body):
    req = urllib.request.Request(f"http://{HTTP}/", data=json.dumps(body).encode(), method="POST",
                                 headers={"X-TC-Action": action, "X-TC-Version": "2018-08-01",
                                          "Content-Type": "application/json"})
    return json.loads(urllib.request.urlopen(req).read())["Response"]


S3_PORT = 19400
S3_KEYS = ("bench", "bench-secret")


def start_s3(root):
    """s3s-fs on loopback serving bucket `rec` under root."""
    if not shutil.which("s3s-fs"):
        subprocess.run(["cargo", "install", "s3s-fs", "--version", "0.14.1", "--features", "binary", "--locked"],
                       check=True)
    shutil.rmtree(root, ignore_errors=True)
    os.makedirs(os.path.join(root, "rec"))
    p = subprocess.Popen(["s3s-fs", "--host", "127.0.0.1", "--port", str(S3_PORT), "--access-key", S3_KEYS[0],
                          "--secret-key", S3_KEYS[1], root], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                         start_new_session=True)
    wait_port(S3_PORT)
    return p


def s3_config(work):
    path = os.path.join(work, "s3.toml")
    open(path, "w").write(
        f'[storage]\nurl = "s3://rec/bench"\nendpoint = "http://127.0.0.1:{S3_PORT}"\nregion = "us-east-1"\n'
        f'path_style = true\nallow_http = true\naccess_key_id = "{S3_KEYS[0]}"\nsecret_access_key = "{S3_KEYS[1]}"\n')
    return path


def start_liverec(liverec, data, config=None):
    shutil.rmtree(data, ignore_errors=True)
    os.makedirs(data)
    log = open(data + ".log", "w")
    extra = ["--config", config] if config else []
    p = subprocess.Popen([liverec, "serve", "--data", data, "--http", HTTP, "--rtmp", f"127.0.0.1:{RTMP_PORT}"] + extra,
                         stdout=log, stderr=log, start_new_session=True, env={**os.environ, "RUST_LOG": "warn"})
    wait_port(RTMP_PORT)
    t = api("CreateLiveRecordTemplate", {"TemplateName": "flv_hls", "FlvParam": {"Enable": 1, "RecordInterval": 1800},
                                         "HlsParam": {"Enable": 1}})
    api("CreateLiveRecordRule", {"DomainName": "localhost", "AppName": "both", "TemplateId": t["TemplateId"]})
    return p


def stop(p):
    os.killpg(p.pid, signal.SIGTERM)
    try:
        p.wait(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        p.wait()


def start_nginx(base):
    if not os.path.exists("/usr/lib/nginx/modules/ngx_rtmp_module.so"):
        subprocess.run(["apt-get", "install", "-y", "-q", "nginx-light", "libnginx-mod-rtmp"], check=True,
                       stdout=subprocess.DEVNULL)
    for d in ("nginx", "rec", "hls"):
        shutil.rmtree(os.path.join(base, d), ignore_errors=True)
        os.makedirs(os.path.join(base, d))
        shutil.chown(os.path.join(base, d), "www-data", "www-data")
    conf = open(os.path.join(ANCHORS, "nginx-rtmp.conf.tmpl")).read().replace("@BASE@", base)
    path = os.path.join(base, "nginx", "nginx.conf")
    open(path, "w").write(conf)
    p = subprocess.Popen(["nginx", "-p", os.path.join(base, "nginx"), "-e", os.path.join(base, "nginx", "error.log"),
                          "-c", path], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    wait_port(1935)
    return p


def flv_tags(path):
    """Audio and video tags in an FLV file (walks the tag headers)."""
    count = 0
    with open(path, "rb") as f:
        head = f.read(9)
        if head[:3] != b"FLV":
            return 0
        f.seek(struct.unpack(">I", head[5:9])[0] + 4)
        while True:
            h = f.read(11)
            if len(h) < 11:
                return count
            size = int.from_bytes(h[1:4], "big")
            if h[0] & 0x1F in (8, 9):
                count += 1
            f.seek(size + 4, 1)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ns", default="10,50")
    ap.add_argument("--seconds", type=float, default=45)
    ap.add_argument("--big", type=int, default=500)
    ap.add_argument("--big-seconds", type=float, default=30)
    ap.add_argument("--skip-nginx", action="store_true")
    ap.add_argument("--skip-big", action="store_true")
    ap.add_argument("--work", default="/tmp/liverec-bench/ingest")
    ap.add_argument("--baseline", help="another liverec binary to measure in the same loop (A/B)")
    ap.add_argument("--repeat", type=int, default=1, help="measurements per server and N, interleaved")
    ap.add_argument("--storage", choices=["local", "s3"], default="local",
                    help="s3: also measure liverec recording to s3s-fs, against local disk")
    ap.add_argument("--pusher", choices=["bench", "ffmpeg"], default="bench",
                    help="load for part 1: liverec bench publish, or N ffmpeg -re pushers as in the anchor")
    args = ap.parse_args()
    subprocess.run(["cargo", "build", "--release", "--quiet", "--bin", "liverec"], cwd=ROOT, check=True)
    liverec = os.path.join(ROOT, "target", "release", "liverec")
    clip = media(args.work)
    data = os.path.join(args.work, "data")
    servers = ([] if args.skip_nginx else ["nginx"]) + (["baseline"] if args.baseline else []) + ["liverec"]
    s3_root = os.path.join(args.work, "s3")
    s3 = None
    if args.storage == "s3":
        servers.append("liverec-s3")
        s3 = start_s3(s3_root)
    rows = []
    try:
        rows = part1(args, servers, liverec, clip, data, s3_root)
    finally:
        if s3:
            stop(s3)
            shutil.rmtree(s3_root, ignore_errors=True)
    report(args, rows)
    if not args.skip_big:
        part2(args, liverec, clip, data)


def part1(args, servers, liverec, clip, data, s3_root):
    rows = []
    for n in [int(x) for x in args.ns.split(",") if x]:
        samples = {name: [] for name in servers}
        failures = 0
        lost = []
        for rep in range(args.repeat):
            # ABBA: every other round runs the servers in reverse order, so neither pays
            # for running right after the other's deletion of ~GBs.
            for name in (servers if rep % 2 == 0 else servers[::-1]):
                if name == "nginx":
                    server = start_nginx(os.path.join(args.work, "nginx"))
                    url = "rtmp://127.0.0.1:1935/both/s"
                else:
                    config = s3_config(args.work) if name == "liverec-s3" else None
                    server = start_liverec(args.baseline if name == "baseline" else liverec, data, config)
                    url = f"rtmp://127.0.0.1:{RTMP_PORT}/both/s"
                time.sleep(1)
                r = measure(server.pid, liverec, clip, url, n, args.seconds, pusher=args.pusher)
                stop(server)
                samples[name].append(r["cpu"] / r["stream_min"])
                failures += r["publisher"].get("failures") or 0
                if name == "liverec-s3":
                    flvs = [f for f in glob.glob(os.path.join(s3_root, "rec", "bench", "localhost", "both", "*", "*.flv"))
                            if not os.path.basename(f).startswith(".")]
                    sent = r["publisher"].get("framesSent", 0)
                    lost.append(sent - sum(flv_tags(f) for f in flvs))
                    shutil.rmtree(os.path.join(s3_root, "rec", "bench"), ignore_errors=True)
                shutil.rmtree(os.path.join(args.work, "nginx"), ignore_errors=True)
                shutil.rmtree(data, ignore_errors=True)
        row = {"n": n, "publisher_failures": failures, "samples": samples, "s3_frames_lost": lost}
        row.update({name: statistics.median(v) for name, v in samples.items()})
        rows.append(row)
        print(json.dumps(row), flush=True)
    return rows


def report(args, rows):
    print(f"\nFLV + HLS recording, server CPU-s per stream-minute (same run, load: {args.pusher} pushers,"
          f" median of {args.repeat})")
    print(f"{'N':>5} {'nginx-rtmp':>11} {'baseline':>9} {'liverec':>9} {'nginx/liverec':>14} {'liverec/baseline':>17}")
    for row in rows:
        ng, base, lr = row.get("nginx"), row.get("baseline"), row["liverec"]
        ratio = f"{ng / lr:.2f}x" if ng else "-"
        ab = f"{lr / base:.3f}" if base else "-"
        print(f"{row['n']:>5} {ng or float('nan'):>11.4f} {base or float('nan'):>9.4f} {lr:>9.4f} {ratio:>14} {ab:>17}")
    if args.storage == "s3":
        print("\nliverec recording to S3 (s3s-fs on loopback) against local disk, same run:")
        for row in rows:
            # Each round measures both back to back (ABBA): their ratio cancels most of a
            # shared machine's drift between rounds.
            rounds = [s3 / local for s3, local in zip(row["samples"]["liverec-s3"], row["samples"]["liverec"])]
            print(f"{row['n']:>5} streams: {row['liverec-s3']:.4f} vs {row['liverec']:.4f} CPU-s per stream-minute"
                  f" = {row['liverec-s3'] / row['liverec']:.2f}x (medians); per round "
                  f"{', '.join(f'{r:.2f}' for r in rounds)}, median {statistics.median(rounds):.2f}x;"
                  f" FLV frames lost per round {row['s3_frames_lost']}")


def part2(args, liverec, clip, data):
    n = args.big
    lr = start_liverec(liverec, data)
    time.sleep(2)
    r = measure(lr.pid, liverec, clip, f"rtmp://127.0.0.1:{RTMP_PORT}/both/s", n, args.big_seconds, sample_rss=True)
    stop(lr)
    flvs = glob.glob(os.path.join(data, "localhost", "both", "*", "*.flv"))
    recorded = sum(flv_tags(f) for f in flvs)
    sent = r["publisher"].get("framesSent", 0)
    per_stream = (r["peak"] - r["rss0"]) / 1024 / n
    print(f"\n{n} streams x {args.big_seconds:.0f} s, FLV + HLS: publisher published {r['publisher'].get('published')}"
          f" (failures {r['publisher'].get('failures')}), frames sent {sent}, recorded in FLV {recorded},"
          f" lost {sent - recorded}; {len(flvs)} FLV files")
    print(f"server RSS idle {r['rss0'] / 1024:.1f} MiB, peak {r['peak'] / 1024:.1f} MiB → {per_stream:.3f} MiB per stream;"
          f" server CPU {r['cpu']:.1f} s = {r['cpu'] / r['stream_min']:.4f} CPU-s per stream-minute;"
          f" publisher CPU {r['publisher_cpu']:.1f} s")
    shutil.rmtree(data, ignore_errors=True)


if __name__ == "__main__":
    main()
