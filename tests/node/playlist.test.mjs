// The Playlist class of the npm package: parse/write, inspect, validate, segments, clip
// and splice, with an independent parser (m3u8-parser) checking every spliced output.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Parser } from "m3u8-parser";
import lib, { thrown } from "./load.mjs";

const { Playlist } = lib;

function media(durations, { pdt, seq = 0, map, byteRanges = false, disc = [], target } = {}) {
  const lines = ["#EXTM3U", `#EXT-X-VERSION:${map ? 6 : byteRanges ? 4 : 3}`, `#EXT-X-TARGETDURATION:${target ?? Math.max(1, ...durations.map((d) => Math.round(d)))}`, `#EXT-X-MEDIA-SEQUENCE:${seq}`];
  if (map) lines.push(`#EXT-X-MAP:URI="${map}"`);
  let offset = 0;
  durations.forEach((d, i) => {
    if (disc.includes(i)) lines.push("#EXT-X-DISCONTINUITY");
    if (i === 0 && pdt) lines.push(`#EXT-X-PROGRAM-DATE-TIME:${pdt}`);
    lines.push(`#EXTINF:${d.toFixed(3)},`);
    if (byteRanges) {
      lines.push(`#EXT-X-BYTERANGE:1000@${offset}`);
      offset += 1000;
    }
    lines.push(byteRanges ? "all.ts" : `${map ? "s" : "seg"}${i}.${map ? "m4s" : "ts"}`);
  });
  lines.push("#EXT-X-ENDLIST");
  return lines.join("\n") + "\n";
}

/** m3u8-parser's view: [uri, duration, discontinuity] per segment. */
function independent(text) {
  const parser = new Parser();
  parser.push(text);
  parser.end();
  return parser.manifest.segments.map((s) => [s.uri, s.duration, Boolean(s.discontinuity)]);
}

function ours(playlist) {
  return playlist.segments(0, playlist.segmentCount).map((s) => [s.uri, s.duration, s.discontinuity]);
}

function assertAgrees(playlist) {
  const text = playlist.toString();
  assert.deepEqual(independent(text), ours(playlist), text);
  const errors = playlist.validate().filter((d) => d.severity === "error");
  assert.deepEqual(errors, [], text);
}

test("parse → toString is lossless, unknown tags stay in place", () => {
  const text = "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-ALLOW-CACHE:NO\n#EXT-X-TARGETDURATION:7\n#EXT-X-PROGRAM-DATE-TIME:2024-01-01T08:00:00.000+0800\n#EXT-X-CUE-OUT:30\n#EXTINF:6.006,first\na.ts\n# comment\n#EXTINF:5.005,\nb.ts\n#EXT-X-ENDLIST\n#EXT-X-AFTER:1\n";
  const p = Playlist.parse(text);
  assert.equal(p.toString(), text);
  assert.equal(Playlist.parse(p.toString()).toString(), text);
  const segs = p.segments(0, 10);
  assert.deepEqual(segs.map((s) => s.duration), [6.006, 5.005]);
  assert.equal(segs[0].programDateTime, "2024-01-01T00:00:00.000Z");
  assert.equal(segs[1].programDateTime, "2024-01-01T00:00:06.006Z");
  assert.deepEqual(p.validate(), []);
});

test("inspect: durations, discontinuities, PROGRAM-DATE-TIME span and gaps", () => {
  const text = "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:2\n#EXT-X-PROGRAM-DATE-TIME:2024-01-01T00:00:00Z\n#EXTINF:2.0,\na.ts\n#EXTINF:1.5,\nb.ts\n#EXT-X-DISCONTINUITY\n#EXT-X-PROGRAM-DATE-TIME:2024-01-01T00:00:10Z\n#EXTINF:2.0,\nc.ts\n#EXT-X-ENDLIST\n";
  const i = Playlist.parse(text).inspect();
  assert.equal(i.kind, "media");
  assert.equal(i.segmentCount, 3);
  assert.equal(i.totalDurationSeconds, 5.5);
  assert.equal(i.maxSegmentDurationSeconds, 2);
  assert.deepEqual(i.discontinuities, [{ segment: 2, mediaSequence: 2, line: 9, timeSeconds: 3.5 }]);
  assert.deepEqual(i.programDateTime, { start: "2024-01-01T00:00:00.000Z", end: "2024-01-01T00:00:12.000Z", startMs: 1704067200000, endMs: 1704067212000 });
  assert.deepEqual(i.gaps, [{ segment: 2, seconds: 6.5 }]);
  assert.equal(i.errors, 0);
});

