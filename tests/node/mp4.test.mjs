// MP4 from `liverec remux` in a real browser (Debian's chromium): the moov-first file a
// closed recording becomes, and a fragmented file cut at 70 % as a killed process leaves
// it, both play.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { chromium } from "playwright-core";
import { root } from "./load.mjs";
import { serveRoot } from "./serve.mjs";

const CHROMIUM = process.env.CHROMIUM ?? "/usr/bin/chromium";
const BIN = process.env.LIVEREC_BIN ?? path.join(root, "target/debug/liverec");
const DIR = path.join(root, "target/test-media/mp4");
let server;
let browser;

before(async () => {
  rmSync(DIR, { recursive: true, force: true });
  mkdirSync(DIR, { recursive: true });
  const flv = path.join(DIR, "in.flv");
  execFileSync("ffmpeg", ["-hide_banner", "-loglevel", "error", "-nostdin", "-y",
    "-f", "lavfi", "-i", "testsrc2=size=320x180:rate=25", "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100",
    "-t", "6", "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-g", "25", "-bf", "2",
    "-c:a", "aac", "-b:a", "64k", "-f", "flv", flv]);
  execFileSync(BIN, ["remux", flv, "--to", "mp4", "--out", path.join(DIR, "closed.mp4")]);
  execFileSync(BIN, ["remux", flv, "--to", "mp4", "--fragmented", "--out", path.join(DIR, "growing.mp4")]);
  const growing = readFileSync(path.join(DIR, "growing.mp4"));
  writeFileSync(path.join(DIR, "killed.mp4"), growing.subarray(0, Math.floor(growing.length * 0.7)));
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

async function plays(file) {
  const page = await browser.newPage();
  await page.goto(`${server.url}/www/index.html`);
  const result = await page.evaluate(async (src) => {
    const video = document.createElement("video");
    video.muted = true;
    video.src = src;
    document.body.append(video);
    await video.play();
    const deadline = Date.now() + 20000;
    while (video.currentTime < 1.5 && Date.now() < deadline && !video.error) {
      await new Promise((r) => setTimeout(r, 100));
    }
    return { time: video.currentTime, duration: video.duration, error: video.error?.message ?? null, width: video.videoWidth };
  }, `${server.url}/target/test-media/mp4/${file}`);
  await page.close();
  return result;
}

test("the moov-first MP4 of a closed recording plays in chromium", async () => {
  const r = await plays("closed.mp4");
  assert.equal(r.error, null);
  assert.ok(r.time >= 1.5, JSON.stringify(r));
  assert.ok(Math.abs(r.duration - 6) < 0.2, JSON.stringify(r));
  assert.equal(r.width, 320);
});

test("a fragmented MP4 cut mid-write (killed process) still plays in chromium", async () => {
  const r = await plays("killed.mp4");
  assert.equal(r.error, null);
  assert.ok(r.time >= 1.5, JSON.stringify(r));
});
