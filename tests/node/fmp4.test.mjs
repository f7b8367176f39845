// HLS recordings in fragmented-MP4 (CMAF) segments (`[hls] segments = "fmp4"`) in a real
// browser (Debian's chromium, driven by playwright-core) against a real `liverec serve`:
// ffmpeg pushes H.264/AAC once, and
// - the recording's final playlist is version 7 with an EXT-X-MAP initialization section
//   (an `ftyp` box first) and `.m4s` segments, and hls.js plays it with no fatal error;
// - the time-range playlist /playback/….m3u8 carries the EXT-X-MAP too and hls.js plays it;
// - a plain <video> plays the time-range /playback/….mp4, stitched from the fMP4 segments
//   (there is no MP4 or FLV recording), with the duration of the playlist's media.
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
const CONFIG = "[hls]\nsegments = \"fmp4\"\n[testing]\nrecord_interval_seconds = 2\n"
  + "[callbacks]\nretry_interval_seconds = 1\n";
const STREAM = "fm";
const PUSH_SECONDS = 8;

let server;
let serverLog = "";
let dir;
let base; // http://127.0.0.1:PORT
let rtmp;
let browser;
let span; // the one span of /playback/list
let query; // start=…&end=… over the push
let vodPlaylist; // URL of the recording's final playlist

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const log = () => `\n--- server log (tail) ---\n${serverLog.slice(-3000)}`;
const extinfSum = (text) => text.split("\n").filter((l) => l.startsWith("#EXTINF:"))
  .reduce((sum, l) => sum + parseFloat(l.slice(8)), 0);

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

/** Pushes PUSH_SECONDS of H.264/AAC test signal in real time. */
function push() {
  return promisify(execFile)("ffmpeg", [
    "-hide_banner", "-v", "error", "-nostdin", "-re",
    "-f", "lavfi", "-i", "testsrc=size=320x240:rate=25",
    "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100",
    "-t", String(PUSH_SECONDS), "-map", "0:v", "-map", "1:a",
    "-c:v", "libx264", "-preset", "veryfast", "-g", "25", "-pix_fmt", "yuv420p",
    "-c:a", "aac", "-b:a", "64k", "-f", "flv", `rtmp://127.0.0.1:${rtmp}/live/${STREAM}`,
  ], { timeout: 60000 });
}

