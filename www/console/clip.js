// Stitch and clip: pick HLS recordings of a stream, splice them in the browser with the
// package's Playlist.splice, preview the result with hls.js, mark in and out on the
// player, and export the clip as an MP4 made here without re-encoding and without
// server work — the package's second module (pkg/liverec_export.js) demuxes each .ts
// segment as its bytes arrive (read into one reused buffer) and keeps only sample
// references; the sample bytes wait in Blobs, and the file is a Blob of the head it
// writes and slices of those. The page holds about one segment's samples at a time,
// whatever the clip's length. (Fetching in a worker was tried: no faster on 2 cores,
// where the browser's own network work is the larger part.)
import { call } from "./api.js";
import { duration, h, notice, pkg, show, size, when } from "./ui.js";

/** Segments requested ahead while one is demuxed. */
const FETCH_AHEAD = 4;
/** Bytes read from a response at a time, into one buffer reused for the whole export. */
const READ_BYTES = 1 << 20;
let readBuffer = new ArrayBuffer(READ_BYTES);
const state = { stream: "", spliced: null, segments: [], total: 0, hls: null, playlistUrl: null, exportUrl: null };

function streamForm() {
  const form = h("form", { id: "clip-search", class: "inline", "aria-label": "Find a stream's HLS recordings" },
    h("label", {}, "Stream", h("input", { name: "stream", required: true, value: state.stream })),
    h("button", { type: "submit" }, "Find HLS recordings"));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    state.stream = form.stream.value.trim();
    clip();
  });
  return form;
}

function recordingList(found) {
  const rows = found.map((m, i) => h("tr", {},
    h("td", {}, h("input", { type: "checkbox", name: "pick", value: i, id: `pick-${i}`, checked: true })),
    h("td", {}, h("label", { for: `pick-${i}` }, m.BasicInfo.Name)),
    h("td", {}, when(m.LiveRecordInfo.RecordStartTime)),
    h("td", { class: "num" }, duration(m.MetaData.Duration))));
  const form = h("form", { id: "clip-pick", "aria-label": "Recordings to splice" },
    h("table", {}, h("caption", {}, `${found.length} HLS recording(s) of ${state.stream}, oldest first`),
      h("thead", {}, h("tr", {}, ["Use", "Playlist", "Started", "Duration"].map((t) => h("th", { scope: "col" }, t)))),
      h("tbody", {}, rows)),
    h("p", {}, h("button", { type: "submit" }, "Splice")));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const picked = [...form.querySelectorAll("input[name=pick]:checked")].map((c) => found[Number(c.value)]);
    splice(picked).catch((e) => status(`Splice failed: ${e.code ?? ""} ${e.message}`, true));
  });
  return form;
}

function status(text, error = false) {
  const el = document.getElementById("clip-status");
  if (!el) return;
  el.textContent = text;
  el.className = error ? "error" : "";
}

/** Splices the picked recordings (in start order) and previews the result. */
async function splice(picked) {
  const lib = await pkg;
  if (!lib) return;
  if (!picked.length) return status("Pick at least one recording.", true);
  const playlists = await Promise.all(picked.map(async (m) => {
    const url = new URL(m.BasicInfo.MediaUrl, location.href).href;
    const r = await fetch(url);
    if (!r.ok) throw new Error(`${url}: HTTP ${r.status}`);
    return lib.Playlist.parse(await r.text(), url);
  }));
  const { playlist, summary } = lib.Playlist.splice(playlists, { order: "given", joins: "discontinuity" });
  playlists.forEach((p) => p.free());
  state.spliced?.free();
  state.spliced = playlist;
  let at = 0;
  state.segments = playlist.segments(0, playlist.segmentCount).map((s) => ({ ...s, start: at, end: (at += s.duration) }));
  state.total = at;
  const joins = summary.joins?.filter((j) => j.discontinuity).length ?? 0;
  document.getElementById("clip-summary").textContent =
    `${picked.length} recording(s), ${state.segments.length} segments, ${at.toFixed(1)} s, ${joins} discontinuit${joins === 1 ? "y" : "ies"}.`;
  document.getElementById("clip-in").value = "0";
  document.getElementById("clip-out").value = Math.min(at, 10).toFixed(1);
  document.getElementById("clip-editor").hidden = false;
  await preview(playlist.toString());
}

