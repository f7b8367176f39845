// The web console (`/console/` of `liverec serve`) in chromium against a real server and
// a real ffmpeg push: the overview shows the push within 5 s with its codecs, the
// recordings as they land, and drops it; on a server with credentials the console signs
// in, signs every request in the browser, and never sends the key. Screenshots go to
// target/console-artifacts/.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { chromium } from "playwright-core";
import { root } from "./load.mjs";
import { freePort } from "./ports.mjs";

const BIN = process.env.LIVEREC_BIN ?? path.join(root, "target/debug/liverec");
const CHROMIUM = process.env.CHROMIUM ?? "/usr/bin/chromium";
const ARTIFACTS = path.join(root, "target/console-artifacts");
const SECRET_ID = "AKIDconsole";
const SECRET_KEY = "console-secret-key-0123456789";
let browser;
const servers = [];

/** Starts `liverec serve` (with credentials when `signed`); {base, rtmp, log}. */
async function startServer(signed, dir = mkdtempSync(path.join(os.tmpdir(), "liverec-console-"))) {
  const config = path.join(dir, "liverec.toml");
  writeFileSync(config, "[testing]\nrecord_interval_seconds = 2\n[callbacks]\nretry_interval_seconds = 1\n");
  const port = await freePort();
  const rtmp = await freePort();
  const env = { ...process.env, RUST_LOG: "warn" };
  delete env.LIVEREC_SECRET_ID;
  delete env.LIVEREC_SECRET_KEY;
  if (signed) Object.assign(env, { LIVEREC_SECRET_ID: SECRET_ID, LIVEREC_SECRET_KEY: SECRET_KEY });
  const child = spawn(BIN, ["serve", "--data", path.join(dir, "data"), "--http", `127.0.0.1:${port}`,
    "--rtmp", `127.0.0.1:${rtmp}`, "--config", config], { env, stdio: ["ignore", "ignore", "pipe"] });
  const server = { base: `http://127.0.0.1:${port}`, rtmp, child, log: "", dir };
  child.stderr.on("data", (d) => { server.log = (server.log + d).slice(-8000); });
  servers.push(server);
  for (let i = 0; i < 200; i++) {
    try {
      if ((await fetch(`${server.base}/healthz`)).ok) return server;
    } catch {
      await sleep(50);
    }
  }
  throw new Error(`liverec did not start: ${server.log}`);
}

/** A real-time push of `seconds` of 320x240 H.264 + AAC; resolves when ffmpeg exits. */
function push(server, stream, seconds) {
  const ffmpeg = spawn("ffmpeg", ["-hide_banner", "-v", "error", "-nostdin", "-re",
    "-f", "lavfi", "-i", "testsrc=size=320x240:rate=25", "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100",
    "-t", String(seconds), "-c:v", "libx264", "-preset", "ultrafast", "-g", "25", "-pix_fmt", "yuv420p",
    "-c:a", "aac", "-f", "flv", `rtmp://127.0.0.1:${server.rtmp}/live/${stream}`], { stdio: "ignore" });
  ffmpeg.exited = new Promise((resolve) => ffmpeg.on("exit", resolve));
  return ffmpeg;
}

async function api(server, action, params) {
  const r = await fetch(server.base, {
    method: "POST", body: JSON.stringify(params),
    headers: { "Content-Type": "application/json", "X-TC-Action": action },
  });
  return (await r.json()).Response;
}

/** A page of the console, failing the test on any script error or CSP violation. */
async function open(server) {
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  page.problems = [];
  page.on("pageerror", (e) => page.problems.push(e.message));
  page.on("console", (m) => m.type() === "error" && page.problems.push(m.text()));
  await page.goto(`${server.base}/console/`);
  return page;
}

