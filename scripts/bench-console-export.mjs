#!/usr/bin/env node
// The console's clip export at scale (issue goal: a 10-minute 720p clip exported to MP4
// in the browser in ≤ 2 s, holding ≤ 64 MB of JS heap). On demand, not in the tests:
//
//   node scripts/bench-console-export.mjs [INPUT.flv] [RUNS]
//
// INPUT defaults to the anchors' 10-minute 720p input (../shared/anchors/make-media.sh
// writes /tmp/anchors/media/in10.flv). liverec (target/release/liverec if built, else
// target/debug) records it as HLS from an ffmpeg push at full speed; chromium opens the
// console's Stitch & clip page, splices the recording, marks all of it and exports it,
// RUNS times (default 3). Prints each run's time, peak JS heap (performance.memory,
// precise) and wasm memory, checks the first file with ffprobe, then times the same page
// only fetching the same segments (the anchor: the browser's own network cost) and
// prints the ratio.
import { spawn, execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import os from "node:os";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const require = createRequire(path.join(root, "tests/node/package.json"));
const { chromium } = require("playwright-core");
const input = process.argv[2] ?? "/tmp/anchors/media/in10.flv";
const runs = Number(process.argv[3] ?? 3);
const release = path.join(root, "target/release/liverec");
const bin = existsSync(release) ? release : path.join(root, "target/debug/liverec");
if (!existsSync(input)) throw new Error(`${input} is missing: run ../shared/anchors/make-media.sh`);

async function freePort() {
  const { createServer } = await import("node:net");
  return new Promise((resolve) => {
    const s = createServer().listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

const dir = mkdtempSync(path.join(os.tmpdir(), "liverec-bench-export-"));
const [http, rtmp] = [await freePort(), await freePort()];
const server = spawn(bin, ["serve", "--data", path.join(dir, "data"), "--http", `127.0.0.1:${http}`, "--rtmp", `127.0.0.1:${rtmp}`],
  { stdio: ["ignore", "ignore", "inherit"], env: { ...process.env, RUST_LOG: "warn" } });
const base = `http://127.0.0.1:${http}`;
const api = async (action, params) => (await (await fetch(base, {
  method: "POST", body: JSON.stringify(params), headers: { "Content-Type": "application/json", "X-TC-Action": action },
})).json()).Response;
try {
  for (let i = 0; i < 100; i++) {
    try { if ((await fetch(`${base}/healthz`)).ok) break; } catch { await sleep(100); }
  }
  const { TemplateId } = await api("CreateLiveRecordTemplate", { TemplateName: "hls", HlsParam: { Enable: 1 }, HlsSpecialParam: { FlowContinueDuration: 0 } });
  await api("CreateLiveRecordRule", { DomainName: "localhost", AppName: "live", TemplateId });
  const t0 = Date.now();
  execFileSync("ffmpeg", ["-v", "error", "-i", input, "-c", "copy", "-f", "flv", `rtmp://127.0.0.1:${rtmp}/live/bench`]);
  let found = [];
  for (let i = 0; i < 300 && !found.length; i++) {
    found = (await api("SearchMedia", { StreamIds: ["bench"], FileFormat: "hls" })).MediaInfoSet;
    if (!found.length) await sleep(200);
  }
  if (!found.length) throw new Error("no HLS recording");
  console.log(`recorded ${found[0].MetaData.Duration} s of HLS (${(found[0].MetaData.Size / 1e6).toFixed(0)} MB) in ${((Date.now() - t0) / 1000).toFixed(1)} s`);

  const browser = await chromium.launch({ executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
    args: ["--no-sandbox", "--disable-gpu", "--enable-precise-memory-info"] });
  const page = await browser.newPage();
  page.on("pageerror", (e) => console.error(`page error: ${e.message}`));
  await page.goto(`${base}/console/#/clip`);
  await page.fill("#clip-search input[name=stream]", "bench");
  await page.click("#clip-search button[type=submit]");
  await page.click("#clip-pick button[type=submit]");
  await page.waitForSelector("#clip-editor:not([hidden])");
  const total = Number((await page.textContent("#clip-summary")).match(/([\d.]+) s,/)[1]);
  await page.fill("#clip-in", "0");
  await page.fill("#clip-out", String(total));
  const results = [];
  const file = path.join(dir, "clip.mp4");
  for (let run = 0; run < runs; run++) {
    await page.evaluate(() => { delete document.getElementById("clip-result").dataset.figures; });
    await page.click("#clip-export");
    await page.waitForFunction(() => document.getElementById("clip-result").dataset.figures, null, { timeout: 120_000 });
    const figures = JSON.parse(await page.evaluate(() => document.getElementById("clip-result").dataset.figures));
    results.push(figures);
    const mb = (n) => (n / 1048576).toFixed(1);
    console.log(`run ${run + 1}: ${figures.durationSeconds.toFixed(1)} s of video from ${figures.segments} segments, ` +
      `${(figures.bytes / 1e6).toFixed(0)} MB, in ${figures.seconds.toFixed(2)} s; ` +
      `JS heap at most ${mb(figures.heapBytes)} MiB, wasm memory ${mb(figures.wasmBytes)} MiB ` +
      `(demux ${figures.demuxSeconds.toFixed(2)} s, Blobs ${figures.blobSeconds.toFixed(2)} s, waiting for segments ${figures.waitSeconds.toFixed(2)} s)`);
    if (run === 0) {
      // Saved from the first run: chromium cancels a download of a blob URL after a few
      // more exports have come and gone.
      const [download] = await Promise.all([page.waitForEvent("download"), page.click("#clip-save")]);
      await download.saveAs(file);
    }
  }
  const probed = execFileSync("ffprobe", ["-v", "error", "-show_entries", "format=duration:stream=codec_name,nb_frames", "-of", "compact=p=0", file], { encoding: "utf8" });
  console.log(`ffprobe: ${probed.trim().replace(/\n/g, "; ")}`);
  // The anchor, same page and run: only fetching the same segments, 4 ahead, each body
  // read into one reused buffer — what the browser's network part costs without demuxing.
  const playlistUrl = new URL(found[0].BasicInfo.MediaUrl, base).href;
  const text = await (await fetch(playlistUrl)).text();
  const urls = text.split("\n").filter((l) => l && !l.startsWith("#")).map((l) => new URL(l, playlistUrl).href);
  const fetches = [];
  for (let run = 0; run < runs; run++) {
    fetches.push(await page.evaluate(async (urls) => {
      const started = performance.now();
      let buffer = new ArrayBuffer(1 << 20);
      let bytes = 0;
      const queue = urls.slice(0, 4).map((u) => fetch(u));
      for (let i = 0; i < urls.length; i++) {
        const response = await queue[i];
        if (i + 4 < urls.length) queue.push(fetch(urls[i + 4]));
        const reader = response.body.getReader({ mode: "byob" });
        for (;;) {
          const { value, done } = await reader.read(new Uint8Array(buffer));
          if (value) buffer = value.buffer;
          if (done) break;
          bytes += value.length;
        }
      }
      return { seconds: (performance.now() - started) / 1000, bytes };
    }, urls));
    console.log(`fetch only, run ${run + 1}: ${(fetches[run].bytes / 1e6).toFixed(0)} MB in ${fetches[run].seconds.toFixed(2)} s`);
  }
  const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const seconds = median(results.map((r) => r.seconds));
  const fetchSeconds = median(fetches.map((f) => f.seconds));
  const heap = Math.max(...results.map((r) => r.heapBytes));
  console.log(`median export ${seconds.toFixed(2)} s (goal ≤ 2 s); the same segments only fetched ${fetchSeconds.toFixed(2)} s ` +
    `(export / fetch ${(seconds / fetchSeconds).toFixed(2)}×); peak JS heap ${(heap / 1048576).toFixed(1)} MiB (goal ≤ 64 MB)`);
  writeFileSync(path.join(dir, "results.json"), JSON.stringify(results, null, 2));
  await browser.close();
} finally {
  server.kill("SIGKILL");
}
