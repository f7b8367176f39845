// The npm package in a real browser (Debian's chromium, driven by playwright-core):
// www/index.html imports pkg/liverec.js, initialises it with init(), and shows the
// same validation result Node computes.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, existsSync } from "node:fs";
import path from "node:path";
import { chromium } from "playwright-core";
import lib, { root } from "./load.mjs";
import { serveRoot } from "./serve.mjs";

const CHROMIUM = process.env.CHROMIUM ?? "/usr/bin/chromium";
let server;
let browser;

before(async () => {
  assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is missing: apt-get install chromium`);
  server = await serveRoot();
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
});

after(async () => {
  await browser?.close();
  await server?.close();
});

async function openPage() {
  const page = await browser.newPage();
  const problems = [];
  page.on("pageerror", (e) => problems.push(e.message));
  page.on("console", (m) => m.type() === "error" && problems.push(m.text()));
  await page.goto(`${server.url}/www/index.html`);
  await page.waitForSelector("body[data-ready=true]", { timeout: 15000 });
  return { page, problems };
}

test("the page validates templates with the package, as Node does", async () => {
  const { page, problems } = await openPage();
  assert.equal(await page.textContent("#verdict"), "Valid.");
  const invalid = readFileSync(path.join(root, "tests/fixtures/invalid_template.json"), "utf8");
  await page.fill("#template", invalid);
  await page.click("#validate");
  const rows = await page.$$eval("#errors tbody tr", (trs) =>
    trs.map((tr) => [...tr.cells].map((td) => td.textContent)));
  const expected = lib.validateTemplate(JSON.parse(invalid)).errors.map((e) => [e.code, e.field, e.message]);
  assert.equal(rows.length, 12);
  assert.deepEqual(rows, expected);
  assert.equal(await page.textContent("#verdict"), "12 problem(s).");
  await page.fill("#template", "[1, 2]");
  await page.click("#validate");
  assert.equal(await page.textContent("#verdict"), "InvalidArgument: template must be an object, not an array");
  assert.deepEqual(problems, []);
  await page.close();
});

test("the page renders file names and push URLs", async () => {
  const { page, problems } = await openPage();
  await page.fill("#pattern", "{StreamID}-{StartYear}");
  await page.fill("#stream", "../cam");
  await page.click("#render");
  assert.match(await page.textContent("#name"), /^___cam-\d{4}$/);
  await page.fill("#pattern", "{Bogus}");
  await page.click("#render");
  assert.match(await page.textContent("#name"), /^InvalidParameter\.InvalidVodFileName: /);
  await page.fill("#push-key", "e12c46f2612d5106e2034781ab261ca3");
  await page.click("#sign");
  const url = await page.textContent("#push-url");
  const m = url.match(/^rtmp:\/\/push\.example\.com\/live\/cam1\?txSecret=([0-9a-f]{32})&txTime=([0-9A-F]{8})$/);
  assert.ok(m, url);
  assert.equal(m[1], lib.pushSecret("e12c46f2612d5106e2034781ab261ca3", "cam1", m[2]));
  const verdict = lib.verifyPush({ keys: ["e12c46f2612d5106e2034781ab261ca3"], StreamName: "cam1", txSecret: m[1], txTime: m[2] }, Math.floor(Date.now() / 1000));
  assert.equal(verdict.ok, true);
  assert.deepEqual(problems, []);
  await page.close();
});