before(async () => {
  assert.ok(existsSync(BIN), `${BIN} is missing: cargo build`);
  assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is missing: apt-get install chromium`);
  mkdirSync(ARTIFACTS, { recursive: true });
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox", "--disable-gpu"] });
});

after(async () => {
  await browser?.close();
  for (const s of servers) s.child.kill("SIGKILL");
});

test("the overview shows a live push within 5 s and its recordings, and drops it", async () => {
  const server = await startServer(false);
  const { TemplateId } = await api(server, "CreateLiveRecordTemplate", { TemplateName: "flv", FlvParam: { Enable: 1, RecordInterval: 60 } });
  await api(server, "CreateLiveRecordRule", { DomainName: "localhost", AppName: "live", TemplateId });
  const page = await open(server);
  await page.waitForSelector("#live");
  const began = Date.now();
  const ffmpeg = push(server, "cam", 60);
  const row = page.locator('#live tr[data-stream="localhost/live/cam"]');
  await row.waitFor({ timeout: 5000 });
  assert.ok(Date.now() - began <= 5000, `shown after ${Date.now() - began} ms`);
  await page.waitForFunction(() => /H264 320\*240 @ 2\d fps/.test(document.querySelector("#live tbody")?.textContent ?? ""), null, { timeout: 10000 });
  const cells = await row.locator("td").allTextContents();
  assert.equal(cells[1], "rtmp");
  assert.match(cells[3], /AAC 44\.1 kHz/);
  assert.equal(cells[6], "flv");
  // Files of 2 s land while it pushes ([testing] record_interval_seconds).
  await page.waitForSelector("#latest tbody a[href*='/vod/']", { timeout: 15000 });
  assert.match(await page.textContent("#latest tbody"), /flv\s*localhost\/live\/cam/);
  assert.equal(await page.evaluate(() => document.querySelector("#health").className), "health-ok");
  await page.screenshot({ path: path.join(ARTIFACTS, "overview.png"), fullPage: true });

  // A real-time task from the overview: the push records HLS too (the task default).
  await page.click('button[aria-label="Record localhost/live/cam now"]');
  await page.waitForFunction(() => /flv, hls/.test(document.querySelector('#live tr[data-stream="localhost/live/cam"]')?.textContent ?? ""), null, { timeout: 8000 });
  await page.goto(`${server.base}/console/#/tasks`);
  await page.waitForSelector("#tasks-list tr[data-task]");
  assert.match(await page.textContent("#tasks-list"), /localhost\/live\/cam.*recording/s);
  await page.screenshot({ path: path.join(ARTIFACTS, "tasks.png"), fullPage: true });
  // Scheduled for later, then stopped and deleted from the page.
  await page.fill("#task-form input[name=DomainName]", "localhost");
  await page.fill("#task-form input[name=StreamName]", "later");
  await page.click("#task-form button[type=submit]");
  const later = page.locator("#tasks-list tr", { hasText: "localhost/live/later" });
  await later.waitFor();
  assert.match(await later.textContent(), /scheduled/);
  await later.getByRole("button", { name: /^Stop/ }).click();
  await page.waitForFunction(() => /stopped/.test([...document.querySelectorAll("#tasks-list tr")].find((r) => r.textContent.includes("later"))?.textContent ?? ""));
  await page.locator("#tasks-list tr", { hasText: "localhost/live/later" }).getByRole("button", { name: /^Delete/ }).click();
  await page.locator("#tasks-list tr", { hasText: "localhost/live/later" }).waitFor({ state: "detached" });
  await page.goto(`${server.base}/console/#/overview`);
  await row.waitFor({ timeout: 5000 });

  await page.click('button[aria-label="Drop localhost/live/cam"]');
  const code = await Promise.race([ffmpeg.exited, sleep(5000).then(() => "still running")]);
  assert.notEqual(code, "still running", "Drop did not end the push");
  await row.waitFor({ state: "detached", timeout: 5000 });

  // Forbid from the page: the push ends and the stream is refused until resumed.
  const again = push(server, "cam", 60);
  await row.waitFor({ timeout: 5000 });
  await page.click('button[aria-label="Forbid localhost/live/cam"]');
  await page.fill("#forbid-form input[name=reason]", "test");
  await page.click("#forbid-form button[type=submit]");
  assert.notEqual(await Promise.race([again.exited, sleep(5000).then(() => "still running")]), "still running");
  const state = await api(server, "DescribeLiveStreamState", { DomainName: "localhost", AppName: "live", StreamName: "cam" });
  assert.equal(state.StreamState, "forbid");
  assert.deepEqual(page.problems, []);
  await page.close();
});