test("validate: diagnostics with codes, lines and severities", () => {
  const d = Playlist.parse("#EXTM3U\n#EXT-X-TARGETDURATION:2.5\n#EXTINF:3.0,\na.ts\n#EXT-X-PROGRAM-DATE-TIME:soon\n#EXTINF:2,\n").validate();
  assert.deepEqual(d.map((x) => [x.code, x.line, x.severity]), [
    ["MalformedTag", 2, "error"],
    ["MissingTargetDuration", 1, "error"],
    ["VersionTooLow", 3, "error"],
    ["MalformedProgramDateTime", 5, "error"],
    ["MissingUri", 5, "error"],
  ].sort((a, b) => a[1] - b[1]));
});

test("segments(offset, count) pages without copying the rest", () => {
  const p = Playlist.parse(media(Array(10).fill(2), { seq: 100 }), "http://h/r/i.m3u8");
  const page = p.segments(8, 5);
  assert.deepEqual(page.map((s) => [s.index, s.mediaSequence, s.uri, s.resolvedUri]), [
    [8, 108, "seg8.ts", "http://h/r/seg8.ts"],
    [9, 109, "seg9.ts", "http://h/r/seg9.ts"],
  ]);
  assert.deepEqual(p.segments(20, 5), []);
  assert.throws(() => p.segments(-1, 2), { code: "InvalidArgument" });
  assert.throws(() => p.segments(0), { code: "InvalidArgument" });
});

