#!/usr/bin/env python3
"""Time-range playback benchmark (on demand, not part of the tests).

An hour of one-minute MP4 recordings and a day of one-minute HLS recordings are put in
a liverec data directory (files made once with ffmpeg and `liverec remux`, index rows
written into the SQLite database of a stopped server), then a release `liverec serve`
is measured:

1. First byte of the 1-hour MP4 (`/playback/…/bench.mp4?start=…&end=…`, 60 files):
   time from sending the request to the first body byte, cold (a range not asked for
   before) — target ≤ 100 ms.
2. Serving that hour: the server's CPU (utime + stime from /proc) while a client reads
   the whole file, against the CPU of `cp` copying the same 60 files (same run,
   alternated, medians) — target ≤ 1.3× — and the server's RSS growth while serving it
   (peak − before) — target ≤ 16 MiB.
3. The 24-hour playlist over 1,440 one-minute HLS recordings
   (`/playback/…/day.m3u8?start=…&end=…`): request time, the first request (every
   playlist read and parsed) and the next ones (another range over the same recordings:
   the parsed final playlists are cached) — target ≤ 50 ms.

Usage: scripts/bench-playback.py [--rounds 3] [--work /tmp/liverec-bench/playback]
Needs ffmpeg; builds the release binary.
"""
import argparse, glob, http.client, os, shutil, signal, sqlite3, statistics, subprocess, sys, threading, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TCK = os.sysconf("SC_CLK_TCK")
PORT = 18095
T0 = 1_800_000_000_000  # 2027-01-15, Unix ms: the recordings' first minute
MINUTE = 60_000


def cpu(pid):
    s = open(f"/proc/{pid}/stat").read()
    f = s[s.rindex(")") + 2:].split()
    return (int(f[11]) + int(f[12])) / TCK


def rss_kib(pid):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def media(work, liverec):
    """A one-minute 720p H.264/AAC MP4 (liverec's own remux, moov-first)."""
    flv = os.path.join(work, "minute.flv")
    mp4 = os.path.join(work, "minute.mp4")
    if not os.path.exists(mp4):
        os.makedirs(work, exist_ok=True)
        subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc2=size=1280x720:rate=30",
                        "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000", "-t", "60",
                        "-c:v", "libx264", "-preset", "ultrafast", "-b:v", "2500k", "-maxrate", "2500k",
                        "-bufsize", "5000k", "-g", "60", "-pix_fmt", "yuv420p",
                        "-c:a", "aac", "-b:a", "128k", "-ac", "2", flv], check=True)
        subprocess.run([liverec, "remux", flv, "--to", "mp4", "--out", mp4], check=True,
                       stdout=subprocess.DEVNULL)
    return mp4


def serve(liverec, data):
    log = open(data + ".log", "w")
    p = subprocess.Popen([liverec, "serve", "--data", data, "--http", f"127.0.0.1:{PORT}",
                          "--rtmp", "127.0.0.1:19395"], stdout=log, stderr=log, start_new_session=True,
                         env={**os.environ, "RUST_LOG": "warn"})
    for _ in range(200):
        try:
            c = http.client.HTTPConnection("127.0.0.1", PORT, timeout=2)
            c.request("GET", "/healthz")
            if c.getresponse().status == 200:
                return p
        except OSError:
            time.sleep(0.05)
    sys.exit("liverec did not start")


def stop(p):
    os.killpg(p.pid, signal.SIGTERM)
    p.wait(timeout=30)


def row(conn, i, fmt, path, start, end, size):
    conn.execute(
        "INSERT INTO recordings (file_id, domain_name, app_name, stream_name, format, start_ms, end_ms,"
        " duration_ms, size_bytes, video_codec, audio_codec, width, height, task_id, template_id,"
        " storage_path, url, created_ms, expires_ms) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,NULL)",
        (f"{fmt}{i}", "localhost", "live", path.split("/")[2], fmt, start, end, end - start, size, "h264", "aac",
         1280, 720, "", 0, path, "http://127.0.0.1/vod/" + path, start))


def prepare(liverec, work):
    data = os.path.join(work, "data")
    shutil.rmtree(data, ignore_errors=True)
    os.makedirs(data)
    stop(serve(liverec, data))  # creates the database
    minute = media(work, liverec)
    size = os.path.getsize(minute)
    duration = MINUTE  # the clip is 60 s; its samples fill it
    conn = sqlite3.connect(glob.glob(os.path.join(data, "*.db"))[0])
    mp4_dir = os.path.join(data, "localhost/live/bench")
    os.makedirs(mp4_dir)
    sources = []
    for i in range(60):
        path = f"localhost/live/bench/m{i:02}.mp4"
        shutil.copyfile(minute, os.path.join(data, path))
        sources.append(os.path.join(data, path))
        row(conn, i, "mp4", path, T0 + i * duration, T0 + (i + 1) * duration, size)
    day_dir = os.path.join(data, "localhost/live/day")
    os.makedirs(day_dir)
    for i in range(1440):
        path = f"localhost/live/day/d{i:04}.m3u8"
        start = T0 + i * MINUTE
        pdt = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(start / 1000)) + ".000Z"
        lines = ["#EXTM3U", "#EXT-X-VERSION:3", "#EXT-X-TARGETDURATION:6", "#EXT-X-PLAYLIST-TYPE:VOD",
                 f"#EXT-X-PROGRAM-DATE-TIME:{pdt}"]
        for k in range(10):
            lines += ["#EXTINF:6.000,", f"d{i:04}_{k:05}.ts"]
        lines.append("#EXT-X-ENDLIST")
        with open(os.path.join(data, path), "w") as f:
            f.write("\n".join(lines) + "\n")
        row(conn, i, "hls", path, start, start + MINUTE, 1000)
    conn.commit()
    conn.close()
    return data, sources