test("with credentials the console signs in, signs in the browser, and keeps the key", async () => {
  const server = await startServer(true);
  const page = await open(server);
  const sent = [];
  page.on("request", (r) => sent.push(`${r.url()} ${JSON.stringify(r.headers())} ${r.postData() ?? ""}`));
  await page.waitForSelector("form.signin");
  await page.fill("input[name=secretId]", SECRET_ID);
  await page.fill("input[name=secretKey]", "a-wrong-key");
  await page.click("form.signin button[type=submit]");
  await page.waitForSelector("main [role=alert]");
  assert.match(await page.textContent("main [role=alert]"), /AuthFailure\.SignatureFailure/);
  await page.fill("input[name=secretId]", SECRET_ID);
  await page.fill("input[name=secretKey]", SECRET_KEY);
  await page.click("form.signin button[type=submit]");
  await page.waitForSelector("#live");
  assert.match(await page.textContent("#live"), /No live pushes/);
  assert.match(await page.textContent("#who"), new RegExp(`Signed in as ${SECRET_ID}`));
  await page.screenshot({ path: path.join(ARTIFACTS, "signed-in.png"), fullPage: true });
  assert.ok(sent.some((s) => s.includes("tc3-hmac-sha256") || s.includes("TC3-HMAC-SHA256")), "no signed request seen");
  assert.ok(!sent.some((s) => s.includes(SECRET_KEY)), "the SecretKey left the tab");
  // The plain-JS digests (pages without Web Crypto) sign as Web Crypto does: the
  // server accepts a request signed with them.
  const body = JSON.stringify({});
  const ts = Math.floor(Date.now() / 1000);
  const host = new URL(server.base).host;
  const [fallback, subtle] = await page.evaluate(async ([id, key, host, body, ts]) => {
    const { authorization } = await import("/console/api.js");
    const creds = { secretId: id, secretKey: key };
    return [await authorization(creds, host, body, ts, null), await authorization(creds, host, body, ts)];
  }, [SECRET_ID, SECRET_KEY, host, body, ts]);
  assert.equal(fallback, subtle);
  const checked = await (await fetch(server.base, {
    method: "POST", body,
    headers: { "Content-Type": "application/json; charset=utf-8", "X-TC-Action": "DescribeLiveStreamOnlineList",
      "X-TC-Version": "2018-08-01", "X-TC-Timestamp": String(ts), Authorization: fallback },
  })).json();
  assert.equal(checked.Response.Error, undefined, JSON.stringify(checked));
  // Unsigned requests stay refused on this server.
  const unsigned = await api(server, "DescribeLiveStreamOnlineList", {});
  assert.equal(unsigned.Error.Code, "AuthFailure.InvalidAuthorization");
  assert.deepEqual(page.problems, []);
  await page.close();
});

test("templates: the form shows the server's error codes as you type, then creates, edits and deletes", async () => {
  const server = await startServer(false);
  const page = await open(server);
  await page.goto(`${server.base}/console/#/templates`);
  await page.click("text=New template");
  await page.fill("input[name=TemplateName]", "mp4_short");
  await page.check("input[name='Mp4Param.Enable']");
  await page.fill("input[name='Mp4Param.RecordInterval']", "30");
  // Before any submit: the package's verdict, which is the server's.
  await page.waitForSelector("#template-problems li");
  const shown = await page.textContent("#template-problems");
  assert.match(shown, /InvalidParameterValue Mp4Param\.RecordInterval/);
  assert.equal(await page.getAttribute("input[name='Mp4Param.RecordInterval']", "aria-invalid"), "true");
  const server_says = await api(server, "CreateLiveRecordTemplate", { TemplateName: "x", Mp4Param: { Enable: 1, RecordInterval: 30 } });
  assert.equal(server_says.Error.Code, "InvalidParameterValue");
  await page.fill("input[name='Mp4Param.VodFileName']", "{StreamID}_{StartYear}{StartMonth}{StartDay}");
  assert.match(await page.textContent("#name-preview"), /stream1_\d{8}/);
  await page.screenshot({ path: path.join(ARTIFACTS, "template-form.png"), fullPage: true });
  await page.fill("input[name='Mp4Param.RecordInterval']", "600");
  await page.waitForFunction(() => document.querySelectorAll("#template-problems li").length === 0);
  await page.click("#template-form button[type=submit]");
  await page.waitForSelector("#templates-list tr[data-template]");
  assert.match(await page.textContent("#templates-list"), /mp4_short\s*MP4/);
  const [saved] = (await api(server, "DescribeLiveRecordTemplates", {})).Templates;
  assert.equal(saved.Mp4Param.RecordInterval, 600);
  await page.click("button[aria-label='Edit mp4_short']");
  await page.fill("input[name='Mp4Param.RecordInterval']", "1200");
  await page.click("#template-form button[type=submit]");
  await page.waitForSelector("#template-form", { state: "detached" });
  const edited = await api(server, "DescribeLiveRecordTemplate", { TemplateId: saved.TemplateId });
  assert.equal(edited.Template.Mp4Param.RecordInterval, 1200);
  await page.screenshot({ path: path.join(ARTIFACTS, "templates.png"), fullPage: true });
  await page.click("button[aria-label='Delete mp4_short']");
  await page.waitForSelector("#templates-list td.empty");
  assert.deepEqual(page.problems, []);
  await page.close();
});

