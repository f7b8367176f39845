// Splice several recordings with the liverec package and play them with hls.js.
// window.player exposes the state for tests and curious users.
import init, { Playlist } from "../pkg/liverec.js";
import Hls from "./node_modules/hls.js/dist/hls.mjs";

await init();

const $ = (id) => document.getElementById(id);
const player = { spliced: null, summary: null, clipSummary: null, hls: null, errors: [], fatal: [] };
window.player = player;

function status(text, bad = false) {
  $("status").textContent = text;
  $("status").className = bad ? "error" : "";
}

async function load(url) {
  const absolute = new URL(url, location.href).href;
  const response = await fetch(absolute);
  if (!response.ok) throw new Error(`${absolute}: HTTP ${response.status}`);
  return Playlist.parse(await response.text(), absolute);
}

function showJoins(summary) {
  const body = $("joins").tBodies[0];
  body.replaceChildren();
  for (const j of summary.joins) {
    const row = body.insertRow();
    for (const v of [j.segment, j.discontinuity ? "yes" : "no", j.reason ?? "", j.gapSeconds ?? ""]) {
      row.insertCell().textContent = String(v);
    }
  }
  $("joins").hidden = summary.joins.length === 0;
}

function play(playlist) {
  const text = playlist.toString();
  $("playlist").textContent = text;
  const url = URL.createObjectURL(new Blob([text], { type: "application/vnd.apple.mpegurl" }));
  player.hls?.destroy();
  const video = $("video");
  const hls = new Hls({ startPosition: -1 });
  player.hls = hls;
  hls.on(Hls.Events.ERROR, (_, data) => {
    player.errors.push(`${data.type}: ${data.details}`);
    if (data.fatal) {
      player.fatal.push(`${data.type}: ${data.details}`);
      status(`Playback failed: ${data.details}`, true);
    }
  });
  hls.on(Hls.Events.MANIFEST_PARSED, () => video.play().catch((e) => status(`play(): ${e.message}`, true)));
  hls.loadSource(url);
  hls.attachMedia(video);
}

async function spliceAndPlay() {
  const urls = $("sources").value.split("\n").map((s) => s.trim()).filter(Boolean);
  try {
    const playlists = await Promise.all(urls.map(load));
    const { playlist, summary } = Playlist.splice(playlists, { order: $("order").value, gaps: $("gaps").value });
    playlists.forEach((p) => p.free());
    player.spliced?.free();
    player.spliced = playlist;
    player.summary = summary;
    showJoins(summary);
    status(`${summary.segments} segments, ${summary.durationSeconds.toFixed(3)} s, ${summary.joins.filter((j) => j.discontinuity).length} discontinuous join(s).`);
    play(playlist);
  } catch (e) {
    status(`${e.code ?? "Error"}: ${e.message}`, true);
  }
}

function playClip() {
  if (!player.spliced) return status("Splice first.", true);
  const start = Number($("clip-start").value);
  const endText = $("clip-end").value;
  try {
    const range = endText === "" ? { start } : { start, end: Number(endText) };
    const { playlist, summary } = player.spliced.clip(range);
    player.clipSummary = summary;
    status(`Clip: ${summary.segmentCount} segments from segment ${summary.firstSegment}, starting ${summary.startOffsetSeconds} s into it.`);
    play(playlist);
  } catch (e) {
    status(`${e.code ?? "Error"}: ${e.message}`, true);
  }
}

$("splice").addEventListener("click", spliceAndPlay);
$("clip").addEventListener("click", playClip);
const params = new URLSearchParams(location.search);
if (params.has("src")) {
  $("sources").value = params.getAll("src").join("\n");
  await spliceAndPlay();
}
document.body.dataset.ready = "true";