before(async () => {
  execFileSync("ffmpeg", ["-version"]); // fails loudly when ffmpeg is missing
  assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is missing: apt-get install chromium`);
  assert.ok(existsSync(BIN), `${BIN} is missing: cargo build`);
  assert.ok(existsSync(HLS_JS), `${HLS_JS} is missing: npm install in www/`);
  mkdirSync(ARTIFACTS, { recursive: true });
  dir = mkdtempSync(path.join(os.tmpdir(), "liverec-node-fmp4-"));
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
    TemplateName: "t", HlsParam: { Enable: 1 }, HlsSpecialParam: { FlowContinueDuration: 0 },
  });
  await api("CreateLiveRecordRule", { DomainName: "localhost", AppName: "live", TemplateId });

  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
      "--disable-component-update", "--disable-sync", "--autoplay-policy=no-user-gesture-required"],
  });

  await push();
  let listing;
  const ready = () => listing.spans?.length === 1 && listing.spans[0].formats.includes("hls");
  for (let i = 0; i < 100; i++) {
    listing = await (await fetch(`${base}/playback/list/localhost/live/${STREAM}`)).json();
    if (ready()) break;
    await sleep(200);
  }
  assert.ok(ready(), `listing: ${JSON.stringify(listing)}${log()}`);
  span = listing.spans[0];
  assert.deepEqual(span.formats, ["hls"], JSON.stringify(listing));
  // Half a second before the push to a second after it, in Unix seconds with milliseconds.
  const start = ((span.startUnixMs - 500) / 1000).toFixed(3);
  const end = ((span.endUnixMs + 1000) / 1000).toFixed(3);
  query = `start=${start}&end=${end}`;

  // The recording's final playlist: SearchMedia's MediaUrl of the HLS file.
  const { MediaInfoSet } = await api("SearchMedia", { StreamIds: [STREAM], Limit: 100 });
  const hls = MediaInfoSet.filter((m) => m.BasicInfo.Type === "hls");
  assert.equal(hls.length, 1, JSON.stringify(MediaInfoSet));
  vodPlaylist = new URL(hls[0].BasicInfo.MediaUrl, base).href;
  assert.ok(new URL(vodPlaylist).pathname.startsWith(`/vod/localhost/live/${STREAM}/`), vodPlaylist);
  assert.ok(vodPlaylist.endsWith(".m3u8"), vodPlaylist);
});

after(async () => {
  await browser?.close();
  server?.kill();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** The hls.js test page ([`openHlsPage`](./hlspage.mjs)). */
function openPage() {
  return openHlsPage(browser, base, HLS_JS, "fmp4");
}

/** Media responses the page got that were not 2xx, for failure messages. */
function watchResponses(page) {
  const failed = [];
  page.on("response", (r) => {
    if (r.status() >= 300) failed.push(`${r.status()} ${r.url()}`);
  });
  page.on("requestfailed", (r) => failed.push(`failed ${r.url()}: ${r.failure()?.errorText}`));
  return failed;
}

/** Plays `url` with hls.js until currentTime passes `seconds`, a fatal error or a 4xx answer. */
async function playsWithHlsJs(t, url, seconds, screenshot) {
  const { page, problems } = await openPage();
  const failed = watchResponses(page);
  await page.evaluate((src) => {
    const video = document.getElementById("video");
    window.hlsErrors = [];
    const hls = new window.Hls();
    hls.on(window.Hls.Events.ERROR, (_, d) => window.hlsErrors.push({
      fatal: d.fatal, type: d.type, details: d.details, at: video.currentTime, reason: d.reason,
      url: d.frag?.url ?? d.context?.url ?? null, error: d.error?.message ?? null, status: d.response?.code ?? null,
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
  // A file answered 4xx will not appear on a retry: stop at the first rather than wait out
  // hls.js's retries.
  const refused = (e) => e.status >= 400 && e.status < 500;
  try {
    await page.waitForFunction((at) => document.getElementById("video").currentTime > at
      || window.hlsErrors.some((e) => e.fatal || (e.status >= 400 && e.status < 500))
      || document.getElementById("video").error !== null,
    seconds, { timeout: 20000 });
  } catch (e) {
    assert.fail(`${url} did not play past ${seconds} s: ${JSON.stringify(await state())}; `
      + `responses: ${JSON.stringify(failed)} (${e.message})${log()}`);
  }
  const past = await state();
  const why = `${url}: ${JSON.stringify(past)}; responses: ${JSON.stringify(failed)}${log()}`;
  assert.deepEqual(past.errors.filter((e) => e.fatal), [], why);
  assert.deepEqual(past.errors.filter(refused), [], why);
  assert.equal(past.error, null, why);
  assert.ok(past.time > seconds, why);
  t.diagnostic(`${url}: at ${past.time} s; hls.js errors: ${JSON.stringify(past.errors)}`);
  if (screenshot) await page.screenshot({ path: path.join(ARTIFACTS, screenshot) });
  await page.evaluate(() => window.hls.destroy());
  assert.deepEqual(problems, []);
  await page.close();
}

test("the recording's final playlist is fMP4: EXT-X-MAP, version 7, .m4s segments", async (t) => {
  const res = await fetch(vodPlaylist);
  const text = await res.text();
  assert.equal(res.status, 200, `${vodPlaylist}: ${text}${log()}`);
  assert.match(res.headers.get("content-type"), /mpegurl/i);
  assert.match(text, /^#EXT-X-VERSION:7$/m, text);
  assert.match(text, /^#EXT-X-MAP:URI="[^"]+"/m, text);
  assert.match(text, /^#EXT-X-ENDLIST$/m, text);
  const uris = text.split("\n").filter((l) => l && !l.startsWith("#"));
  assert.ok(uris.length >= 2, text);
  for (const uri of uris) assert.match(uri, /\.m4s$/, text);
  assert.ok(extinfSum(text) > PUSH_SECONDS - 1.5, text);
  t.diagnostic(`${vodPlaylist}:\n${text}`);

  const map = /^#EXT-X-MAP:URI="([^"]+)"/m.exec(text)[1];
  assert.match(map, /_init_\d+\.mp4$/, text);
  const init = await fetch(new URL(map, vodPlaylist));
  const body = Buffer.from(await init.arrayBuffer());
  assert.equal(init.status, 200, `${new URL(map, vodPlaylist)}: ${body.toString()}${log()}`);
  assert.equal(body.subarray(4, 8).toString("latin1"), "ftyp", body.subarray(0, 32).toString("hex"));

  // A media segment: moof first (a styp may lead), answered 200.
  const segment = new URL(uris[0], vodPlaylist);
  const seg = await fetch(segment);
  const bytes = Buffer.from(await seg.arrayBuffer());
  assert.equal(seg.status, 200, `${segment}: ${seg.status} ${JSON.stringify([...seg.headers])} `
    + `${bytes.toString().slice(0, 200)}${log()}`);
  assert.match(bytes.subarray(4, 8).toString("latin1"), /^(moof|styp|sidx)$/, bytes.subarray(0, 32).toString("hex"));
});

test("hls.js plays the recording's final fMP4 playlist", async (t) => {
  await playsWithHlsJs(t, vodPlaylist, 5, "fmp4-hls.png");
});

test("hls.js plays the time-range playlist, which carries the EXT-X-MAP", async (t) => {
  const url = `${base}/playback/localhost/live/${STREAM}.m3u8?${query}`;
  const res = await fetch(url);
  const text = await res.text();
  assert.equal(res.status, 200, `${url}: ${text}${log()}`);
  assert.match(res.headers.get("content-type"), /mpegurl/i);
  assert.match(text, /^#EXT-X-MAP:URI="[^"]+"/m, text);
  assert.match(text, /^#EXT-X-ENDLIST$/m, text);
  const version = /^#EXT-X-VERSION:(\d+)$/m.exec(text);
  assert.ok(version && Number(version[1]) >= 6, `EXT-X-MAP needs version 6 or later:\n${text}`);
  for (const uri of text.split("\n").filter((l) => l && !l.startsWith("#"))) {
    assert.match(uri, /\.m4s$/, text);
  }
  await playsWithHlsJs(t, url, 5, "fmp4-range-hls.png");
});

test("a <video> plays the time-range MP4 stitched from the fMP4 segments", async (t) => {
  const url = `${base}/playback/localhost/live/${STREAM}.mp4?${query}`;
  const playlist = await (await fetch(`${base}/playback/localhost/live/${STREAM}.m3u8?${query}`)).text();
  const mediaSeconds = extinfSum(playlist);
  assert.ok(mediaSeconds > 0, playlist);
  const head = await fetch(url, { method: "HEAD" });
  const size = Number(head.headers.get("content-length"));
  if (!head.ok || !(size > 0)) {
    const get = await fetch(url);
    const body = (await get.text()).slice(0, 500);
    assert.fail(`HEAD ${url}: ${head.status} (length ${size}); GET: ${get.status} ${body}${log()}`);
  }
  assert.match(head.headers.get("content-type"), /video\/mp4/, JSON.stringify([...head.headers]));

  const { page, problems } = await openPage();
  const failed = watchResponses(page);
  await page.evaluate((src) => {
    const video = document.getElementById("video");
    video.preload = "auto";
    video.src = src;
    video.play().catch(() => {}); // a failure shows in video.error
  }, url);
  const state = () => page.evaluate(() => {
    const video = document.getElementById("video");
    return { time: video.currentTime, duration: video.duration, error: video.error?.message ?? null,
      code: video.error?.code ?? null, width: video.videoWidth };
  });
  await page.waitForFunction(() => document.getElementById("video").currentTime > 3
    || document.getElementById("video").error !== null, null, { timeout: 30000 }).catch(async (e) => {
    assert.fail(`${url} did not play past 3 s: ${JSON.stringify(await state())}; `
      + `responses: ${JSON.stringify(failed)} (${e.message})${log()}`);
  });
  const s = await state();
  const why = `${url} (${size} bytes): ${JSON.stringify(s)}; responses: ${JSON.stringify(failed)}${log()}`;
  assert.equal(s.error, null, why);
  assert.ok(s.time > 3, why);
  assert.equal(s.width, 320, why);
  assert.ok(Math.abs(s.duration - mediaSeconds) < 1,
    `duration ${s.duration} s, media in the playlist ${mediaSeconds} s; ${why}`);
  t.diagnostic(`MP4 of ${size} bytes, duration ${s.duration} s (playlist ${mediaSeconds.toFixed(3)} s), `
    + `at ${s.time} s`);
  await page.screenshot({ path: path.join(ARTIFACTS, "fmp4-range-mp4.png") });
  assert.deepEqual(problems, []);
  await page.close();
});