async function preview(text) {
  const video = document.getElementById("clip-video");
  state.hls?.destroy();
  if (state.playlistUrl) URL.revokeObjectURL(state.playlistUrl);
  state.playlistUrl = URL.createObjectURL(new Blob([text], { type: "application/vnd.apple.mpegurl" }));
  try {
    const { default: Hls } = await import("./vendor/hls.mjs");
    state.hls = new Hls();
    state.hls.on(Hls.Events.ERROR, (_, data) => {
      if (data.fatal) status(`Preview failed: ${data.type} ${data.details}`, true);
    });
    state.hls.loadSource(state.playlistUrl);
    state.hls.attachMedia(video);
  } catch (e) {
    status(`hls.js is not built into this server (${e.message}): run npm ci in www/, then build the server again.`, true);
  }
}

function mark(which) {
  const t = document.getElementById("clip-video").currentTime;
  document.getElementById(`clip-${which}`).value = t.toFixed(2);
  showLength();
}

function marks() {
  const inS = Number(document.getElementById("clip-in").value);
  const outS = Number(document.getElementById("clip-out").value);
  return { inS, outS, ok: Number.isFinite(inS) && Number.isFinite(outS) && inS >= 0 && outS > inS && inS < state.total };
}

function showLength() {
  const { inS, outS, ok } = marks();
  document.getElementById("clip-length").textContent = ok ? `Clip: ${(outS - inS).toFixed(2)} s` : "Set an in point before the out point.";
}

/** Responses of `segments` in order (bodies read by the caller), requested at most
 * FETCH_AHEAD ahead of the one being read: `next(i)` resolves to the i-th. */
function requested(segments) {
  const get = (s) => fetch(s.resolvedUri).then((r) => {
    if (!r.ok) throw new Error(`${s.resolvedUri}: HTTP ${r.status}`);
    return r;
  });
  const queue = segments.slice(0, FETCH_AHEAD).map(get);
  queue.forEach((p) => p.catch(() => {})); // failures surface when awaited
  return async (i) => {
    const response = await queue[i];
    queue[i] = null;
    if (i + FETCH_AHEAD < segments.length) {
      const ahead = get(segments[i + FETCH_AHEAD]);
      ahead.catch(() => {});
      queue.push(ahead);
    }
    return response;
  };
}

/** Hands `response`'s body to `write` chunk by chunk, read into one reused buffer
 * (a BYOB reader) where the browser has them: no allocation per chunk. */
async function readInto(response, write) {
  let reader = null;
  try {
    reader = response.body.getReader({ mode: "byob" });
  } catch {
    const plain = response.body.getReader();
    for (;;) {
      const { value, done } = await plain.read();
      if (done) return;
      write(value);
    }
  }
  if (!readBuffer.byteLength) readBuffer = new ArrayBuffer(READ_BYTES); // lost to a failed read
  for (;;) {
    const { value, done } = await reader.read(new Uint8Array(readBuffer));
    if (value) readBuffer = value.buffer; // the read transferred it
    if (done) return;
    write(value);
  }
}

/** Demuxes `wanted` segment by segment as their bytes arrive; returns each segment's
 * sample data as a Blob (the extents of `finish` point into them). */
async function demuxAll(clipper, wanted, spent, progress) {
  const next = requested(wanted);
  const samples = [];
  const write = (chunk) => {
    const t = performance.now();
    clipper.write(chunk);
    spent.demux += performance.now() - t;
  };
  for (let i = 0; i < wanted.length; i++) {
    const s = wanted[i];
    const response = await next(i);
    if (i > 0 && (s.discontinuity || s.index !== wanted[i - 1].index + 1)) clipper.beginRecording();
    clipper.beginSegment(s.start);
    await readInto(response, write);
    const t0 = performance.now();
    const data = clipper.endSegment();
    const t1 = performance.now();
    samples.push(new Blob([data]));
    spent.demux += t1 - t0;
    spent.blob += performance.now() - t1;
    spent.heap = Math.max(spent.heap, performance.memory?.usedJSHeapSize ?? 0);
    progress.value = i + 1;
  }
  return samples;
}

