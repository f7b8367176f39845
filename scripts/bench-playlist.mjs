// Node playlist benchmark: liverec's npm package (Playlist.parse + toString) against
// hls-parser (parse + stringify), in the same process, interleaved, on the same string.
//   node scripts/bench-playlist.mjs FILE.m3u8 HLS_PARSER_DIR [RUNS]
// Prints medians and the ratio hls-parser / liverec (target >= 5x).
import { readFileSync } from "node:fs";
import { performance } from "node:perf_hooks";
import path from "node:path";
import { fileURLToPath } from "node:url";

const [file, parserDir, runsArg] = process.argv.slice(2);
const RUNS = Number(runsArg ?? 20);
const WARM = 5;
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const lib = await import(path.join(root, "pkg/liverec.js"));
lib.initSync({ module: readFileSync(path.join(root, "pkg/liverec_bg.wasm")) });
const HLS = (await import(path.join(parserDir, "node_modules/hls-parser/index.js"))).default;
const text = readFileSync(file, "utf8");

const ours = () => {
  const p = lib.Playlist.parse(text);
  const out = p.toString();
  p.free();
  return out;
};
const ourParse = () => {
  const p = lib.Playlist.parse(text);
  const n = p.segmentCount;
  p.free();
  return n;
};
const theirs = () => HLS.stringify(HLS.parse(text));
const theirParse = () => HLS.parse(text).segments.length;

const check = lib.Playlist.parse(ours());
const reference = HLS.parse(text);
if (check.segmentCount !== reference.segments.length) throw new Error("segment counts differ");
check.free();

const cases = { "liverec parse+write": ours, "hls-parser parse+stringify": theirs, "liverec parse": ourParse, "hls-parser parse": theirParse };
const times = Object.fromEntries(Object.keys(cases).map((k) => [k, []]));
for (let i = 0; i < WARM + RUNS; i++) {
  for (const [name, fn] of Object.entries(cases)) {
    const t = performance.now();
    fn();
    if (i >= WARM) times[name].push(performance.now() - t);
  }
}
const median = (v) => v.sort((a, b) => a - b)[Math.floor(v.length / 2)];
const m = Object.fromEntries(Object.entries(times).map(([k, v]) => [k, median(v)]));
console.log(`playlist: ${file} (${Buffer.byteLength(text)} bytes, ${reference.segments.length} segments), node ${process.version}, median of ${RUNS}`);
for (const [k, v] of Object.entries(m)) console.log(`  ${k.padEnd(28)}: ${v.toFixed(3).padStart(9)} ms`);
console.log(`  ratio parse+write (hls-parser / liverec): ${(m["hls-parser parse+stringify"] / m["liverec parse+write"]).toFixed(1)}x  (target >= 5x)`);
console.log(`  ratio parse (hls-parser / liverec)      : ${(m["hls-parser parse"] / m["liverec parse"]).toFixed(1)}x`);