test("rules: create and delete, and the resolver shows which template applies and why", async () => {
  const server = await startServer(false);
  const a = (await api(server, "CreateLiveRecordTemplate", { TemplateName: "app_wide", HlsParam: { Enable: 1 } })).TemplateId;
  const b = (await api(server, "CreateLiveRecordTemplate", { TemplateName: "vip", Mp4Param: { Enable: 1 } })).TemplateId;
  const page = await open(server);
  await page.goto(`${server.base}/console/#/rules`);
  await page.waitForSelector("#rule-form");
  const create = async (app, stream, template) => {
    await page.fill("#rule-form input[name=DomainName]", "push.example.com");
    await page.fill("#rule-form input[name=AppName]", app);
    await page.fill("#rule-form input[name=StreamName]", stream);
    await page.selectOption("#rule-form select[name=TemplateId]", String(template));
    await page.click("#rule-form button[type=submit]");
  };
  await create("live", "", a);
  await page.waitForSelector('#rules-list tr[data-rule="push.example.com/live/*"]');
  await create("", "star", b);
  await page.waitForSelector('#rules-list tr[data-rule="push.example.com/*/star"]');
  await create("live", "", b);
  await page.waitForFunction(() => /RuleAlreadyExist/.test(document.querySelector("#rule-error")?.textContent ?? ""));
  const resolve = async (stream) => {
    await page.fill("#resolve-form input[name=DomainName]", "push.example.com");
    await page.fill("#resolve-form input[name=StreamName]", stream);
    return page.textContent("#resolved");
  };
  assert.match(await resolve("cam"), new RegExp(`Template ${a} \\(app_wide\\).*domain \\+ app \\(priority 3\\)`));
  assert.match(await resolve("star"), new RegExp(`Template ${b} \\(vip\\).*domain \\+ stream \\(priority 2\\)`));
  await page.fill("#resolve-form input[name=DomainName]", "other.example.com");
  assert.match(await page.textContent("#resolved"), /No rule applies/);
  await page.screenshot({ path: path.join(ARTIFACTS, "rules.png"), fullPage: true });
  await page.click('button[aria-label="Delete rule push.example.com/*/star"]');
  await page.waitForSelector('#rules-list tr[data-rule="push.example.com/*/star"]', { state: "detached" });
  assert.equal((await api(server, "DescribeLiveRecordRules", {})).Rules.length, 1);
  assert.deepEqual(page.problems, []);
  await page.close();
});

test("push: keys saved from the page sign a URL that ffmpeg can push to", async () => {
  const server = await startServer(false);
  const page = await open(server);
  await page.goto(`${server.base}/console/#/push`);
  await page.waitForSelector("#keys-form");
  assert.equal(await page.inputValue("#domain-form input[name=domain]"), "localhost");
  await page.check("#keys-form input[name=Enable]");
  await page.fill("#keys-form input[name=MasterAuthKey]", "e12c46f2612d5106e2034781ab261ca3");
  await page.click("#keys-form button[type=submit]");
  await page.waitForFunction(() => document.querySelector("#keys-status")?.textContent === "Saved.");
  await page.fill("#url-form input[name=ingest]", `rtmp://127.0.0.1:${server.rtmp}`);
  await page.fill("#url-form input[name=stream]", "signed");
  await page.click("#url-form button[type=submit]");
  const url = await page.textContent("#push-url-full");
  assert.match(url, new RegExp(`^rtmp://127\\.0\\.0\\.1:${server.rtmp}/live/signed\\?txSecret=[0-9a-f]{32}&txTime=[0-9A-F]{8}$`));
  assert.equal(await page.textContent("#obs-server"), `rtmp://127.0.0.1:${server.rtmp}/live/`);
  assert.equal(url, `${await page.textContent("#obs-server")}${await page.textContent("#obs-key")}`);
  await page.screenshot({ path: path.join(ARTIFACTS, "push.png"), fullPage: true });
  const names = { DomainName: "localhost", AppName: "live", StreamName: "signed" };
  // Unsigned: refused. Signed by the page: accepted.
  const unsigned = push(server, "signed", 5);
  assert.notEqual(await unsigned.exited, 0, "an unsigned push was accepted");
  const signed = spawn("ffmpeg", ["-hide_banner", "-v", "error", "-nostdin", "-re", "-f", "lavfi", "-i", "testsrc=size=160x120:rate=10",
    "-t", "30", "-c:v", "libx264", "-preset", "ultrafast", "-f", "flv", url], { stdio: "ignore" });
  let state;
  for (let i = 0; i < 50 && state !== "active"; i++) {
    await sleep(100);
    state = (await api(server, "DescribeLiveStreamState", names)).StreamState;
  }
  signed.kill("SIGKILL");
  assert.equal(state, "active", "the page's signed URL was refused");
  assert.deepEqual(page.problems, []);
  await page.close();
});

