// Player integration in a real browser: two short H.264/AAC HLS recordings made by
// ffmpeg are spliced in the page by the liverec package and played by hls.js in
// Debian's chromium. Playback must cross the join, and a clip must start at its offset.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdirSync, rmSync } from "node:fs";
import path from "node:path";
import { chromium } from "playwright-core";
import { root } from "./load.mjs";
import { serveRoot } from "./serve.mjs";

const CHROMIUM = process.env.CHROMIUM ?? "/usr/bin/chromium";
const MEDIA = path.join(root, "target/test-media/hls");
const ARTIFACTS = path.join(root, "target/test-artifacts");
let server;
let browser;

/** A 6-second H.264/AAC HLS VOD recording in 2-second segments. */
function record(name, video, tone) {
  const dir = path.join(MEDIA, name);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  execFileSync("ffmpeg", [
    "-hide_banner", "-loglevel", "error", "-nostdin", "-y",
    "-f", "lavfi", "-i", `${video}=size=320x180:rate=25`,
    "-f", "lavfi", "-i", `sine=frequency=${tone}:sample_rate=48000`,
    "-t", "6", "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p",
    "-g", "50", "-keyint_min", "50", "-sc_threshold", "0",
    "-c:a", "aac", "-b:a", "64k",
    "-f", "hls", "-hls_time", "2", "-hls_list_size", "0", "-hls_playlist_type", "vod",
    "-hls_segment_filename", path.join(dir, "seg%d.ts"), path.join(dir, "index.m3u8"),
  ]);
  return `/target/test-media/hls/${name}/index.m3u8`;
}

before(async () => {
  execFileSync("ffmpeg", ["-version"]); // fails loudly when ffmpeg is missing
  mkdirSync(ARTIFACTS, { recursive: true });
  server = await serveRoot();
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
      "--disable-component-update", "--disable-sync", "--autoplay-policy=no-user-gesture-required"],
  });
});

after(async () => {
  await browser?.close();
  await server?.close();
});

test("hls.js plays a spliced recording across the join, then a clip from its offset", async () => {
  const a = record("first", "testsrc2", 440);
  const b = record("second", "smptebars", 880);
  const page = await browser.newPage({ viewport: { width: 900, height: 700 } });
  const pageErrors = [];
  page.on("pageerror", (e) => pageErrors.push(e.message));
  await page.goto(`${server.url}/www/player.html?src=${encodeURIComponent(a)}&src=${encodeURIComponent(b)}`);
  await page.waitForSelector("body[data-ready=true]", { timeout: 20000 });

  const summary = await page.evaluate(() => window.player.summary);
  assert.ok(summary, await page.textContent("#status"));
  assert.equal(summary.joins.length, 1);
  assert.equal(summary.joins[0].discontinuity, true);
  const joinAt = await page.evaluate(() => {
    const segs = window.player.spliced.segments(0, 100);
    return segs.slice(0, segs.findIndex((s) => s.discontinuity)).reduce((t, s) => t + s.duration, 0);
  });
  assert.ok(joinAt > 5 && joinAt < 7, `join at ${joinAt}`);

  // Playback passes the join with no fatal error.
  await page.waitForFunction((t) => document.getElementById("video").currentTime > t + 1, joinAt, { timeout: 45000 });
  const state = await page.evaluate(() => ({ fatal: window.player.fatal, time: document.getElementById("video").currentTime }));
  assert.deepEqual(state.fatal, []);
  assert.ok(state.time > joinAt + 1);
  await page.screenshot({ path: path.join(ARTIFACTS, "player-spliced.png") });

  // A clip from 3.5 s: segment 1 (2–4 s) with a 1.5 s offset.
  await page.fill("#clip-start", "3.5");
  await page.fill("#clip-end", "9");
  await page.evaluate(() => {
    const video = document.getElementById("video");
    window.firstPlaying = null;
    video.addEventListener("playing", () => { window.firstPlaying ??= video.currentTime; }, { once: true });
  });
  await page.click("#clip");
  const clip = await page.evaluate(() => window.player.clipSummary);
  assert.deepEqual([clip.firstSegment, clip.startOffsetSeconds], [1, 1.5]);
  assert.match(await page.textContent("#playlist"), /#EXT-X-START:TIME-OFFSET=1\.500,PRECISE=YES/);
  await page.waitForFunction(() => window.firstPlaying !== null, null, { timeout: 30000 });
  const started = await page.evaluate(() => window.firstPlaying);
  assert.ok(started >= 1.4 && started < 2.5, `clip started at ${started}, expected about 1.5`);
  await page.waitForFunction(() => document.getElementById("video").currentTime > 3, null, { timeout: 30000 });
  assert.deepEqual(await page.evaluate(() => window.player.fatal), []);
  await page.screenshot({ path: path.join(ARTIFACTS, "player-clip.png") });
  assert.deepEqual(pageErrors, []);
  await page.close();
});
