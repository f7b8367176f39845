// Type-checked by package.test.mjs with `tsc --strict` and the default lib: the
// declarations describe real use of every export.
import init, {
  initSync, validateTemplate, validateMixStream, resolveRule, validateRecordTask, planRecording,
  renderFileName, pushSecret, verifyPush, Playlist,
  type TemplateValidation, type RuleResolution, type RecordingPlan, type Problem,
} from "../../../pkg/liverec.js";

declare const bytes: Uint8Array;
initSync({ module: bytes });
async function browser(): Promise<void> {
  await init();
  await init({ module_or_path: "/liverec_bg.wasm" });
}

const v: TemplateValidation = validateTemplate({ TemplateName: "t", HlsParam: { Enable: 1 } });
const firstProblem: Problem | undefined = v.errors[0];
const interval: number = v.template.Mp4Param.RecordInterval;
const mix = validateMixStream({ MixStreamSessionId: "m", InputStreamList: [], OutputParams: { OutputStreamName: "c" } });
const mixErrors: Problem[] = mix.errors;
const found: RuleResolution | null = resolveRule([{ TemplateId: 1, DomainName: "d.com" }], { DomainName: "d.com" });
const level: 1 | 2 | 3 | 4 | undefined = found?.priority;
const task = validateRecordTask({ DomainName: "d", AppName: "live", StreamName: "s", EndTime: 2 }, 1);
const start: number = task.task.StartTime;
const plan: RecordingPlan = planRecording({ templates: [], rules: [], tasks: [] }, { DomainName: "d" }, 1);
const formats: string[] = plan.rule?.outputs.map((o) => o.format) ?? [];
const name: string = renderFileName("", { StreamID: "s", StartMs: 0, EndMs: 1 });
const secret: string = pushSecret("k", "s", "5C271099");
const verdict = verifyPush({ keys: ["k"], StreamName: "s", txSecret: secret, txTime: "5C271099" }, 0);
const idx: number | null = verdict.keyIndex;

// Playlist: the optional arguments may be left out.
const a = Playlist.parse("#EXTM3U\n");
const b = Playlist.parse("#EXTM3U\n", "https://cdn.example/a/index.m3u8");
const spliced = Playlist.splice([a, b]);
const joined: Playlist = Playlist.splice([a, b], { toleranceMs: 250 }).playlist;
const count: number = spliced.playlist.segmentCount;
const base: string | undefined = b.baseUrl;
const text: string = joined.toString();
const clipped: Playlist = a.clip({ start: 0, end: 10 }).playlist;
const firstSegments = a.segments(0, 10).map((s) => s.uri);
const inspected = a.inspect();
const diagnostics = a.validate();
a.free();
export { browser, firstProblem, interval, mixErrors, level, start, formats, name, idx, count, base, text, clipped, firstSegments, inspected, diagnostics };

// The clip export module.
import initExport, { initSync as initExportSync, ClipExport, type ClipExportResult } from "../../../pkg/liverec_export.js";
initExportSync({ module: bytes });
async function exportInBrowser(): Promise<void> {
  await initExport();
}
const clipper = new ClipExport();
clipper.beginRecording();
const samples: Uint8Array = clipper.pushSegment(bytes, 0);
clipper.beginSegment(2);
clipper.write(bytes.subarray(0, 188));
const streamed: Uint8Array = clipper.endSegment().slice();
const pushed: number = clipper.segments + streamed.length;
const notes: string[] = clipper.notes;
const made: ClipExportResult = clipper.finish(0, 10);
const file = new Blob([made.head, samples.slice(made.extents[1], made.extents[1] + made.extents[2])], { type: "video/mp4" });
const total: number = made.bytes + made.durationSeconds + file.size + pushed + notes.length;
clipper.free();
void exportInBrowser;
void total;