test("recordings: filter by format, play MP4 natively and HLS with hls.js, download", async () => {
  const server = await startServer(false);
  const { TemplateId } = await api(server, "CreateLiveRecordTemplate", {
    TemplateName: "all", FlvParam: { Enable: 1, RecordInterval: 60 }, Mp4Param: { Enable: 1, RecordInterval: 60 },
    HlsParam: { Enable: 1 }, HlsSpecialParam: { FlowContinueDuration: 0 },
  });
  await api(server, "CreateLiveRecordRule", { DomainName: "localhost", AppName: "live", TemplateId });
  assert.equal(await push(server, "rec", 7).exited, 0);
  let indexed = [];
  for (let i = 0; i < 150 && indexed.length < 3; i++) {
    const found = await api(server, "SearchMedia", { StreamIds: ["rec"], Limit: 100 });
    indexed = [...new Set(found.MediaInfoSet.map((m) => m.BasicInfo.Type))];
    if (indexed.length < 3) await sleep(200);
  }
  assert.deepEqual(indexed.sort(), ["flv", "hls", "mp4"], `indexed: ${indexed}\n${server.log}`);
  const page = await open(server);
  await page.goto(`${server.base}/console/#/recordings`);
  await page.waitForSelector("#recordings-list tr[data-file]");
  const formats = async () => page.$$eval("#recordings-list tr[data-file] td:nth-child(2)", (tds) => [...new Set(tds.map((t) => t.textContent))].sort());
  assert.deepEqual(await formats(), ["flv", "hls", "mp4"]);
  await page.selectOption("#search-form select[name=format]", "mp4");
  await page.click("#search-form button[type=submit]");
  await page.waitForFunction(() => document.querySelectorAll("#recordings-list tr[data-file]").length > 0 &&
    [...document.querySelectorAll("#recordings-list tr[data-file] td:nth-child(2)")].every((t) => t.textContent === "mp4"));
  const playing = async () => {
    await page.waitForFunction(() => (document.querySelector("#player-video")?.currentTime ?? 0) > 1, null, { timeout: 15000 })
      .catch(async (e) => assert.fail(`${e.message}: ${await page.textContent("#player")} ${page.problems}`));
  };
  await page.locator("#recordings-list tr[data-file]").first().getByRole("button", { name: /^Play/ }).click();
  await playing();
  const href = await page.locator("#recordings-list tr[data-file] a").first().getAttribute("href");
  assert.match(href, /\/vod\/localhost\/live\/rec\/.*\.mp4$/);
  assert.equal((await fetch(href)).status, 200);
  await page.selectOption("#search-form select[name=format]", "hls");
  await page.click("#search-form button[type=submit]");
  await page.waitForFunction(() => document.querySelector("#recordings-list tr[data-file] td:nth-child(2)")?.textContent === "hls");
  await page.locator("#recordings-list tr[data-file]").first().getByRole("button", { name: /^Play/ }).click();
  await playing();
  await page.selectOption("#search-form select[name=format]", "flv");
  await page.click("#search-form button[type=submit]");
  await page.waitForFunction(() => document.querySelector("#recordings-list tr[data-file] td:nth-child(2)")?.textContent === "flv");
  await page.locator("#recordings-list tr[data-file]").first().getByRole("button", { name: /^Play/ }).click();
  await playing(); // with the vendored mpegts.js
  await page.screenshot({ path: path.join(ARTIFACTS, "recordings.png"), fullPage: true });
  assert.deepEqual(page.problems, []);
  await page.close();
});

