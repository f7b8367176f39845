#!/usr/bin/env python3
"""Live-ingest benchmark (on demand, not part of the tests).

Part 1 — CPU per stream-minute against the anchors, same run, same load, interleaved: the kernel's
own cost (the anchor's C sink, `../shared/anchors/limit/`, variant B: every received byte appended
to two files per connection, as FLV + HLS recording does, fed by its own paced source at the clip's
bit rate), nginx-rtmp (Debian libnginx-mod-rtmp, the anchor's config, app `both` = FLV record + HLS)
and `liverec serve` (a template with FLV + HLS), the servers under the anchor's load: N
`ffmpeg -re` pushers of a 2.7 Mbit/s 720p H.264 + AAC clip (or `--pusher bench`: liverec bench
publish). CPU (utime + stime of the process tree from /proc) over the steady window [8, seconds - 1]
s, divided by the stream-minutes in it; memory per stream = (peak RSS in the window - idle RSS) / N.
Memory state: these VMs hand freed pages back to the host, and a write to such a page costs a host
fault charged to the writer; each case therefore runs in the limit harness's "hot" state (memtouch
feeds host-backed pages 1.25 x as fast as the case writes; `--no-memory-control` leaves it to chance;
free and reported memory are logged either way). Files: a finished case's files are emptied
(truncated: their blocks and page cache are freed, as by deleting) and set aside, and deleted only when the
benchmark ends; see `retire`. Rounds run the servers in ABBA order, so each runs
right after another's run; each case is logged with the server it followed (WORK/results.jsonl).
Printed: medians, single runs, liverec / sink, nginx / liverec, the rise from the smallest to the
largest N of each, and memory per stream.

Part 2 — scale: liverec alone, --big streams (200 and 1,000) of a 1 Mbit/s clip from `liverec bench
publish` for --big-seconds: zero frames lost (every audio/video tag the publisher sent is in the FLV
recordings, counted by walking the tags), CPU per stream-minute and RSS per stream.

With --storage s3, liverec is also measured recording to an S3 server (`s3s-fs` on
loopback, installed with `cargo install s3s-fs --version 0.14.1 --features binary
--locked` when missing) in the same loop, and liverec-s3 / liverec (local disk) is
printed, with the frames lost (FLV tags sent against tags in the FLV objects).

With --baseline PATH, a second liverec binary (an earlier build) is measured in the same
loop under the same load, and liverec / baseline is printed: an A/B of a change.

Usage: scripts/bench-ingest.py [--ns 10,50,100] [--seconds 45] [--repeat 2] [--big 200,1000]
       [--big-seconds 60] [--skip-nginx] [--skip-sink] [--skip-big] [--pusher ffmpeg|bench]
       [--no-memory-control] [--work /tmp/liverec-bench/ingest] [--baseline target/base/liverec]
       [--storage s3]
Needs ffmpeg and gcc; nginx + libnginx-mod-rtmp are installed with apt-get when missing (root).
About 25 minutes with the defaults.
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


def media(work, name="clip60.flv", kbps=2500, size="1280x720"):
    """A 60 s H.264 + AAC clip at about `kbps` + 128 kbit/s (as the anchor's make-media.sh: libx264
    ultrafast, keyframe every 2 s)."""
    clip = os.path.join(work, name)
    if not os.path.exists(clip):
        os.makedirs(work, exist_ok=True)
        subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", f"testsrc2=size={size}:rate=30",
                        "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000", "-t", "60",
                        "-c:v", "libx264", "-preset", "ultrafast", "-b:v", f"{kbps}k", "-maxrate", f"{kbps}k",
                        "-bufsize", f"{2 * kbps}k", "-g", "60", "-pix_fmt", "yuv420p",
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


def meminfo_mib(key):
    for line in open("/proc/meminfo"):
        if line.startswith(key + ":"):
            return round(int(line.split()[1]) / 1024)
    return None


def reported_mib():
    try:
        return round(int(open("/sys/module/page_reporting/parameters/reported_kib").read()) / 1024)
    except (OSError, ValueError):
        return None


class HotMemory:
    """The memory state of the anchor's limit harness (`limit/run.py`, "hot"): on these VMs a freed
    guest page goes back to the host and the first write to it afterwards costs a host fault charged
    to the writer. memtouch touches enough memory before the case and gives it back during the case
    1.25 x as fast as the server writes, so page-cache writes land on host-backed pages, as on bare
    metal. Logs free and reported memory around the case."""

    def __init__(self, work, write_mib_s, seconds, enabled=True):
        self.proc, self.log = None, {"free_mib_before": meminfo_mib("MemFree"), "reported_mib_before": reported_mib()}
        if not enabled:
            return
        exe = os.path.join(work, "memtouch")
        src = os.path.join(ANCHORS, "limit", "memtouch.c")
        if not os.path.exists(exe) or os.path.getmtime(exe) < os.path.getmtime(src):
            subprocess.run(["gcc", "-O2", "-o", exe, src], check=True, timeout=120)
        feed = 1.25 * write_mib_s
        mb = min(8192, 512 + int(feed * (seconds + 10)))
        self.proc = subprocess.Popen([exe, str(mb), str(seconds + 30), f"{feed:.3f}"], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True)
        self.log["touched"] = json.loads(self.proc.stdout.readline() or "null")
        self.log["feed_mib_s"] = round(feed, 2)

    def go(self):
        if self.proc:
            self.proc.stdin.write("go\n")
            self.proc.stdin.close()

    def end(self):
        self.log.update(free_mib_after=meminfo_mib("MemFree"), reported_mib_after=reported_mib())
        if self.proc:
            if self.proc.poll() is None:
                self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.log


def measure(server_pid, liverec, clip, url, n, seconds, pusher="bench", warm=8.0, memory=None):
    """Server CPU over the steady window [warm, seconds - 1] s after the pushers start (as the limit
    harness measures its sink), RSS (idle before, peak in the window), and the whole run's CPU until
    the server idles again (closing, storing and indexing its files)."""
    pids = tree(server_pid)
    rss0, c_start = rss_kib(pids), cpu(pids)
    if memory:
        memory.go()
    t0 = time.time()
    pub = FfmpegPushers(clip, url, n, seconds) if pusher == "ffmpeg" else publish(liverec, clip, url, n, seconds)
    peak, pub_cpu, w0, w1 = rss0, 0.0, None, None
    while pub.poll() is None:
        now = time.time()
        pids = tree(server_pid)
        if w0 is None and now >= t0 + warm:
            w0 = (now, cpu(pids))
        if w0 is not None and w1 is None:
            peak = max(peak, rss_kib(pids))
            if now >= t0 + seconds - 1:
                w1 = (now, cpu(pids))
        pub_cpu = (pub.cpu() if pusher == "ffmpeg" else cpu({pub.pid})) or pub_cpu
        time.sleep(0.25)
    summary = json.loads(pub.stdout.read() or "{}") if pub.stdout else {}
    # A server behind real time (the disk's writeback throttling it) still has bytes in its
    # sockets: it has recorded everything once it has read every connection to its end.
    port = url.split("/")[2].rsplit(":", 1)[1]
    deadline = time.time() + 600
    while time.time() < deadline:
        out = subprocess.run(["ss", "-Htn", "state", "established", f"( sport = :{port} )"], capture_output=True,
                             text=True).stdout
        if not out.strip():
            break
        time.sleep(1)
    c1, deadline = cpu(tree(server_pid)), time.time() + 120
    while time.time() < deadline:
        time.sleep(1)
        now = cpu(tree(server_pid))
        if now - c1 < 0.02:
            break
        c1 = now
    if w0 is None or w1 is None:
        w0, w1 = (t0, c_start), (time.time(), c1)
    window_min = (w1[0] - w0[0]) / 60
    return dict(cpu=w1[1] - w0[1], stream_min=n * window_min, whole_cpu=c1 - c_start,
                whole_stream_min=n * seconds / 60, rss0=rss0, peak=peak, publisher=summary, publisher_cpu=pub_cpu,
                memory=memory.end() if memory else None)


def run_sink(args, clip, n):
    """The anchor's C sink (`../shared/anchors/limit/`, variant B: two files per connection, every
    received byte appended to both, as FLV + HLS recording) at N streams of the same clip's bytes, with
    its own paced source and memory control; its CPU-s per stream-minute and peak RSS."""
    out = os.path.join(args.work, "limit.jsonl")
    subprocess.run([sys.executable, os.path.join(ANCHORS, "limit", "run.py"), "--cases", "B", "--ns", str(n),
                    "--reps", "1", "--seconds", str(args.seconds), "--warm", "8", "--input", clip,
                    "--media-seconds", "60", "--work", os.path.join(args.work, "limit"), "--out", out,
                    "--port", "19352"], check=True, stdout=subprocess.DEVNULL)
    row = json.loads(open(out).read().strip().splitlines()[-1])
    return row["cpu_s_per_stream_min"], row.get("peak_rss_mib"), row.get("mem")


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


def bench_config(work, s3=False):
    """The server's config file for the benchmark: every pusher comes from 127.0.0.1, so the
    per-address connection limit is raised; with `s3`, recordings go to s3s-fs."""
    path = os.path.join(work, "s3.toml" if s3 else "bench.toml")
    text = "[limits]\nmax_connections_per_ip = 5000\n"
    if s3:
        text += (f'[storage]\nurl = "s3://rec/bench"\nendpoint = "http://127.0.0.1:{S3_PORT}"\nregion = "us-east-1"\n'
                 f'path_style = true\nallow_http = true\naccess_key_id = "{S3_KEYS[0]}"\n'
                 f'secret_access_key = "{S3_KEYS[1]}"\n')
    open(path, "w").write(text)
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


def retire(work, path):
    """Empties a finished case's files and moves them aside (deleted by `purge` when the benchmark ends).
    On ext4 without a journal (these VMs), every file creation scans the block group's inode bitmap from
    its start and skips each inode deleted in the last 60 s (360 s while its inode table block is dirty),
    reading its dtime: a case that creates files (HLS segments, one per stream every 6 s) right after the
    previous case deleted thousands pays for them on every creation, more after a larger N (profiled at
    N = 100: `recently_deleted` 6.6 % of liverec's CPU after a deletion, 1.1 % without). Truncating frees
    the data blocks and page cache as deleting does, without freeing the inodes."""
    if not os.path.exists(path):
        return
    for dirpath, _, files in os.walk(path):
        for name in files:
            try:
                os.truncate(os.path.join(dirpath, name), 0)
            except OSError:
                pass
    trash = os.path.join(work, "trash")
    os.makedirs(trash, exist_ok=True)
    os.rename(path, os.path.join(trash, f"{os.path.basename(path)}-{time.time_ns()}"))


def purge(work):
    shutil.rmtree(os.path.join(work, "trash"), ignore_errors=True)


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
    ap.add_argument("--ns", default="10,50,100")
    ap.add_argument("--seconds", type=float, default=45)
    ap.add_argument("--big", default="200,1000", help="streams for part 2 (bench publish, 1 Mbit/s); empty: skip")
    ap.add_argument("--big-seconds", type=float, default=60)
    ap.add_argument("--skip-nginx", action="store_true")
    ap.add_argument("--skip-sink", action="store_true")
    ap.add_argument("--skip-big", action="store_true")
    ap.add_argument("--work", default="/tmp/liverec-bench/ingest")
    ap.add_argument("--baseline", help="another liverec binary to measure in the same loop (A/B)")
    ap.add_argument("--repeat", type=int, default=2, help="measurements per server and N, interleaved (ABBA)")
    ap.add_argument("--storage", choices=["local", "s3"], default="local",
                    help="s3: also measure liverec recording to s3s-fs, against local disk")
    ap.add_argument("--pusher", choices=["bench", "ffmpeg"], default="ffmpeg",
                    help="load for part 1: N ffmpeg -re pushers as in the anchor, or liverec bench publish")
    ap.add_argument("--no-memory-control", action="store_true",
                    help="leave the memory state to chance (logged) instead of the limit harness's hot state")
    args = ap.parse_args()
    subprocess.run(["cargo", "build", "--release", "--quiet", "--bin", "liverec"], cwd=ROOT, check=True)
    liverec = os.path.join(ROOT, "target", "release", "liverec")
    clip = media(args.work)
    data = os.path.join(args.work, "data")
    servers = ([] if args.skip_sink else ["sink"]) + ([] if args.skip_nginx else ["nginx"]) + \
        (["baseline"] if args.baseline else []) + ["liverec"]
    s3_root = os.path.join(args.work, "s3")
    s3 = None
    if args.storage == "s3":
        servers.append("liverec-s3")
        s3 = start_s3(s3_root)
    try:
        run(args, servers, liverec, clip, data, s3_root, s3)
    finally:
        purge(args.work)


def run(args, servers, liverec, clip, data, s3_root, s3):
    rows = []
    try:
        rows = part1(args, servers, liverec, clip, data, s3_root)
    finally:
        if s3:
            stop(s3)
            shutil.rmtree(s3_root, ignore_errors=True)
    if rows:
        report(args, rows)
    if not args.skip_big:
        for n in [int(x) for x in args.big.split(",") if x]:
            part2(args, liverec, n, data)


def one_case(args, name, liverec, clip, data, n):
    """One measurement of server `name` at N streams: a dict with cpu_per_stream_min and, for the
    servers, mem_per_stream_mib and frames lost (liverec-s3)."""
    if name == "sink":
        v, rss, mem = run_sink(args, clip, n)
        return dict(cpu_per_stream_min=v, peak_rss_mib=rss, memory=mem)
    rate = os.path.getsize(clip) / 60
    memory = HotMemory(args.work, n * rate * 2.2 / 2**20, args.seconds, enabled=not args.no_memory_control)
    if name == "nginx":
        server = start_nginx(os.path.join(args.work, "nginx"))
        url = "rtmp://127.0.0.1:1935/both/s"
    else:
        config = bench_config(args.work, s3=name == "liverec-s3")
        server = start_liverec(args.baseline if name == "baseline" else liverec, data, config)
        url = f"rtmp://127.0.0.1:{RTMP_PORT}/both/s"
    time.sleep(1)
    r = measure(server.pid, liverec, clip, url, n, args.seconds, pusher=args.pusher, memory=memory)
    stop(server)
    out = dict(cpu_per_stream_min=r["cpu"] / r["stream_min"], whole_run=r["whole_cpu"] / r["whole_stream_min"],
               mem_per_stream_mib=(r["peak"] - r["rss0"]) / 1024 / n, peak_rss_mib=r["peak"] / 1024,
               failures=r["publisher"].get("failures") or 0, memory=r["memory"])
    if name == "liverec-s3":
        s3_root = os.path.join(args.work, "s3")
        flvs = [f for f in glob.glob(os.path.join(s3_root, "rec", "bench", "localhost", "both", "*", "*.flv"))
                if not os.path.basename(f).startswith(".")]
        out["frames_lost"] = r["publisher"].get("framesSent", 0) - sum(flv_tags(f) for f in flvs)
        retire(args.work, os.path.join(s3_root, "rec", "bench"))
    retire(args.work, os.path.join(args.work, "nginx"))
    retire(args.work, data)
    return out


def part1(args, servers, liverec, clip, data, s3_root):
    rows = []
    log = open(os.path.join(args.work, "results.jsonl"), "a")
    for n in [int(x) for x in args.ns.split(",") if x]:
        cases = {name: [] for name in servers}
        for rep in range(args.repeat):
            # ABBA: every other round runs the servers in reverse order, so each runs both
            # right after one server and right after another (its deletion of GBs, its dirty pages).
            previous = None
            for name in (servers if rep % 2 == 0 else servers[::-1]):
                case = one_case(args, name, liverec, clip, data, n)
                case.update(n=n, server=name, rep=rep, after=previous, t=time.time())
                log.write(json.dumps(case) + "\n")
                log.flush()
                cases[name].append(case)
                previous = name
                subprocess.run(["sync"], timeout=300)
        row = {"n": n, "cases": cases}
        for name, v in cases.items():
            row[name] = statistics.median(c["cpu_per_stream_min"] for c in v)
            if name != "sink":
                row[name + "_mem"] = statistics.median(c["mem_per_stream_mib"] for c in v)
        rows.append(row)
        print(json.dumps({k: v for k, v in row.items() if k != "cases"}), flush=True)
    return rows


def report(args, rows):
    print(f"\nFLV + HLS recording, CPU-s per stream-minute over the steady window (same run; load: {args.pusher}"
          f" pushers; memory: {'left to chance' if args.no_memory_control else 'hot, as the limit harness'};"
          f" median of {args.repeat}, single runs in brackets)")
    names = [k for k in ("sink", "nginx", "baseline", "liverec", "liverec-s3") if rows and k in rows[0]]
    print("| N | " + " | ".join(names) + " | liverec / sink | nginx / liverec | liverec MiB per stream |"
          + (" nginx MiB per stream |" if "nginx" in names else ""))
    print("|---:|" + "---:|" * (len(names) + 3 + ("nginx" in names)))
    for row in rows:
        cells = [f"{row[k]:.4f} (" + ", ".join(f"{c['cpu_per_stream_min']:.4f}" for c in row["cases"][k]) + ")"
                 for k in names]
        sink, ng, lr = row.get("sink"), row.get("nginx"), row["liverec"]
        line = f"| {row['n']} | " + " | ".join(cells) + f" | {lr / sink:.2f}x | " if sink else \
            f"| {row['n']} | " + " | ".join(cells) + " | - | "
        line += (f"{ng / lr:.2f}x" if ng else "-") + f" | {row['liverec_mem']:.3f} |"
        if ng:
            line += f" {row['nginx_mem']:.3f} |"
        print(line)
    if len(rows) > 1:
        first, last = rows[0], rows[-1]
        for k in names:
            print(f"rise N={first['n']} -> N={last['n']}: {k} {last[k] / first[k]:.2f}x")
    for row in rows:
        for k in names:
            for c in row["cases"][k]:
                if c.get("after"):
                    print(f"  N={row['n']} {k} rep {c['rep']} after {c['after']}: {c['cpu_per_stream_min']:.4f}")
    if args.baseline:
        for row in rows:
            print(f"N={row['n']}: liverec / baseline = {row['liverec'] / row['baseline']:.3f}")
    if args.storage == "s3":
        print("\nliverec recording to S3 (s3s-fs on loopback) against local disk, same run:")
        for row in rows:
            rounds = [a["cpu_per_stream_min"] / b["cpu_per_stream_min"]
                      for a, b in zip(row["cases"]["liverec-s3"], row["cases"]["liverec"])]
            print(f"{row['n']:>5} streams: {row['liverec-s3'] / row['liverec']:.2f}x (medians); per round "
                  f"{', '.join(f'{r:.2f}' for r in rounds)}; FLV frames lost per round "
                  f"{[c.get('frames_lost') for c in row['cases']['liverec-s3']]}")


def part2(args, liverec, n, data):
    """liverec alone, N streams of a 1 Mbit/s clip from `liverec bench publish`: frames lost (every
    audio/video tag the publisher sent is in the FLV recordings), CPU and RSS per stream."""
    clip = media(args.work, "clip1m.flv", kbps=870, size="1280x720")
    lr = start_liverec(liverec, data, bench_config(args.work))
    time.sleep(2)
    r = measure(lr.pid, liverec, clip, f"rtmp://127.0.0.1:{RTMP_PORT}/both/s", n, args.big_seconds,
                pusher="bench", memory=HotMemory(args.work, 0, 0, enabled=False))
    stop(lr)
    flvs = glob.glob(os.path.join(data, "localhost", "both", "*", "*.flv"))
    recorded = sum(flv_tags(f) for f in flvs)
    sent = r["publisher"].get("framesSent", 0)
    per_stream = (r["peak"] - r["rss0"]) / 1024 / n
    print(f"\n{n} streams x {args.big_seconds:.0f} s at {os.path.getsize(clip) * 8 / 60e6:.2f} Mbit/s, FLV + HLS:"
          f" published {r['publisher'].get('published')} (failures {r['publisher'].get('failures')}),"
          f" frames sent {sent}, recorded in FLV {recorded}, lost {sent - recorded}; {len(flvs)} FLV files")
    print(f"server RSS idle {r['rss0'] / 1024:.1f} MiB, peak {r['peak'] / 1024:.1f} MiB -> {per_stream:.3f} MiB per"
          f" stream; CPU {r['cpu'] / r['stream_min']:.4f} CPU-s per stream-minute (steady window),"
          f" {r['whole_cpu'] / r['whole_stream_min']:.4f} over the whole run; publisher CPU"
          f" {r['publisher_cpu']:.1f} s; memory {r['memory']}", flush=True)
    retire(args.work, data)
    subprocess.run(["sync"], timeout=600)


if __name__ == "__main__":
    main()
