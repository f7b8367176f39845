#!/usr/bin/env python3
"""Several nodes on one box (on demand, not part of the tests).

Starts a throwaway PostgreSQL 15 cluster, s3s-fs and --nodes `liverec serve` processes
(release build) sharing both, configures FLV + HLS recording and callbacks through node
1's API, and pushes --streams streams to *each* node at once with `liverec bench
publish` (a 2.7 Mbit/s 720p clip in real time). Then it checks, from outside:
- every frame recorded: the FLV tags the publishers sent against the tags in the FLV
  objects in the bucket;
- callbacks exactly once each: every recording callback (event 100) arrives at a local
  receiver once — no event id twice — and there is one per indexed recording;
and prints each node's CPU per stream-minute.

Usage: scripts/bench-cluster.py [--nodes 3] [--streams 50] [--seconds 45]
Needs root (the PostgreSQL cluster runs as the postgres user) and s3s-fs.
"""
import argparse, collections, glob, http.server, importlib.util, json, os, random, shutil, subprocess, threading, time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
spec = importlib.util.spec_from_file_location("bench_ingest", os.path.join(ROOT, "scripts", "bench-ingest.py"))
bench = importlib.util.module_from_spec(spec)
spec.loader.exec_module(bench)
PG = "/usr/lib/postgresql/15/bin"


def start_postgres(work):
    d = os.path.join(work, "pg")
    os.makedirs(d)
    os.chmod(work, 0o755)
    shutil.chown(d, "postgres")
    port = random.randint(20000, 30000)
    run = lambda *a: subprocess.run(["runuser", "-u", "postgres", "--", *a], check=True, stdout=subprocess.DEVNULL)
    run(f"{PG}/initdb", "-D", f"{d}/data", "-U", "liverec", "--auth=trust", "-E", "UTF8", "--locale=C.UTF-8",
        "--no-sync")
    run(f"{PG}/pg_ctl", "-D", f"{d}/data", "-l", f"{d}/log", "-w", "-o",
        f"-p {port} -k {d} -c listen_addresses=127.0.0.1 -c max_connections=200", "start")
    return d, f"postgres://liverec@127.0.0.1:{port}/postgres"


def stop_postgres(d):
    subprocess.run(["runuser", "-u", "postgres", "--", f"{PG}/pg_ctl", "-D", f"{d}/data", "-m", "fast", "-w",
                    "stop"], stdout=subprocess.DEVNULL)


class Receiver(http.server.BaseHTTPRequestHandler):
    events = []
    lock = threading.Lock()

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        with Receiver.lock:
            Receiver.events.append(body)
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


def api(port, action, body):
    req = urllib.request.Request(f"http://127.0.0.1:{port}/", data=json.dumps(body).encode(), method="POST",
                                 headers={"X-TC-Action": action, "X-TC-Version": "2018-08-01",
                                          "Content-Type": "application/json"})
    return json.loads(urllib.request.urlopen(req).read())["Response"]


def start_node(liverec, work, i, database):
    d = os.path.join(work, f"n{i}")
    os.makedirs(d)
    config = os.path.join(d, "liverec.toml")
    open(config, "w").write(open(bench.s3_config(work)).read() +
                            f'[database]\nurl = "{database}"\nnode_id = "n{i}"\n[callbacks]\nretry_interval_seconds = 1\n')
    http, rtmp = 18100 + i, 19360 + i
    log = open(d + ".log", "w")
    p = subprocess.Popen([liverec, "serve", "--data", os.path.join(d, "data"), "--http", f"127.0.0.1:{http}",
                          "--rtmp", f"127.0.0.1:{rtmp}", "--config", config], stdout=log, stderr=log,
                         start_new_session=True, env={**os.environ, "RUST_LOG": "warn"})
    bench.wait_port(rtmp)
    return p, http, rtmp


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--nodes", type=int, default=3)
    ap.add_argument("--streams", type=int, default=50)
    ap.add_argument("--seconds", type=float, default=45)
    ap.add_argument("--work", default="/tmp/liverec-bench/cluster")
    args = ap.parse_args()
    subprocess.run(["cargo", "build", "--release", "--quiet", "--bin", "liverec"], cwd=ROOT, check=True)
    liverec = os.path.join(ROOT, "target", "release", "liverec")
    clip = bench.media("/tmp/liverec-bench/ingest")
    shutil.rmtree(args.work, ignore_errors=True)
    os.makedirs(args.work)
    pg, database = start_postgres(args.work)
    s3_root = os.path.join(args.work, "s3")
    s3 = bench.start_s3(s3_root)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    cb_url = f"http://127.0.0.1:{server.server_address[1]}/cb"
    nodes = []
    try:
        nodes = [start_node(liverec, args.work, i + 1, database) for i in range(args.nodes)]
        run(args, liverec, clip, nodes, cb_url, s3_root)
    finally:
        for p, _, _ in nodes:
            bench.stop(p)
        bench.stop(s3)
        stop_postgres(pg)
        server.shutdown()