test("callbacks: a template and a rule made in the page send signed events of a push; the delivery log shows a failure and its retry", async () => {
  const server = await startServer(false);
  const events = [];
  let posts = 0;
  const { createServer } = await import("node:http");
  const hook = createServer((req, res) => {
    let body = "";
    req.on("data", (d) => { body += d; });
    req.on("end", () => {
      if (++posts === 1) {
        res.statusCode = 500;
        return res.end("not now");
      }
      events.push(JSON.parse(body));
      res.end("{}");
    });
  });
  await new Promise((resolve) => hook.listen(0, "127.0.0.1", resolve));
  const url = `http://127.0.0.1:${hook.address().port}/hook`;
  const page = await open(server);
  await page.goto(`${server.base}/console/#/callbacks`);
  await page.waitForSelector("#callback-form");
  await page.fill("#callback-form input[name=TemplateName]", "hooks");
  await page.fill("#callback-form input[name=CallbackKey]", "k");
  await page.fill("#callback-form input[name=StreamBeginNotifyUrl]", "ftp://example.com/hook");
  await page.fill("#callback-form input[name=StreamEndNotifyUrl]", url);
  await page.click("#callback-form button[type=submit]");
  await page.waitForFunction(() => /InvalidCallbackUrl|InvalidParameter/.test(document.querySelector("#callback-error")?.textContent ?? ""))
    .catch(async () => assert.fail(`no error shown: ${await page.textContent("main")}`));
  await page.fill("#callback-form input[name=StreamBeginNotifyUrl]", url);
  await page.click("#callback-form button[type=submit]");
  await page.waitForSelector("#callback-templates tr[data-callback-template]");
  await page.fill("#callback-rule-form input[name=DomainName]", "localhost");
  await page.click("#callback-rule-form button[type=submit]");
  await page.waitForSelector('#callback-rules tr[data-callback-rule="localhost/live"]');
  await page.screenshot({ path: path.join(ARTIFACTS, "callbacks.png"), fullPage: true });
  assert.equal(await push(server, "hooked", 3).exited, 0);
  for (let i = 0; i < 50 && events.length < 2; i++) await sleep(200);
  assert.deepEqual(events.map((e) => e.event_type).sort(), [0, 1], JSON.stringify(events));
  // The first post was refused (HTTP 500) and retried a second later: the log shows both.
  await page.goto(`${server.base}/console/#/overview`);
  await page.waitForSelector("#callback-health");
  assert.match(await page.textContent("#callback-health"), /^Callbacks: 1 failed attempt\(s\) in the last 24 hours; the latest, for hooked: HTTP 500 — not now \(attempt 1; retrying in 1 s\)/);
  await page.click("#callback-health a");
  await page.waitForSelector("#callback-deliveries tr[data-delivery]");
  assert.equal(await page.locator('#callback-deliveries tr[data-delivery="failed"]').count(), 1);
  assert.equal(await page.locator('#callback-deliveries tr[data-delivery="delivered"]').count(), 2);
  await page.screenshot({ path: path.join(ARTIFACTS, "callbacks-deliveries.png"), fullPage: true });
  await page.click('button[aria-label="Delete callback rule localhost/live"]');
  await page.waitForSelector("#callback-rules td.empty");
  hook.close();
  assert.deepEqual(page.problems, []);
  await page.close();
});

/** ffprobe's JSON for `file` (`args` select what). */
function probe(file, ...args) {
  return JSON.parse(execFileSync("ffprobe", ["-v", "error", ...args, "-of", "json", file], { encoding: "utf8" }));
}

test("stitch and clip: two recordings spliced in the page, 10 s marked and exported to an MP4 made in the browser", async () => {
  const server = await startServer(false);
  const { TemplateId } = await api(server, "CreateLiveRecordTemplate", {
    TemplateName: "hls", HlsParam: { Enable: 1 }, HlsSpecialParam: { FlowContinueDuration: 0 },
  });
  await api(server, "CreateLiveRecordRule", { DomainName: "localhost", AppName: "live", TemplateId });
  for (const _ of [1, 2]) assert.equal(await push(server, "stitch", 8).exited, 0);
  let found = [];
  for (let i = 0; i < 150 && found.length < 2; i++) {
    found = (await api(server, "SearchMedia", { StreamIds: ["stitch"], FileFormat: "hls", Limit: 10 })).MediaInfoSet;
    if (found.length < 2) await sleep(200);
  }
  assert.equal(found.length, 2, `HLS recordings: ${JSON.stringify(found)}\n${server.log}`);
  const page = await open(server);
  await page.goto(`${server.base}/console/#/clip`);
  await page.fill("#clip-search input[name=stream]", "stitch");
  await page.click("#clip-search button[type=submit]");
  await page.waitForSelector("#clip-pick input[name=pick]");
  assert.equal(await page.locator("#clip-pick input[name=pick]:checked").count(), 2);
  await page.click("#clip-pick button[type=submit]");
  await page.waitForSelector("#clip-editor:not([hidden])");
  const summary = await page.textContent("#clip-summary");
  assert.match(summary, /^2 recording\(s\), \d+ segments, 1[4-7]\.\d s, 1 discontinuity\.$/, summary);
  // The spliced preview plays (hls.js over a playlist made in the page), and marks land.
  await page.evaluate(() => document.getElementById("clip-video").play());
  await page.waitForFunction(() => document.getElementById("clip-video").currentTime > 1, null, { timeout: 15000 })
    .catch(async (e) => assert.fail(`${e.message}: ${await page.textContent("#clip-status")} ${page.problems}`));
  await page.click("text=Mark in");
  assert.ok(Number(await page.inputValue("#clip-in")) > 1);
  // 10 s across the join: 3 s .. 13 s.
  await page.fill("#clip-in", "3");
  await page.fill("#clip-out", "13");
  assert.equal(await page.textContent("#clip-length"), "Clip: 10.00 s");
  await page.click("#clip-export");
  await page.waitForSelector("#clip-save:not([hidden])", { timeout: 30000 })
    .catch(async (e) => assert.fail(`${e.message}: ${await page.textContent("#clip-status")} ${page.problems}`));
  console.log(`stitch and clip: ${await page.textContent("#clip-status")}`);
  const [download] = await Promise.all([page.waitForEvent("download"), page.click("#clip-save")]);
  const file = path.join(server.dir, "clip.mp4");
  await download.saveAs(file);
  assert.match(download.suggestedFilename(), /^stitch-3\.0-13\.0\.mp4$/);
  const format = probe(file, "-show_entries", "format=duration:stream=codec_name,avg_frame_rate");
  assert.ok(Math.abs(Number(format.format.duration) - 10) <= 0.04, `duration ${format.format.duration}`);
  assert.deepEqual(format.streams.map((s) => s.codec_name), ["h264", "aac"]);
  // Packet timestamps: each stream's DTS strictly increasing, PTS never before DTS.
  const packets = probe(file, "-show_entries", "packet=stream_index,pts,dts").packets;
  for (const stream of [0, 1]) {
    const own = packets.filter((p) => p.stream_index === stream);
    assert.ok(own.length > 50, `stream ${stream}: ${own.length} packets`);
    own.forEach((p, i) => {
      assert.ok(p.pts >= p.dts, `stream ${stream} packet ${i}: pts ${p.pts} < dts ${p.dts}`);
      if (i) assert.ok(p.dts > own[i - 1].dts, `stream ${stream} packet ${i}: dts ${p.dts} after ${own[i - 1].dts}`);
    });
  }
  const decoded = spawnSync("ffmpeg", ["-v", "error", "-i", file, "-f", "null", "-"], { encoding: "utf8" });
  assert.equal(decoded.status, 0);
  assert.equal(decoded.stderr.trim(), "");
  await page.screenshot({ path: path.join(ARTIFACTS, "clip.png"), fullPage: true });
  assert.deepEqual(page.problems, []);
  await page.close();
});