test("clip: sub-playlist with the exact offset, by seconds or wall clock", () => {
  const p = Playlist.parse(media([2, 2, 2, 2, 2], { pdt: "2024-01-01T00:00:00.000Z", seq: 10 }), "http://h/r/i.m3u8");
  const { playlist, summary } = p.clip({ start: 3.25, end: 6.5 });
  assert.deepEqual(summary, { firstSegment: 1, segmentCount: 3, mediaSequence: 11, startOffsetSeconds: 1.25, startSeconds: 3.25, endSeconds: 6.5, durationSeconds: 6 });
  const text = playlist.toString();
  assert.match(text, /#EXT-X-START:TIME-OFFSET=1\.250,PRECISE=YES\n/);
  assert.match(text, /#EXT-X-MEDIA-SEQUENCE:11\n/);
  assert.match(text, /#EXT-X-PROGRAM-DATE-TIME:2024-01-01T00:00:02\.000Z\n#EXTINF:2\.000,\nhttp:\/\/h\/r\/seg1\.ts\n/);
  assertAgrees(playlist);
  const wall = p.clip({ start: new Date(Date.UTC(2024, 0, 1, 0, 0, 5)), end: "2024-01-01T00:00:07Z" }).summary;
  assert.deepEqual([wall.firstSegment, wall.segmentCount, wall.startOffsetSeconds], [2, 2, 1]);
  assert.throws(() => p.clip({ start: 20 }), { code: "InvalidRange" });
  assert.throws(() => p.clip({ start: 4, end: 4 }), { code: "InvalidRange" });
  assert.throws(() => p.clip({ start: "tomorrow" }), { code: "InvalidRange" });
  assert.throws(() => p.clip({ start: true }), { code: "InvalidRange" });
  assert.throws(() => Playlist.parse(media([2])).clip({ start: "2024-01-01T00:00:00Z" }), { code: "InvalidRange" });
});

const T0 = "2024-01-01T00:00:00.000Z";
const spliceCases = [
  {
    name: "continuous join: PROGRAM-DATE-TIME lines up, no discontinuity",
    inputs: [[media([2, 2], { pdt: T0 }), "http://h/a/i.m3u8"], [media([2], { pdt: "2024-01-01T00:00:04.000Z" }), "http://h/b/i.m3u8"]],
    discontinuities: [false, false, false],
    reasons: [null],
  },
  {
    name: "discontinuous join: a 10 s gap",
    inputs: [[media([2, 2], { pdt: T0 }), "http://h/a/i.m3u8"], [media([2], { pdt: "2024-01-01T00:00:14.000Z" }), "http://h/b/i.m3u8"]],
    discontinuities: [false, false, true],
    reasons: ["gap"],
  },
  {
    name: "no PROGRAM-DATE-TIME: not provably continuous",
    inputs: [[media([2]), "http://h/a/i.m3u8"], [media([2]), "http://h/b/i.m3u8"]],
    discontinuities: [false, true],
    reasons: ["noProgramDateTime"],
  },
  {
    name: "mixed target durations",
    inputs: [[media([6.006, 5.5], { pdt: T0 }), "http://h/a/i.m3u8"], [media([2, 2]), "http://h/b/i.m3u8"], [media([10, 1]), "http://h/c/i.m3u8"]],
    discontinuities: [false, false, true, false, true, false],
    reasons: ["noProgramDateTime", "noProgramDateTime"],
    target: 10,
  },
  {
    name: "byte ranges are kept with explicit offsets",
    inputs: [[media([2, 2, 2], { byteRanges: true }), "http://h/a/i.m3u8"], [media([2, 2], { byteRanges: true }), "http://h/b/i.m3u8"]],
    discontinuities: [false, false, false, true, false],
    reasons: ["noProgramDateTime"],
    check: (text) => assert.match(text, /#EXT-X-BYTERANGE:1000@1000\nhttp:\/\/h\/b\/all\.ts\n/),
  },
  {
    name: "EXT-X-MAP carried and re-emitted when the init changes",
    inputs: [[media([2, 2], { map: "init.mp4", pdt: T0 }), "http://h/a/i.m3u8"], [media([2], { map: "init.mp4", pdt: "2024-01-01T00:00:04.000Z" }), "http://h/b/i.m3u8"]],
    discontinuities: [false, false, true],
    reasons: ["initChanged"],
    check: (text) => {
      assert.match(text, /#EXT-X-MAP:URI="http:\/\/h\/a\/init\.mp4"/);
      assert.match(text, /#EXT-X-DISCONTINUITY\n#EXT-X-MAP:URI="http:\/\/h\/b\/init\.mp4"/);
    },
  },
  {
    name: "existing discontinuities inside sources are preserved",
    inputs: [[media([2, 2, 2], { disc: [1] }), "http://h/a/i.m3u8"], [media([2, 2], { disc: [1] }), "http://h/b/i.m3u8"]],
    discontinuities: [false, true, false, true, true],
    reasons: ["noProgramDateTime"],
  },
  {
    name: "relative and absolute URIs",
    inputs: [["#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2,\n../up.ts\n#EXTINF:2,\n/root.ts\n#EXTINF:2,\nhttps://cdn.example/abs.ts\n", "http://h/a/b/i.m3u8"]],
    discontinuities: [false, false, false],
    reasons: [],
    uris: ["http://h/a/up.ts", "http://h/root.ts", "https://cdn.example/abs.ts"],
  },
];

for (const c of spliceCases) {
  test(`splice: ${c.name}`, () => {
    const sources = c.inputs.map(([text, base]) => Playlist.parse(text, base));
    const { playlist, summary } = Playlist.splice(sources);
    const text = playlist.toString();
    assert.deepEqual(ours(playlist).map((s) => s[2]), c.discontinuities, text);
    assert.deepEqual(summary.joins.map((j) => j.reason), c.reasons);
    assert.match(text, /#EXT-X-PLAYLIST-TYPE:VOD\n/);
    assert.match(text, /#EXT-X-ENDLIST\n$/);
    assert.ok(ours(playlist).every((s) => /^https?:\/\//.test(s[0])), "every URI absolute");
    if (c.target) assert.match(text, new RegExp(`#EXT-X-TARGETDURATION:${c.target}\\n`));
    if (c.uris) assert.deepEqual(ours(playlist).map((s) => s[0]), c.uris);
    c.check?.(text);
    assertAgrees(playlist);
    const expected = sources.reduce((n, s) => n + s.segmentCount, 0);
    assert.equal(playlist.segmentCount, expected);
  });
}

test("splice: options (order by PROGRAM-DATE-TIME, gap segments) and the summary", () => {
  const late = Playlist.parse(media([2], { pdt: "2024-01-01T01:00:00Z" }), "http://h/late/i.m3u8");
  const early = Playlist.parse(media([2, 2], { pdt: T0 }), "http://h/early/i.m3u8");
  const byTime = Playlist.splice([late, early], { order: "programDateTime" });
  assert.deepEqual(byTime.summary.order, [1, 0]);
  assert.equal(byTime.playlist.segments(0, 1)[0].resolvedUri, "http://h/early/seg0.ts");
  const close = Playlist.parse(media([2], { pdt: "2024-01-01T00:00:07Z" }), "http://h/c/i.m3u8");
  const gaps = Playlist.splice([early, close], { gaps: "gapSegments" });
  assert.deepEqual(gaps.summary.joins, [{ segment: 4, discontinuity: true, reason: "gap", gapSeconds: 3, gapSegments: 2 }]);
  assert.deepEqual(gaps.playlist.segments(0, 9).map((s) => s.gap), [false, false, true, true, false]);
  assertAgrees(gaps.playlist);
  const tolerant = Playlist.splice([early, close], { toleranceMs: 5000 });
  assert.deepEqual(tolerant.summary.joins.map((j) => j.discontinuity), [false]);
  // Separate recordings: a discontinuity at every join, however well the times line up.
  const separate = Playlist.splice([early, close], { toleranceMs: 5000, joins: "discontinuity" });
  assert.deepEqual(separate.summary.joins.map((j) => j.discontinuity), [true]);
  assert.equal(separate.playlist.segments(0, 9).filter((s) => s.discontinuity).length, 1);
});

test("splice and parse: misuse and impossible requests throw coded errors", () => {
  const a = Playlist.parse(media([2]));
  assert.throws(() => Playlist.splice([]), { code: "MissingArgument" });
  assert.throws(() => Playlist.splice("a"), { code: "InvalidArgument" });
  assert.throws(() => Playlist.splice([a, { handle: 99999 }]), { code: "InvalidArgument" });
  assert.throws(() => Playlist.splice([a], { order: "random" }), { code: "InvalidArgument" });
  assert.throws(() => Playlist.splice([a], { toleranceMs: -1 }), { code: "InvalidArgument" });
  assert.throws(() => Playlist.splice([a], { joins: "never" }), { code: "InvalidArgument" });
  assert.throws(() => Playlist.splice([Playlist.parse("#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\nv.m3u8\n")]), { code: "NotMediaPlaylist" });
  assert.throws(() => Playlist.splice([Playlist.parse("#EXTM3U\n#EXT-X-TARGETDURATION:2\n")]), { code: "EmptyPlaylist" });
  const fmp4 = Playlist.parse(media([2], { map: "i.mp4" }));
  assert.throws(() => Playlist.splice([fmp4, a]), { code: "IncompatiblePlaylists" });
  assert.throws(() => Playlist.parse(5), { code: "InvalidArgument" });
  assert.throws(() => Playlist.parse(), { code: "MissingArgument" });
  assert.throws(() => Playlist.parse("#EXTM3U\n", 7), { code: "InvalidArgument" });
  assert.throws(() => Playlist.parse("#".repeat(64 * 1024 * 1024 + 1)), { code: "LimitExceeded" });
  const freed = Playlist.parse(media([2]));
  freed.free();
  assert.throws(() => Playlist.splice([a, freed]), { code: "InvalidArgument" });
  assert.equal(Playlist.splice([a, a]).playlist.segmentCount, 2, "inputs are not consumed");
});

test("no input traps: random playlists through every method", () => {
  let seed = 7;
  const rand = (n) => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) % n);
  const pieces = ["#EXTM3U", "#EXTINF:2,", "#EXTINF:-1,", "#EXTINF:1e9,", "#EXT-X-TARGETDURATION:2", "#EXT-X-DISCONTINUITY", "#EXT-X-MAP:URI=\"i.mp4\"", "#EXT-X-MAP:URI=", "#EXT-X-BYTERANGE:10", "#EXT-X-BYTERANGE:5@99999999999999999999", "#EXT-X-PROGRAM-DATE-TIME:2024-01-01T00:00:00Z", "#EXT-X-PROGRAM-DATE-TIME:9999-99", "#EXT-X-KEY:METHOD=AES-128,URI=\"k\"", "#EXT-X-GAP", "#EXT-X-STREAM-INF:BANDWIDTH=1", "#EXT-X-MEDIA-SEQUENCE:18446744073709551615", "#EXT-X-START:TIME-OFFSET=-5", "a.ts", "../b.m4s", "", "\r", "#", "#EXT", "ü\u0000"];
  for (let i = 0; i < 1500; i++) {
    const text = Array.from({ length: rand(30) }, () => pieces[rand(pieces.length)]).join(rand(3) ? "\n" : "\r\n");
    try {
      const p = Playlist.parse(text, rand(2) ? "http://h/x/" : undefined);
      assert.equal(Playlist.parse(p.toString()).toString(), p.toString());
      p.inspect();
      p.validate();
      p.segments(0, 5);
      try { p.clip({ start: rand(10), end: rand(20) }); } catch (e) { assert.equal(typeof e.code, "string"); }
      try { Playlist.splice([p, p], { gaps: "gapSegments" }); } catch (e) { assert.equal(typeof e.code, "string"); }
      p.free();
    } catch (e) {
      assert.ok(!(e instanceof WebAssembly.RuntimeError), `trap on ${JSON.stringify(text)}: ${e}`);
      throw e;
    }
  }
});
