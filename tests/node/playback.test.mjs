// Time-range playback in a real browser (Debian's chromium, driven by playwright-core)
// against a real `liverec serve`: ffmpeg pushes twice with a break between, and
// - hls.js plays /playback/….m3u8 of the whole range across the break (the
//   #EXT-X-DISCONTINUITY join) with no fatal error;
// - a plain <video> plays /playback/….mp4 of the range, seeks to its middle while the
//   throttled download is still under way (a new `Range` request, answered 206), and
//   plays on from there; its duration is the covered media time, the break closed.
// The page is served under liverec's own origin by request interception, since /playback
// and /vod without a key answer only loopback clients naming a loopback host.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFile, execFileSync, spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { freePort } from "./ports.mjs";
import { openHlsPage } from "./hlspage.mjs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { chromium } from "playwright-core";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const BIN = process.env.LIVEREC_BIN ?? path.join(root, "target/debug/liverec");
const CHROMIUM = process.env.CHROMIUM ?? "/usr/bin/chromium";
const HLS_JS = path.join(root, "www/node_modules/hls.js/dist/hls.min.js");
const ARTIFACTS = path.join(root, "target/test-artifacts");
const CONFIG = "[testing]\nrecord_interval_seconds = 2\n[callbacks]\nretry_interval_seconds = 1\n";
const PUSH_SECONDS = 6;
const BREAK_MS = 3000;

let server;
let serverLog = "";
let dir;
let base; // http://127.0.0.1:PORT
let rtmp;
let browser;
let spans; // the two spans of /playback/list
let gapSeconds; // the listed gap between them
let query; // start=…&end=… over both pushes


const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** An unsigned reference-style API call from loopback; returns `Response`. */
async function api(action, body) {
  const res = await fetch(`${base}/`, {
    method: "POST",
    headers: { "X-TC-Action": action, "X-TC-Version": "2018-08-01", "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });
  const { Response } = await res.json();
  assert.equal(Response.Error, undefined, `${action}: ${JSON.stringify(Response.Error)}`);
  return Response;
}

/**
 * Pushes PUSH_SECONDS of H.264/AAC test signal in real time. The noise keeps the video
 * near 500 kbit/s: the MP4's middle must lie well beyond what chromium waits for on the
 * connection it has open (a few 32 KiB blocks), or a seek makes no new request.
 */
function push() {
  return promisify(execFile)("ffmpeg", [
    "-hide_banner", "-v", "error", "-nostdin", "-re",
    "-f", "lavfi", "-i", "testsrc=size=320x240:rate=25,noise=alls=50:allf=t+u",
    "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100",
    "-t", String(PUSH_SECONDS), "-map", "0:v", "-map", "1:a",
    "-c:v", "libx264", "-preset", "veryfast", "-g", "25", "-pix_fmt", "yuv420p",
    "-c:a", "aac", "-b:a", "64k", "-f", "flv", `rtmp://127.0.0.1:${rtmp}/live/cam`,
  ], { timeout: 60000 });
}

const ready = (s) => s.formats.includes("hls") && s.formats.includes("mp4");

before(async () => {
  execFileSync("ffmpeg", ["-version"]); // fails loudly when ffmpeg is missing
  assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is missing: apt-get install chromium`);
  assert.ok(existsSync(BIN), `${BIN} is missing: cargo build`);
  assert.ok(existsSync(HLS_JS), `${HLS_JS} is missing: npm install in www/`);
  mkdirSync(ARTIFACTS, { recursive: true });
  dir = mkdtempSync(path.join(os.tmpdir(), "liverec-node-playback-"));
  const config = path.join(dir, "liverec.toml");
  writeFileSync(config, CONFIG);
  const port = await freePort();
  rtmp = await freePort();
  base = `http://127.0.0.1:${port}`;
  server = spawn(BIN, ["serve", "--data", path.join(dir, "data"), "--http", `127.0.0.1:${port}`,
    "--rtmp", `127.0.0.1:${rtmp}`, "--config", config], {
    env: { ...process.env, RUST_LOG: "warn" },
    stdio: ["ignore", "ignore", "pipe"],
  });
  server.stderr.on("data", (d) => { serverLog = (serverLog + d).slice(-8000); });
  let up = false;
  for (let i = 0; i < 200 && !up; i++) {
    try {
      up = (await fetch(`${base}/healthz`)).ok;
    } catch {
      await sleep(50); // not yet listening
    }
  }
  assert.ok(up, `liverec did not start: ${serverLog}`);

  const { TemplateId } = await api("CreateLiveRecordTemplate", {
    TemplateName: "t", FlvParam: { Enable: 1, RecordInterval: 60 }, HlsParam: { Enable: 1 },
    Mp4Param: { Enable: 1, RecordInterval: 60 }, HlsSpecialParam: { FlowContinueDuration: 0 },
  });
  await api("CreateLiveRecordRule", { DomainName: "localhost", AppName: "live", TemplateId });

  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
      "--disable-component-update", "--disable-sync", "--autoplay-policy=no-user-gesture-required"],
  });

  await push();
  await sleep(BREAK_MS);
  await push();
  let listing;
  for (let i = 0; i < 100; i++) {
    listing = await (await fetch(`${base}/playback/list/localhost/live/cam`)).json();
    if (listing.spans?.length === 2 && listing.spans.every(ready)) break;
    await sleep(200);
  }
  assert.ok(listing.spans?.length === 2 && listing.spans.every(ready), `listing: ${JSON.stringify(listing)}`);
  spans = listing.spans;
  assert.equal(listing.gaps.length, 1, JSON.stringify(listing.gaps));
  gapSeconds = listing.gaps[0].durationSeconds;
  assert.ok(gapSeconds > 1, `gap of ${gapSeconds} s`);
  // Half a second before the first push to a second after the second, in Unix seconds
  // with milliseconds.
  const start = ((spans[0].startUnixMs - 500) / 1000).toFixed(3);
  const end = ((spans[1].endUnixMs + 1000) / 1000).toFixed(3);
  query = `start=${start}&end=${end}`;
});