def run(args, liverec, clip, nodes, cb_url, s3_root):
    first = nodes[0][1]
    t = api(first, "CreateLiveRecordTemplate", {"TemplateName": "flv_hls", "FlvParam": {"Enable": 1,
                                               "RecordInterval": 1800}, "HlsParam": {"Enable": 1}})
    api(first, "CreateLiveRecordRule", {"DomainName": "localhost", "AppName": "both", "TemplateId": t["TemplateId"]})
    c = api(first, "CreateLiveCallbackTemplate", {"TemplateName": "cb", "RecordNotifyUrl": cb_url,
                                                 "CallbackKey": "k"})
    api(first, "CreateLiveCallbackRule", {"DomainName": "localhost", "AppName": "both",
                                          "TemplateId": c["TemplateId"]})
    time.sleep(1.5)  # every node has the configuration (refreshed every 0.5 s)
    cpu0 = [bench.cpu(bench.tree(p.pid)) for p, _, _ in nodes]
    pubs = [subprocess.Popen([liverec, "bench", "publish", "--streams", str(args.streams), "--input", clip,
                              "--url", f"rtmp://127.0.0.1:{rtmp}/both/n{i}-s", "--seconds", str(args.seconds),
                              "--stagger", "2"], stdout=subprocess.PIPE, text=True)
            for i, (_, _, rtmp) in enumerate(nodes)]
    summaries = [json.loads(p.communicate()[0] or "{}") for p in pubs]
    expected = None
    deadline = time.time() + 120
    while time.time() < deadline:  # files stored, indexed, announced
        time.sleep(2)
        expected = api(first, "SearchMedia", {"Limit": 1})["TotalCount"]
        if expected >= 2 * args.nodes * args.streams and len(Receiver.events) >= expected:
            break
    time.sleep(3)  # a duplicate would arrive now
    cpu1 = [bench.cpu(bench.tree(p.pid)) for p, _, _ in nodes]
    sent = sum(s.get("framesSent", 0) for s in summaries)
    flvs = [f for f in glob.glob(os.path.join(s3_root, "rec", "bench", "localhost", "both", "*", "*.flv"))
            if not os.path.basename(f).startswith(".")]
    recorded = sum(bench.flv_tags(f) for f in flvs)
    ids = collections.Counter(e["event_id"] for e in Receiver.events if e.get("event_type") == 100)
    twice = [i for i, n in ids.items() if n > 1]
    failures = sum(s.get("failures") or 0 for s in summaries)
    minutes = args.streams * args.seconds / 60
    print(f"{args.nodes} nodes x {args.streams} streams x {args.seconds:.0f} s, FLV + HLS to s3s-fs, metadata in "
          f"PostgreSQL: publish failures {failures}; frames sent {sent}, in the FLV objects {recorded}, "
          f"lost {sent - recorded}; recordings indexed {expected}, callbacks {sum(ids.values())} "
          f"({len(ids)} distinct, {len(twice)} twice)")
    for i, (a, b) in enumerate(zip(cpu0, cpu1)):
        print(f"  node n{i + 1}: {b - a:.1f} CPU-s = {(b - a) / minutes:.4f} CPU-s per stream-minute")
    ok = failures == 0 and sent == recorded and not twice and len(ids) == expected
    print("PASS" if ok else "FAIL")


if __name__ == "__main__":
    main()