test("recordings: 10,000 rows scroll in a virtual list, the first ones painted at once", async () => {
  const first = await startServer(false);
  first.child.kill("SIGTERM");
  await new Promise((resolve) => first.child.on("exit", resolve));
  // 10,000 index rows, as the data plane writes them (one a minute, newest last).
  execFileSync("python3", ["-c", `
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
rows = [(f"f{i:05d}", "localhost", "live", "cam", "mp4", 1_790_000_000_000 + i * 60_000, 1_790_000_060_000 + i * 60_000,
         60_000, 1_000_000, "h264", "aac", 1280, 720, f"localhost/live/cam/r{i:05d}.mp4", f"http://127.0.0.1/vod/localhost/live/cam/r{i:05d}.mp4",
         1_790_000_061_000 + i * 60_000) for i in range(10_000)]
db.executemany("INSERT INTO recordings (file_id, domain_name, app_name, stream_name, format, start_ms, end_ms, duration_ms, size_bytes, video_codec, audio_codec, width, height, storage_path, url, created_ms) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)", rows)
db.commit()`, path.join(first.dir, "data", "liverec.db")]);
  const server = await startServer(false, first.dir);
  const page = await open(server);
  await page.goto(`${server.base}/console/#/recordings`);
  await page.waitForSelector('#recordings-list tr[data-file="f09999"]');
  const paint = await page.evaluate(() => new Promise((resolve) => {
    const done = () => {
      const [start] = performance.getEntriesByName("recordings-start");
      const [painted] = performance.getEntriesByName("recordings-painted");
      if (painted) resolve({ fromStart: painted.startTime - start.startTime, fromNavigation: painted.startTime });
      else requestAnimationFrame(done);
    };
    done();
  }));
  console.log(`recordings page, 10,000 rows: first rows painted ${paint.fromStart.toFixed(0)} ms after the page began, ${paint.fromNavigation.toFixed(0)} ms after navigation`);
  assert.match(await page.textContent("#recordings-list caption"), /^10000 recording/);
  const inDocument = await page.$$eval("#recordings-list tr[data-file]", (trs) => trs.length);
  assert.ok(inDocument > 5 && inDocument < 200, `${inDocument} rows in the document`);
  // To the end: the oldest row comes into view, fetched as it scrolls in.
  await page.$eval("#recordings-scroll", (el) => { el.scrollTop = el.scrollHeight; });
  await page.waitForSelector('#recordings-list tr[data-file="f00000"]', { timeout: 10000 });
  await page.$eval("#recordings-scroll", (el) => { el.scrollTop = el.scrollHeight / 2; });
  await page.waitForSelector('#recordings-list tr[data-file="f05000"], #recordings-list tr[data-file="f04999"]', { timeout: 10000 });
  await page.screenshot({ path: path.join(ARTIFACTS, "recordings-10000.png") });
  assert.deepEqual(page.problems, []);
  await page.close();
});

