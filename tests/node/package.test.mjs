// The package as published: files, size budget, TypeScript declarations.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, existsSync, mkdtempSync, writeFileSync } from "node:fs";
import os from "node:os";
import { gzipSync } from "node:zlib";
import { execFileSync } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { pathToFileURL } from "node:url";
import lib, { pkgDir, thrown } from "./load.mjs";

const here = path.dirname(fileURLToPath(import.meta.url));
const MAX_WASM_GZIP_BYTES = 150 * 1024;

test("pkg/ holds the ESM build for the web target", () => {
  for (const f of ["liverec.js", "liverec_bg.wasm", "liverec.d.ts", "package.json"]) {
    assert.ok(existsSync(path.join(pkgDir, f)), f);
  }
  const meta = JSON.parse(readFileSync(path.join(pkgDir, "package.json"), "utf8"));
  assert.equal(meta.name, "liverec");
  assert.equal(meta.type, "module");
});

test(`.wasm is at most ${MAX_WASM_GZIP_BYTES} bytes gzipped`, () => {
  const wasm = readFileSync(path.join(pkgDir, "liverec_bg.wasm"));
  const gz = gzipSync(wasm, { level: 9 }).length;
  console.log(`liverec_bg.wasm: ${wasm.length} bytes, ${gz} gzipped`);
  assert.ok(gz <= MAX_WASM_GZIP_BYTES, `${gz} > ${MAX_WASM_GZIP_BYTES}`);
});

test("TypeScript declarations: every export typed, none as any", () => {
  const dts = readFileSync(path.join(pkgDir, "liverec.d.ts"), "utf8");
  for (const fn of ["validateTemplate", "resolveRule", "validateRecordTask", "planRecording", "renderFileName", "pushSecret", "verifyPush"]) {
    const line = dts.split("\n").find((l) => l.startsWith(`export function ${fn}(`));
    assert.ok(line, `${fn} declared`);
    assert.doesNotMatch(line, /\bany\b/, line);
  }
});

test("TypeScript: a strict program using the API type-checks, and misuse does not", () => {
  const tsc = path.join(here, "node_modules/typescript/bin/tsc");
  const run = (file) => {
    try {
      // The default lib of ES2022 (no esnext.disposable), no skipLibCheck.
      execFileSync(process.execPath, [tsc, "--noEmit", "--strict", "--target", "es2022", "--module", "nodenext", "--moduleResolution", "nodenext", path.join(here, file)], { encoding: "utf8" });
      return "";
    } catch (e) {
      return e.stdout + e.stderr;
    }
  };
  assert.equal(run("types/usage.ts"), "");
  const errors = run("types/misuse.ts");
  const lines = errors.split("\n").filter((l) => l.includes("error TS"));
  assert.equal(lines.length, 6, errors);
});

test("misuse throws coded Errors: a call before init, init() in Node, a freed Playlist", () => {
  const entry = pathToFileURL(path.join(pkgDir, "liverec.js")).href;
  const wasm = path.join(pkgDir, "liverec_bg.wasm");
  const script = `
    import { readFileSync } from "node:fs";
    const lib = await import(${JSON.stringify(entry)});
    const out = { exports: Object.keys(lib).sort() };
    const code = (fn) => { try { fn(); return "none"; } catch (e) { return [e instanceof Error, e.code, e.message]; } };
    out.before = code(() => lib.validateTemplate({}));
    out.parse = code(() => lib.Playlist.parse("#EXTM3U\\n"));
    try { await lib.default(); out.init = "none"; } catch (e) { out.init = [e.code, e.message]; }
    await lib.default({ module_or_path: readFileSync(${JSON.stringify(wasm)}) });
    out.after = lib.validateTemplate({ TemplateName: "t" }).ok;
    console.log(JSON.stringify(out));`;
  const out = JSON.parse(execFileSync(process.execPath, ["--input-type=module", "-e", script], { encoding: "utf8" }));
  assert.deepEqual(out.before.slice(0, 2), [true, "NotInitialized"]);
  assert.match(out.before[2], /validateTemplate was called before .* await init\(\)/);
  assert.equal(out.parse[1], "NotInitialized");
  assert.equal(out.init[0], "NodeNeedsInitSync");
  assert.match(out.init[1], /initSync/);
  assert.equal(out.after, true, "init with the bytes works in Node");
  assert.ok(!out.exports.includes("start"), `${out.exports}`);

  const freed = lib.Playlist.parse("#EXTM3U\n#EXTINF:2,\na.ts\n");
  assert.equal(freed.segmentCount, 1);
  assert.equal(Object.keys(freed).includes("handle"), false);
  freed.free();
  for (const use of [() => freed.toString(), () => freed.segmentCount, () => freed.segments(0, 1), () => freed.inspect()]) {
    const e = thrown(use);
    assert.ok(e instanceof Error);
    assert.equal(e.code, "FreedPlaylist", e.message);
  }
});

const MAX_EXPORT_WASM_GZIP_BYTES = 100 * 1024;

