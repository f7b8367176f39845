// The package in a console developer's project, bundled by esbuild and by Vite, run in
// chromium: each bundle must find liverec_bg.wasm. Vite follows the glue's
// `new URL("liverec_bg.wasm", import.meta.url)` by itself; esbuild does not (it leaves
// the URL pointing beside the bundle, where no file is), so the README's esbuild recipe
// imports the file with `--loader:.wasm=file` and passes its URL to init().
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, rmSync, symlinkSync, writeFileSync, readdirSync } from "node:fs";
import path from "node:path";
import { chromium } from "playwright-core";
import { build as esbuild } from "esbuild";
import { build as vite } from "vite";
import { root, pkgDir } from "./load.mjs";
import { serveRoot } from "./serve.mjs";

const CHROMIUM = process.env.CHROMIUM ?? "/usr/bin/chromium";
const app = path.join(root, "target/bundlers");
let server;
let browser;

// What every bundle runs: the page's title becomes the result, or the error's code.
const BODY = `
const v = validateTemplate({ TemplateName: "t", Mp4Param: { Enable: 1, RecordInterval: 5 } });
const p = Playlist.parse("#EXTM3U\\n#EXT-X-TARGETDURATION:2\\n#EXTINF:2,\\na.ts\\n#EXT-X-ENDLIST\\n");
document.title = v.errors.map((e) => e.code + " " + e.field).join() + " / " + p.segmentCount;`;
const EXPECTED = "InvalidParameterValue Mp4Param.RecordInterval / 1";

before(async () => {
  rmSync(app, { recursive: true, force: true });
  mkdirSync(path.join(app, "node_modules"), { recursive: true });
  symlinkSync(pkgDir, path.join(app, "node_modules/liverec"), "dir");
  writeFileSync(path.join(app, "esbuild-main.js"), `import init, { validateTemplate, Playlist } from "liverec";
import wasmUrl from "liverec/liverec_bg.wasm";
await init({ module_or_path: wasmUrl });${BODY}\n`);
  writeFileSync(path.join(app, "vite-main.js"), `import init, { validateTemplate, Playlist } from "liverec";
await init();${BODY}\n`);
  writeFileSync(path.join(app, "index.html"), `<!doctype html><title>loading</title><script type="module" src="./vite-main.js"></script>\n`);
  server = await serveRoot();
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox", "--disable-gpu"] });
});

after(async () => {
  await browser?.close();
  await server?.close();
});

/** Opens `page` (a path under the repository) and waits for the bundle's verdict. */
async function verdict(page) {
  const tab = await browser.newPage();
  const problems = [];
  tab.on("pageerror", (e) => problems.push(e.message));
  await tab.goto(`${server.url}/${page}`);
  await tab.waitForFunction(() => document.title !== "loading", null, { timeout: 15000 }).catch(() => {});
  const title = await tab.title();
  await tab.close();
  return { title, problems };
}

test("esbuild: the README's recipe bundles the package with its wasm", async () => {
  const outdir = path.join(app, "dist-esbuild");
  await esbuild({
    absWorkingDir: app, entryPoints: ["esbuild-main.js"], bundle: true, format: "esm", outdir,
    loader: { ".wasm": "file" }, logLevel: "silent",
  });
  const files = readdirSync(outdir);
  assert.ok(files.some((f) => /^liverec_bg-.*\.wasm$/.test(f)), `${files}`);
  writeFileSync(path.join(outdir, "index.html"), `<!doctype html><title>loading</title><script type="module" src="./esbuild-main.js"></script>\n`);
  const { title, problems } = await verdict("target/bundlers/dist-esbuild/index.html");
  assert.deepEqual(problems, []);
  assert.equal(title, EXPECTED);
});

test("Vite: a plain `await init()` finds the wasm in the build", async () => {
  const outDir = path.join(app, "dist-vite");
  await vite({ root: app, base: "./", logLevel: "silent", build: { outDir, target: "es2022", emptyOutDir: true } });
  const assets = readdirSync(path.join(outDir, "assets"));
  assert.ok(assets.some((f) => f.endsWith(".wasm")), `${assets}`);
  const { title, problems } = await verdict("target/bundlers/dist-vite/index.html");
  assert.deepEqual(problems, []);
  assert.equal(title, EXPECTED);
});