def first_byte(path):
    c = http.client.HTTPConnection("127.0.0.1", PORT, timeout=60)
    t = time.perf_counter()
    c.request("GET", path)
    r = c.getresponse()
    r.read(1)
    elapsed = time.perf_counter() - t
    assert r.status == 200, (r.status, r.read(300))
    total = 1
    while True:
        chunk = r.read(1 << 20)
        if not chunk:
            break
        total += len(chunk)
    return elapsed, total


def serving(server, path):
    """Server CPU and RSS growth while a client reads the whole of `path`."""
    before_cpu, before_rss = cpu(server.pid), rss_kib(server.pid)
    peak = [before_rss]
    done = threading.Event()

    def watch():
        while not done.is_set():
            peak[0] = max(peak[0], rss_kib(server.pid))
            time.sleep(0.02)
    w = threading.Thread(target=watch)
    w.start()
    _, total = first_byte(path)
    done.set()
    w.join()
    return cpu(server.pid) - before_cpu, (peak[0] - before_rss) / 1024, total


def cp_cpu(sources, work):
    out = os.path.join(work, "cp-out")
    shutil.rmtree(out, ignore_errors=True)
    os.makedirs(out)
    p = subprocess.Popen(["cp"] + sources + [out])
    _, status, usage = os.wait4(p.pid, 0)
    assert status == 0
    shutil.rmtree(out)
    return usage.ru_utime + usage.ru_stime


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--work", default="/tmp/liverec-bench/playback")
    a = ap.parse_args()
    subprocess.run(["cargo", "build", "--release", "--quiet", "--bin", "liverec"], cwd=ROOT, check=True)
    liverec = os.path.join(ROOT, "target/release/liverec")
    data, sources = prepare(liverec, a.work)
    server = serve(liverec, data)
    try:
        firsts, served, cps, growth, playlists = [], [], [], [], []
        for k in range(a.rounds):
            start = T0 + k * 10  # a new range each round: nothing cached
            path = f"/playback/localhost/live/bench.mp4?start={start / 1000:.3f}&end={(start + 3600_000) / 1000:.3f}"
            firsts.append(first_byte(path)[0])
            os.sync()  # no writeback of an earlier round's copy charged to this one
            cps.append(cp_cpu(sources, a.work))
            os.sync()
            s_cpu, grew, total = serving(server, path)
            served.append(s_cpu)
            growth.append(grew)
            day = f"/playback/localhost/live/day.m3u8?start={(T0 + k * 1000) / 1000:.3f}&end={(T0 + k * 1000 + 86_400_000) / 1000:.3f}"
            t = time.perf_counter()
            c = http.client.HTTPConnection("127.0.0.1", PORT, timeout=60)
            c.request("GET", day)
            r = c.getresponse()
            body = r.read()
            playlists.append(time.perf_counter() - t)
            assert r.status == 200 and body.count(b".ts") >= 14_000, (r.status, body[:300])
        med = statistics.median
        print(f"1-hour MP4 from 60 one-minute MP4 files ({total / 1e6:.0f} MB), {a.rounds} rounds, medians:")
        print(f"  first byte (cold range): {med(firsts) * 1000:.1f} ms  (rounds: "
              + ", ".join(f"{x * 1000:.1f}" for x in firsts) + ")  target <= 100 ms")
        print(f"  serving CPU: liverec {med(served):.3f} s vs cp {med(cps):.3f} s = {med(served) / med(cps):.2f}x"
              f"  (per round: " + ", ".join(f"{s / c:.2f}" for s, c in zip(served, cps)) + ")  target <= 1.3x")
        print(f"  RSS growth while serving: {max(growth):.1f} MiB (max of rounds)  target <= 16 MiB")
        warm = playlists[1:] or playlists
        print(f"24-hour playlist over 1,440 HLS recordings: first request {playlists[0] * 1000:.1f} ms (reads"
              f" and parses every playlist), then {med(warm) * 1000:.1f} ms (parsed playlists cached; rounds: "
              + ", ".join(f"{x * 1000:.1f}" for x in warm) + ")  target <= 50 ms")
    finally:
        stop(server)


if __name__ == "__main__":
    main()