/** Exports [in, out) as an MP4: see the file's doc. */
async function exportClip() {
  const { inS, outS, ok } = marks();
  if (!ok) return status("Set an in point before the out point.", true);
  const started = performance.now();
  const wanted = state.segments.filter((s) => s.end > inS && s.start < outS && !s.gap);
  const progress = document.getElementById("clip-progress");
  progress.max = wanted.length;
  progress.value = 0;
  const lib = await import("./pkg/liverec_export.js");
  const wasm = await lib.default();
  const clipper = new lib.ClipExport();
  try {
    const spent = { demux: 0, blob: 0, heap: 0 };
    const samples = await demuxAll(clipper, wanted, spent, progress);
    const done = clipper.finish(inS, outS);
    const parts = [done.head];
    for (let k = 0; k < done.extents.length; k += 3) {
      const [source, offset, length] = [done.extents[k], done.extents[k + 1], done.extents[k + 2]];
      parts.push(samples[source].slice(offset, offset + length));
    }
    const file = new Blob(parts, { type: "video/mp4" });
    const seconds = (performance.now() - started) / 1000;
    offer(file, inS, outS);
    const heap = spent.heap;
    const figures = { seconds, bytes: file.size, durationSeconds: done.durationSeconds, segments: wanted.length,
      heapBytes: heap, wasmBytes: wasm.memory.buffer.byteLength,
      demuxSeconds: spent.demux / 1000, blobSeconds: spent.blob / 1000,
      waitSeconds: seconds - (spent.demux + spent.blob) / 1000 };
    document.getElementById("clip-result").dataset.figures = JSON.stringify(figures);
    const mb = (n) => `${(n / 1048576).toFixed(1)} MiB`;
    status(`Exported ${done.durationSeconds.toFixed(2)} s from ${wanted.length} segments in ${seconds.toFixed(2)} s` +
      (heap ? `; JS heap at most ${mb(heap)}` : "") + `, wasm memory ${mb(figures.wasmBytes)}.`);
    for (const note of clipper.notes) notice(`Export: ${note}`);
  } catch (e) {
    status(`Export failed: ${e.code ?? ""} ${e.message}`, true);
  } finally {
    clipper.free();
  }
}

/** Puts the exported file behind the save link. */
function offer(file, inS, outS) {
  if (state.exportUrl) URL.revokeObjectURL(state.exportUrl);
  state.exportUrl = URL.createObjectURL(file);
  const name = `${state.stream}-${inS.toFixed(1)}-${outS.toFixed(1)}.mp4`;
  const link = document.getElementById("clip-save");
  link.href = state.exportUrl;
  link.download = name;
  link.textContent = `Save ${name} (${size(file.size)})`;
  link.hidden = false;
}

function editor() {
  const video = h("video", { id: "clip-video", controls: true, muted: true, "aria-label": "Preview of the spliced recordings" });
  const number = (id, label) => h("label", {}, label, h("input", { id, type: "number", min: 0, step: 0.01, value: 0, oninput: showLength }));
  return h("div", { id: "clip-editor", hidden: true },
    h("p", { id: "clip-summary" }),
    video,
    h("div", { class: "inline" },
      h("button", { type: "button", onclick: () => mark("in") }, "Mark in"),
      number("clip-in", "In (s)"),
      h("button", { type: "button", onclick: () => mark("out") }, "Mark out"),
      number("clip-out", "Out (s)"),
      h("span", { id: "clip-length", role: "status" })),
    h("p", {}, h("button", { type: "button", id: "clip-export", onclick: () => exportClip() }, "Export MP4"), " ",
      h("progress", { id: "clip-progress", value: 0, max: 1, "aria-label": "Export progress" })),
    h("div", { id: "clip-result" }, h("a", { id: "clip-save", hidden: true }, "")));
}

export async function clip() {
  let found = [];
  if (state.stream) {
    const r = await call("SearchMedia", { StreamIds: [state.stream], FileFormat: "hls", Sort: { Field: "CreateTime", Order: "Asc" }, Offset: 0, Limit: 100 });
    found = r.MediaInfoSet;
  }
  show(h("section", { id: "clip", "aria-labelledby": "clip-title" },
    h("h1", { id: "clip-title" }, "Stitch and clip"),
    h("p", {}, "Splice HLS recordings of a stream, mark a clip on the player, and export it as an MP4 made in this browser (no re-encoding, no server work)."),
    streamForm(),
    state.stream ? (found.length ? recordingList(found) : h("p", { class: "empty" }, `No HLS recordings of ${state.stream}.`)) : null,
    h("p", { id: "clip-status", role: "status" }),
    editor()));
}