test("every page passes axe-core with no serious or critical violation", async () => {
  const server = await startServer(false);
  const id = (await api(server, "CreateLiveRecordTemplate", { TemplateName: "t", HlsParam: { Enable: 1 } })).TemplateId;
  await api(server, "CreateLiveRecordRule", { DomainName: "localhost", AppName: "live", TemplateId: id });
  const axe = readFileSync(path.join(root, "tests/node/node_modules/axe-core/axe.min.js"), "utf8");
  // axe is injected past the console's CSP (which refuses inline scripts, as it should).
  const context = await browser.newContext({ bypassCSP: true });
  const page = await context.newPage();
  const report = [];
  for (const [name, ready, prepare] of [
    ["overview", "#live"], ["templates", "#templates-list", async () => page.click("text=New template")],
    ["rules", "#rules-list"], ["tasks", "#tasks-list"], ["recordings", "#recordings-list"], ["push", "#keys-form"],
    ["callbacks", "#callback-templates"], ["clip", "#clip-search"],
  ]) {
    await page.goto(`${server.base}/console/#/${name}`);
    await page.waitForSelector(ready);
    if (prepare) await prepare();
    await page.evaluate(axe);
    const violations = await page.evaluate(async () => (await globalThis.axe.run(document)).violations
      .map((v) => ({ id: v.id, impact: v.impact, nodes: v.nodes.length })));
    report.push(`${name}: ${violations.map((v) => `${v.id} (${v.impact})`).join(", ") || "none"}`);
    const bad = violations.filter((v) => v.impact === "serious" || v.impact === "critical");
    assert.deepEqual(bad, [], `${name}: ${JSON.stringify(bad)}`);
  }
  console.log(`axe-core: ${report.join("; ")}`);
  await context.close();
});

test("the console's first load transfers at most 400 KB (gzipped), the wasm included", async () => {
  const server = await startServer(false);
  const page = await browser.newPage();
  await page.goto(`${server.base}/console/`);
  await page.waitForSelector("#live");
  await page.waitForFunction(() => performance.getEntriesByType("resource").some((e) => e.name.endsWith(".wasm")));
  const loads = await page.evaluate(() => [...performance.getEntriesByType("navigation"), ...performance.getEntriesByType("resource")]
    .filter((e) => e.name.includes("/console/")).map((e) => ({ name: e.name.replace(/^.*\/console\//, ""), bytes: e.transferSize })));
  const total = loads.reduce((sum, e) => sum + e.bytes, 0);
  console.log(`console first load: ${total} bytes over ${loads.length} files (${loads.map((e) => `${e.name || "index"} ${e.bytes}`).join(", ")})`);
  assert.ok(loads.some((e) => e.name === "pkg/liverec_bg.wasm"), JSON.stringify(loads));
  assert.ok(total <= 400 * 1024, `${total} bytes`);
  const wasm = await fetch(`${server.base}/console/pkg/liverec_bg.wasm`, { headers: { "Accept-Encoding": "gzip" } });
  assert.equal(wasm.headers.get("content-encoding"), "gzip");
  await page.close();
});

test("the console's files carry a strict Content-Security-Policy; the package is embedded", async () => {
  const server = await startServer(false);
  const index = await fetch(`${server.base}/console/`);
  assert.equal(index.status, 200);
  assert.match(index.headers.get("content-security-policy"), /default-src 'self'/);
  const wasm = await fetch(`${server.base}/console/pkg/liverec_bg.wasm`);
  assert.equal(wasm.status, 200, "pkg/ was not embedded: build it before the server");
  assert.equal(wasm.headers.get("content-type"), "application/wasm");
  assert.equal((await fetch(`${server.base}/console/../Cargo.toml`)).status, 404);
  const redirect = await fetch(`${server.base}/console`, { redirect: "manual" });
  assert.equal(redirect.headers.get("location"), "/console/");
});

test("the console's plain-JS SHA-256 and HMAC agree with node:crypto", async () => {
  const { createHash, createHmac, randomBytes } = await import("node:crypto");
  const { sha256, hmacSha256 } = await import(path.join(root, "www/console/sha256.js"));
  for (const n of [0, 1, 55, 56, 63, 64, 65, 119, 1000, 70000]) {
    const data = randomBytes(n);
    assert.equal(Buffer.from(sha256(data)).toString("hex"), createHash("sha256").update(data).digest("hex"), `${n}`);
    for (const keyLength of [0, 16, 64, 65, 200]) {
      const key = randomBytes(keyLength);
      assert.equal(Buffer.from(hmacSha256(key, data)).toString("hex"), createHmac("sha256", key).update(data).digest("hex"));
    }
  }
});