after(async () => {
  await browser?.close();
  server?.kill();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** The hls.js test page ([`openHlsPage`](./hlspage.mjs)). */
function openPage() {
  return openHlsPage(browser, base, HLS_JS, "playback");
}

test("hls.js plays the range playlist across the break between the pushes", async (t) => {
  const url = `${base}/playback/localhost/live/cam.m3u8?${query}`;
  const res = await fetch(url);
  assert.equal(res.status, 200);
  assert.match(res.headers.get("content-type"), /mpegurl/i);
  const text = await res.text();
  assert.match(text, /^#EXT-X-START:TIME-OFFSET=\d+\.\d{3}/m, text);
  assert.match(text, /^#EXT-X-ENDLIST$/m, text);
  const lines = text.split("\n");
  const join = lines.indexOf("#EXT-X-DISCONTINUITY");
  assert.ok(join > 0, `no discontinuity:\n${text}`);
  assert.match(lines[join + 1], /^#EXT-X-PROGRAM-DATE-TIME:/, text);
  const extinf = (ls) => ls.filter((l) => l.startsWith("#EXTINF:")).map((l) => parseFloat(l.slice(8)));
  const joinAt = extinf(lines.slice(0, join)).reduce((a, b) => a + b, 0);
  const total = extinf(lines).reduce((a, b) => a + b, 0);
  assert.ok(joinAt > 3 && joinAt < total - 3, `join at ${joinAt} of ${total} s:\n${text}`);
  for (const uri of lines.filter((l) => l && !l.startsWith("#"))) {
    assert.ok(uri.startsWith(`${base}/vod/`), uri);
  }

  const { page, problems } = await openPage();
  await page.evaluate((src) => {
    const video = document.getElementById("video");
    window.hlsErrors = [];
    const hls = new window.Hls();
    hls.on(window.Hls.Events.ERROR, (_, d) => window.hlsErrors.push({
      fatal: d.fatal, type: d.type, details: d.details, at: video.currentTime, reason: d.reason,
    }));
    hls.loadSource(src);
    hls.attachMedia(video);
    hls.on(window.Hls.Events.MANIFEST_PARSED, () => video.play());
    window.hls = hls;
  }, url);
  const state = () => page.evaluate(() => {
    const video = document.getElementById("video");
    return { time: video.currentTime, error: video.error?.message ?? null, errors: window.hlsErrors };
  });
  try {
    await page.waitForFunction((at) => document.getElementById("video").currentTime > at + 1
      || window.hlsErrors.some((e) => e.fatal), joinAt, { timeout: 60000 });
  } catch (e) {
    assert.fail(`playback did not pass the join at ${joinAt} s: ${JSON.stringify(await state())} (${e.message})`);
  }
  const past = await state();
  assert.deepEqual(past.errors.filter((e) => e.fatal), [], JSON.stringify(past.errors));
  assert.equal(past.error, null);
  assert.ok(past.time > joinAt + 1, `at ${past.time} s, join at ${joinAt} s`);
  await page.waitForFunction((t0) => document.getElementById("video").currentTime > t0 + 0.5, past.time,
    { timeout: 10000 });
  const later = await state();
  t.diagnostic(`join at ${joinAt} s of ${total} s; at ${past.time} s then ${later.time} s; `
    + `hls.js errors: ${JSON.stringify(later.errors)}`);
  assert.deepEqual(later.errors.filter((e) => e.fatal), []);
  assert.equal(later.error, null);
  await page.screenshot({ path: path.join(ARTIFACTS, "playback-hls.png") });
  await page.evaluate(() => window.hls.destroy());
  assert.deepEqual(problems, []);
  await page.close();
});

test("a <video> plays the range MP4, seeking to its middle while it downloads", async (t) => {
  const url = `${base}/playback/localhost/live/cam.mp4?${query}`;
  const playlist = await (await fetch(`${base}/playback/localhost/live/cam.m3u8?${query}`)).text();
  const mediaSeconds = playlist.split("\n").filter((l) => l.startsWith("#EXTINF:"))
    .reduce((sum, l) => sum + parseFloat(l.slice(8)), 0);
  const coveredSeconds = spans.reduce((sum, s) => sum + (s.endUnixMs - s.startUnixMs) / 1000, 0);
  const head = await fetch(url, { method: "HEAD" });
  const size = Number(head.headers.get("content-length"));
  assert.ok(size > 0, `HEAD ${url}: ${head.status}`);

  const { page, problems } = await openPage();
  const requests = [];
  page.on("request", (r) => {
    if (r.url() === url) requests.push({ at: Date.now(), range: r.headers()["range"] ?? null, request: r });
  });
  const cdp = await page.context().newCDPSession(page);
  await cdp.send("Network.enable");
  await cdp.send("Network.emulateNetworkConditions", {
    offline: false, latency: 20, downloadThroughput: 40 * 1024, uploadThroughput: -1,
  });
  await page.evaluate((src) => {
    const video = document.getElementById("video");
    window.seek = null;
    video.addEventListener("loadedmetadata", () => {
      const b = video.buffered;
      window.seek = {
        at: Date.now(),
        target: video.duration / 2,
        duration: video.duration,
        bufferedEnd: b.length ? b.end(b.length - 1) : 0,
      };
      video.currentTime = window.seek.target;
      video.play();
    }, { once: true });
    video.addEventListener("seeked", () => { window.seek.seekedTo = video.currentTime; }, { once: true });
    video.preload = "auto";
    video.src = src;
  }, url);
  await page.waitForFunction(() => window.seek !== null, null, { timeout: 30000 });
  const seek = await page.evaluate(() => window.seek);
  // The seek comes before the download ends: the middle was not there yet.
  assert.ok(seek.bufferedEnd < seek.target, `buffered to ${seek.bufferedEnd} s at the seek to ${seek.target} s`);
  // The duration is the media time of both pushes, the break closed. It is compared with
  // the playlist's media time rather than the listed spans: a span ends at the wall time
  // its push ended, which is earlier than its media's end when the encoder sent faster
  // than real time (x264's lookahead flushed at the end: ~0.6 s per push here).
  assert.ok(Math.abs(seek.duration - mediaSeconds) < 0.5,
    `duration ${seek.duration} s, media in the playlist ${mediaSeconds} s, spans ${coveredSeconds} s`);
  assert.ok(seek.duration > coveredSeconds - 0.5 && seek.duration < coveredSeconds + gapSeconds - 1,
    `duration ${seek.duration} s, spans ${coveredSeconds} s: the break of ${gapSeconds} s is not closed`);

  await page.waitForFunction((at) => document.getElementById("video").currentTime > at + 1, seek.target,
    { timeout: 60000 }).catch(async (e) => {
    const state = await page.evaluate(() => ({ time: document.getElementById("video").currentTime,
      error: document.getElementById("video").error?.message ?? null, seek: window.seek }));
    assert.fail(`no playback after the seek: ${JSON.stringify(state)} ${e.message}`);
  });
  const settled = await page.evaluate(() => ({ seek: window.seek, error: document.getElementById("video").error }));
  assert.equal(settled.error, null);
  assert.ok(settled.seek.seekedTo >= seek.target - 0.05, `seeked to ${settled.seek.seekedTo}, asked ${seek.target}`);

  // The seek made the browser ask for the bytes of the middle: a Range request after it,
  // not from the start, answered 206.
  const described = requests.map((r) => `${r.at - seek.at} ms: ${r.range}`).join(", ");
  const seeking = requests.filter((r) => r.at >= seek.at && /^bytes=[1-9]\d*-/.test(r.range ?? ""));
  assert.ok(seeking.length > 0, `no Range request after the seek (size ${size}): ${described}`);
  const response = await seeking[0].request.response();
  assert.equal(response?.status(), 206, described);
  const from = Number(/^bytes=(\d+)-/.exec(seeking[0].range)[1]);
  assert.match(response.headers()["content-range"], new RegExp(`^bytes ${from}-\\d+/${size}$`));

  t.diagnostic(`MP4 of ${size} bytes, duration ${seek.duration} s (playlist ${mediaSeconds.toFixed(3)} s, `
    + `spans ${coveredSeconds.toFixed(3)} s); seek to ${seek.target} s with ${seek.bufferedEnd} s buffered; `
    + `requests: ${described}`);
  await cdp.send("Network.emulateNetworkConditions", {
    offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: -1,
  });
  const now = await page.evaluate(() => document.getElementById("video").currentTime);
  await page.waitForFunction((t0) => document.getElementById("video").currentTime > t0 + 0.5, now, { timeout: 10000 });
  assert.equal(await page.evaluate(() => document.getElementById("video").error), null);
  await page.screenshot({ path: path.join(ARTIFACTS, "playback-mp4.png") });
  assert.deepEqual(problems, []);
  await page.close();
});