test(`the clip export module: at most ${MAX_EXPORT_WASM_GZIP_BYTES} bytes gzipped, coded errors, an MP4 from real .ts segments`, async () => {
  const wasm = readFileSync(path.join(pkgDir, "liverec_export_bg.wasm"));
  const gz = gzipSync(wasm, { level: 9 }).length;
  console.log(`liverec_export_bg.wasm: ${wasm.length} bytes, ${gz} gzipped`);
  assert.ok(gz <= MAX_EXPORT_WASM_GZIP_BYTES, `${gz} > ${MAX_EXPORT_WASM_GZIP_BYTES}`);
  const meta = JSON.parse(readFileSync(path.join(pkgDir, "package.json"), "utf8"));
  for (const f of ["liverec_export.js", "liverec_export_glue.js", "liverec_export_bg.wasm", "liverec_export.d.ts"]) {
    assert.ok(meta.files.includes(f), `package.json files lists ${f}`);
  }
  const lib = await import(pathToFileURL(path.join(pkgDir, "liverec_export.js")).href);
  assert.equal(thrown(() => new lib.ClipExport()).code, "NotInitialized");
  lib.initSync({ module: wasm });
  // Two seconds of H.264 + AAC as ffmpeg writes HLS segments.
  const dir = mkdtempSync(path.join(os.tmpdir(), "liverec-export-"));
  execFileSync("ffmpeg", ["-v", "error", "-f", "lavfi", "-i", "testsrc2=size=160x120:rate=25", "-f", "lavfi", "-i", "sine=sample_rate=48000",
    "-t", "4", "-c:v", "libx264", "-preset", "ultrafast", "-g", "25", "-c:a", "aac", "-f", "hls", "-hls_time", "1",
    "-hls_playlist_type", "vod", "-hls_segment_filename", path.join(dir, "s%d.ts"), path.join(dir, "p.m3u8")]);
  const clipper = new lib.ClipExport();
  assert.equal(thrown(() => clipper.pushSegment("not bytes", 0)).code, "InvalidArgument");
  assert.equal(thrown(() => clipper.pushSegment(new Uint8Array(0), -1)).code, "InvalidArgument");
  const samples = [0, 1, 2, 3].map((i) => clipper.pushSegment(readFileSync(path.join(dir, `s${i}.ts`)), i));
  assert.equal(clipper.segments, 4);
  assert.equal(thrown(() => clipper.finish(2, 2)).code, "ClipMisuse");
  const made = clipper.finish(0.5, 3.5);
  const parts = [made.head];
  for (let k = 0; k < made.extents.length; k += 3) {
    parts.push(samples[made.extents[k]].subarray(made.extents[k + 1], made.extents[k + 1] + made.extents[k + 2]));
  }
  const file = Buffer.concat(parts);
  assert.equal(file.length, made.bytes);
  assert.equal(made.durationSeconds, 3);
  writeFileSync(path.join(dir, "clip.mp4"), file);
  const duration = execFileSync("ffprobe", ["-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0", path.join(dir, "clip.mp4")], { encoding: "utf8" });
  assert.ok(Math.abs(Number(duration) - 3) <= 0.04, duration);
  // The same segments streamed in, in chunks of any size, give the same file.
  for (const size of [1000, 188 * 7 + 3, 65536]) {
    const streamed = new lib.ClipExport();
    const files = [0, 1, 2, 3].map((i) => {
      const ts = readFileSync(path.join(dir, `s${i}.ts`));
      streamed.beginSegment(i);
      for (let at = 0; at < ts.length; at += size) streamed.write(ts.subarray(at, at + size));
      const view = streamed.endSegment(); // into wasm memory: copied at once
      return view.slice();
    });
    const again = streamed.finish(0.5, 3.5);
    const pieces = [again.head];
    for (let k = 0; k < again.extents.length; k += 3) {
      pieces.push(files[again.extents[k]].subarray(again.extents[k + 1], again.extents[k + 1] + again.extents[k + 2]));
    }
    assert.ok(Buffer.concat(pieces).equals(file), `writes of ${size} bytes`);
    streamed.free();
  }
  const misused = new lib.ClipExport();
  assert.equal(thrown(() => misused.write(new Uint8Array(1))).code, "ClipMisuse");
  assert.equal(thrown(() => misused.endSegment()).code, "ClipMisuse");
  misused.beginSegment(0);
  assert.equal(thrown(() => misused.write("not bytes")).code, "InvalidArgument");
  assert.equal(thrown(() => misused.beginRecording()).code, "ClipMisuse");
  misused.free();
  clipper.free();
  assert.equal(thrown(() => clipper.segments).code, "FreedClipExport");
  const garbage = new lib.ClipExport();
  garbage.pushSegment(new Uint8Array(5000).fill(7), 0);
  assert.equal(thrown(() => garbage.finish(0, 1)).code, "ClipEmpty");
  assert.ok(garbage.notes.length >= 1, "the skipped bytes are noted");
});
