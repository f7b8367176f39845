// Every exported function of the npm package, including its error paths.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { execFileSync, spawnSync } from "node:child_process";
import path from "node:path";
import lib, { root, thrown } from "./load.mjs";

const NOW = 1_800_000_000;
const fixture = (name) => JSON.parse(readFileSync(path.join(root, "tests/fixtures", name), "utf8"));

function assertMisuse(fn, code, pattern) {
  const e = thrown(fn);
  assert.ok(e instanceof Error, `expected an Error, got ${e}`);
  assert.ok(!(e instanceof WebAssembly.RuntimeError), "a trap escaped");
  assert.equal(e.code, code, e.message);
  if (pattern) assert.match(e.message, pattern);
}

test("validateTemplate: a valid body with defaults filled in", () => {
  const r = lib.validateTemplate(fixture("valid_template.json"));
  assert.equal(r.ok, true);
  assert.deepEqual(r.errors, []);
  assert.equal(r.template.Mp4Param.RecordInterval, 3600);
  assert.equal(r.template.FlvParam.Enable, 0);
  assert.equal(r.template.FlvParam.StorageMode, "normal");
  assert.equal(r.template.FlvParam.ClassId, null);
  assert.deepEqual(r.template.FlvSpecialParam, { UploadInRecording: true });
  assert.deepEqual(Object.keys(r.template), [
    "TemplateName", "Description", "FlvParam", "HlsParam", "Mp4Param", "AacParam", "IsDelayLive",
    "HlsSpecialParam", "Mp3Param", "RemoveWatermark", "CosStore", "FlvSpecialParam",
  ]);
});

test("validateTemplate: no format enabled is valid (do not record)", () => {
  const r = lib.validateTemplate({ TemplateName: "off" });
  assert.equal(r.ok, true);
  for (const p of ["FlvParam", "HlsParam", "Mp4Param", "AacParam"]) assert.equal(r.template[p].Enable, 0);
});

test("validateTemplate: range edges report InvalidParameterValue with the field path", () => {
  const cases = [
    ["FlvParam", "RecordInterval", 60, true], ["FlvParam", "RecordInterval", 59, false],
    ["Mp4Param", "RecordInterval", 43200, true], ["Mp4Param", "RecordInterval", 43201, false],
    ["AacParam", "RecordInterval", 7200, true], ["AacParam", "RecordInterval", 7201, false],
    ["HlsParam", "StorageTime", 129600000, true], ["HlsParam", "StorageTime", 129600001, false],
    ["HlsSpecialParam", "FlowContinueDuration", 1800, true], ["HlsSpecialParam", "FlowContinueDuration", 1801, false],
  ];
  for (const [param, field, value, ok] of cases) {
    const r = lib.validateTemplate({ TemplateName: "t", [param]: { [field]: value } });
    assert.equal(r.ok, ok, `${param}.${field}=${value}`);
    if (!ok) assert.deepEqual(r.errors.map((e) => [e.code, e.field]), [["InvalidParameterValue", `${param}.${field}`]]);
  }
});

test("validateTemplate: the CLI reports exactly the same errors", () => {
  const bin = process.env.LIVEREC_BIN ?? path.join(root, "target/debug/liverec");
  const file = path.join(root, "tests/fixtures/invalid_template.json");
  const run = spawnSync(bin, ["template", "validate", file], { encoding: "utf8" });
  assert.equal(run.status, 1, run.stderr);
  const cli = JSON.parse(run.stdout);
  const js = lib.validateTemplate(fixture("invalid_template.json"));
  assert.equal(js.ok, false);
  assert.equal(js.errors.length, 12);
  assert.deepEqual(js.errors, cli.errors);
  assert.deepEqual(js, cli);
});

test("validateTemplate: misuse throws an Error with a code", () => {
  assertMisuse(() => lib.validateTemplate(), "MissingArgument");
  assertMisuse(() => lib.validateTemplate(null), "InvalidArgument", /must be an object/);
  assertMisuse(() => lib.validateTemplate(42), "InvalidArgument");
  assertMisuse(() => lib.validateTemplate([{ TemplateName: "t" }]), "InvalidArgument");
  const cyclic = { TemplateName: "t" };
  cyclic.self = cyclic;
  assertMisuse(() => lib.validateTemplate(cyclic), "InvalidArgument", /JSON/);
  assertMisuse(() => lib.validateTemplate({ TemplateName: "t", FlvParam: { Enable: 1n } }), "InvalidArgument");
  let deep = {};
  for (let i = 0; i < 500; i++) deep = { FlvParam: deep };
  assertMisuse(() => lib.validateTemplate(deep), "InvalidArgument", /recursion/);
});

test("resolveRule: every priority level, ties, no match", () => {
  const rules = fixture("rules.json").Rules;
  const at = (AppName, StreamName) => lib.resolveRule(rules, { DomainName: "push.example.com", AppName, StreamName });
  assert.deepEqual([at("live", "cam1").priority, at("live", "cam1").rule.TemplateId], [1, 1]);
  assert.deepEqual([at("x", "cam1").priority, at("x", "cam1").rule.TemplateId], [2, 2]);
  assert.deepEqual([at("live", "x").priority, at("live", "x").rule.TemplateId], [3, 3]);
  assert.deepEqual([at("x", "x").priority, at("x", "x").rule.TemplateId], [4, 4]);
  assert.equal(lib.resolveRule(rules, { DomainName: "other.com", AppName: "live", StreamName: "cam1" }), null);
  assert.equal(lib.resolveRule([], { DomainName: "a.com" }), null);
  const tie = [{ TemplateId: 7, DomainName: "a.com" }, { TemplateId: 8, DomainName: "A.COM" }];
  assert.equal(lib.resolveRule(tie, { DomainName: "a.com", AppName: "live", StreamName: "s" }).rule.TemplateId, 7);
  const r = lib.resolveRule([{ TemplateId: 5, DomainName: "a.com" }], { DomainName: "a.com" });
  assert.deepEqual(r, { rule: { TemplateId: 5, DomainName: "a.com", AppName: "", StreamName: "", CreateTime: "", UpdateTime: "" }, priority: 4 });
});

test("resolveRule: misuse", () => {
  assertMisuse(() => lib.resolveRule({}, { DomainName: "a" }), "InvalidArgument");
  assertMisuse(() => lib.resolveRule([{ DomainName: 5 }], { DomainName: "a" }), "InvalidArgument", /rules\.\[0\]\.DomainName|rules\[0\]\.DomainName/);
  assertMisuse(() => lib.resolveRule([], {}), "MissingArgument", /DomainName/);
  assertMisuse(() => lib.resolveRule([]), "MissingArgument");
  assertMisuse(() => lib.resolveRule([], "a.com"), "InvalidArgument");
});

test("validateRecordTask: time rules against now", () => {
  const base = { DomainName: "d.com", AppName: "live", StreamName: "s" };
  const ok = lib.validateRecordTask({ ...base, EndTime: NOW + 60 }, NOW);
  assert.equal(ok.ok, true);
  assert.equal(ok.task.StartTime, NOW);
  assert.equal(ok.task.TemplateId, 0);
  const cases = [
    [{ EndTime: NOW }, false],
    [{ EndTime: NOW + 1 }, true],
    [{ StartTime: NOW, EndTime: NOW + 86400 }, true],
    [{ StartTime: NOW, EndTime: NOW + 86401 }, false],
    [{ StartTime: NOW + 604700, EndTime: NOW + 604799 }, true],
    [{ StartTime: NOW + 604700, EndTime: NOW + 604800 }, false],
    [{ StartTime: NOW + 10, EndTime: NOW + 10 }, false],
  ];
  for (const [times, want] of cases) {
    const r = lib.validateRecordTask({ ...base, ...times }, NOW);
    assert.equal(r.ok, want, JSON.stringify(times));
    if (!want) assert.ok(r.errors.every((e) => e.code === "InvalidParameter.InvalidTaskTime" && e.field === "EndTime"));
  }
  const missing = lib.validateRecordTask({}, NOW);
  assert.deepEqual(missing.errors.map((e) => e.field), ["DomainName", "AppName", "StreamName", "EndTime"]);
  assert.ok(missing.errors.every((e) => e.code === "MissingParameter"));
  const typed = lib.validateRecordTask({ ...base, EndTime: NOW + 5, StreamType: 2 }, NOW);
  assert.deepEqual(typed.errors.map((e) => [e.code, e.field]), [["InvalidParameterValue", "StreamType"]]);
});

test("validateRecordTask: misuse", () => {
  assertMisuse(() => lib.validateRecordTask({ EndTime: 1 }), "InvalidArgument", /nowUnixSeconds/);
  assertMisuse(() => lib.validateRecordTask({ EndTime: 1 }, "now"), "InvalidArgument");
  assertMisuse(() => lib.validateRecordTask({ EndTime: 1 }, NaN), "InvalidArgument");
  assertMisuse(() => lib.validateRecordTask({ EndTime: 1 }, -1), "InvalidArgument");
  assertMisuse(() => lib.validateRecordTask({ EndTime: 1 }, 1.5), "InvalidArgument");
  assertMisuse(() => lib.validateRecordTask("task", NOW), "InvalidArgument");
});

test("planRecording: rule outputs, tasks beside them, pending tasks", () => {
  const templates = [
    { ...lib.validateTemplate({ TemplateName: "all", FlvParam: { Enable: 1, RecordInterval: 600 }, HlsParam: { Enable: 1 }, HlsSpecialParam: { FlowContinueDuration: 30 } }).template, TemplateId: 1 },
    { ...lib.validateTemplate({ TemplateName: "off" }).template, TemplateId: 2 },
  ];
  const rules = [
    { TemplateId: 1, DomainName: "d.com" },
    { TemplateId: 2, DomainName: "d.com", AppName: "live", StreamName: "quiet" },
  ];
  const tasks = [
    { TaskId: "now", DomainName: "d.com", AppName: "live", StreamName: "quiet", StartTime: NOW - 5, EndTime: NOW + 100 },
    { TaskId: "later", DomainName: "d.com", AppName: "live", StreamName: "quiet", StartTime: NOW + 50, EndTime: NOW + 70 },
  ];
  const cam = lib.planRecording({ templates, rules, tasks }, { DomainName: "d.com", AppName: "live", StreamName: "cam" }, NOW);
  assert.equal(cam.record, true);
  assert.equal(cam.rule.priority, 4);
  assert.deepEqual(cam.rule.outputs.map((o) => [o.format, o.recordIntervalSeconds, o.flowContinueSeconds]), [["flv", 600, null], ["hls", null, 30]]);
  assert.deepEqual(cam.tasks, []);
  const quiet = lib.planRecording({ templates, rules, tasks }, { DomainName: "d.com", AppName: "live", StreamName: "quiet" }, NOW);
  assert.equal(quiet.rule.priority, 1);
  assert.deepEqual(quiet.rule.outputs, []);
  assert.equal(quiet.record, true, "the task records although the rule says not to");
  assert.deepEqual(quiet.tasks.map((t) => [t.task.TaskId, t.endTime, t.outputs.map((o) => o.format)]), [["now", NOW + 100, ["hls"]]]);
  assert.deepEqual(quiet.pendingTasks, [{ taskId: "later", startTime: NOW + 50, endTime: NOW + 70 }]);
  const none = lib.planRecording({}, { DomainName: "x.com" }, NOW);
  assert.deepEqual(none, { record: false, rule: null, tasks: [], pendingTasks: [] });
});

test("planRecording: misuse", () => {
  assertMisuse(() => lib.planRecording([], { DomainName: "d" }, NOW), "InvalidArgument");
  assertMisuse(() => lib.planRecording({ rules: [{ TemplateId: "one" }] }, { DomainName: "d" }, NOW), "InvalidArgument", /TemplateId/);
  assertMisuse(() => lib.planRecording({}, { DomainName: "d" }), "InvalidArgument");
});

test("renderFileName: placeholders, padding, offsets, default pattern", () => {
  // 2024-02-03T04:05:06.007Z .. 04:05:09.089Z
  const times = { StreamID: "cam1", StartMs: 1706933106007, EndMs: 1706933109089, UtcOffsetMinutes: 0 };
  const all = "{StreamID}|{StartYear}|{StartMonth}|{StartDay}|{StartHour}|{StartMinute}|{StartSecond}|{StartMillisecond}|{EndYear}|{EndMonth}|{EndDay}|{EndHour}|{EndMinute}|{EndSecond}|{EndMillisecond}";
  assert.throws(() => lib.renderFileName(all, times), { code: "InvalidParameter.InvalidVodFileName" }, "| is unsafe");
  const dashed = all.replaceAll("|", "-");
  assert.equal(lib.renderFileName(dashed, times), "cam1-2024-02-03-04-05-06-007-2024-02-03-04-05-09-089");
  const { UtcOffsetMinutes, ...utc8 } = times;
  assert.equal(lib.renderFileName("", utc8), "cam1_2024-02-03-12-05-06_2024-02-03-12-05-09");
  assert.equal(lib.renderFileName("{StartHour}{StartMinute}", { ...times, UtcOffsetMinutes: -330 }), "2235");
  assert.equal(lib.renderFileName("{StreamID}", { ...times, StreamID: "../../x/y" }), "___.__x_y");
  const long = lib.renderFileName("{StreamID}", { ...times, StreamID: "s".repeat(1000) });
  assert.equal(long.length, 200);
});

test("renderFileName: errors carry codes", () => {
  const times = { StreamID: "s", StartMs: 0, EndMs: 1 };
  assertMisuse(() => lib.renderFileName("{Nope}", times), "InvalidParameter.InvalidVodFileName", /Nope/);
  assertMisuse(() => lib.renderFileName("a/b", times), "InvalidParameter.InvalidVodFileName");
  assertMisuse(() => lib.renderFileName("x", { ...times, StartMs: -1 }), "InvalidParameterValue", /StartMs/);
  assertMisuse(() => lib.renderFileName("x", { ...times, EndMs: 1.5 }), "InvalidParameterValue", /EndMs/);
  assertMisuse(() => lib.renderFileName("x", { ...times, StartMs: 5, EndMs: 4 }), "InvalidParameterValue");
  assertMisuse(() => lib.renderFileName("x", { ...times, UtcOffsetMinutes: 900 }), "InvalidParameterValue", /UtcOffsetMinutes/);
  assertMisuse(() => lib.renderFileName(5, times), "InvalidArgument");
  assertMisuse(() => lib.renderFileName("x", { StartMs: 0, EndMs: 0 }), "InvalidArgument", /StreamID/);
  assertMisuse(() => lib.renderFileName("x"), "MissingArgument");
});

test("pushSecret: the reference's worked example", () => {
  assert.equal(lib.pushSecret("e12c46f2612d5106e2034781ab261ca3", "test", "5C271099"), "f85a2ab363fe4deaffef9754d79da6fe");
  assertMisuse(() => lib.pushSecret("k", 5, "5C271099"), "InvalidArgument", /streamName/);
  assertMisuse(() => lib.pushSecret("k", "s"), "MissingArgument", /txTime/);
});

test("verifyPush: accept, expire, mismatch, missing, backup key", () => {
  const key = "e12c46f2612d5106e2034781ab261ca3";
  const txTime = "5C271099";
  const expiry = 0x5c271099;
  const push = { keys: [key, "backup"], AuthDelta: 0, StreamName: "test", txSecret: lib.pushSecret(key, "test", txTime), txTime };
  assert.deepEqual(lib.verifyPush(push, expiry), { ok: true, code: null, message: "signed with key 0", keyIndex: 0 });
  const expired = lib.verifyPush(push, expiry + 1);
  assert.deepEqual([expired.ok, expired.code, expired.keyIndex], [false, "AuthFailure.PushSignatureExpire", null]);
  assert.equal(lib.verifyPush({ ...push, AuthDelta: 10 }, expiry + 10).ok, true);
  assert.equal(lib.verifyPush({ ...push, StreamName: "other" }, expiry).code, "AuthFailure.PushSignatureFailure");
  assert.equal(lib.verifyPush({ ...push, txSecret: "" }, expiry).code, "AuthFailure.PushAuthMissing");
  assert.equal(lib.verifyPush({ ...push, txTime: "zz" }, expiry).code, "AuthFailure.InvalidTxTime");
  const backup = lib.verifyPush({ ...push, txSecret: lib.pushSecret("backup", "test", txTime) }, expiry);
  assert.deepEqual([backup.ok, backup.keyIndex], [true, 1]);
  assertMisuse(() => lib.verifyPush({ ...push, keys: "k" }, expiry), "InvalidArgument", /keys/);
  assertMisuse(() => lib.verifyPush(push), "InvalidArgument");
});

test("validateMixStream: each bad layout gets the code and field the API answers", () => {
  for (const { name, body, code, field } of fixture("mix_layouts.json").cases) {
    const r = lib.validateMixStream(body);
    assert.equal(r.ok, false, name);
    assert.equal(r.session, null, name);
    assert.deepEqual([r.errors[0].code, r.errors[0].field], [code, field], name);
    assert.match(r.errors[0].message, /\S/, name);
  }
});

test("validateMixStream: a valid mix reads back as the server stores it", () => {
  const body = fixture("mix_layouts.json").cases[0].body;
  body.InputStreamList[1].LayoutParams = { ImageLayer: 2, ImageWidth: 0.5, ImageHeight: 0.5, LocationX: 0.5, LocationY: 0.5 };
  const r = lib.validateMixStream(body);
  assert.deepEqual(r.errors, []);
  assert.equal(r.ok, true);
  assert.equal(r.session.InputStreamList[1].LayoutParams.ImageWidth, 0.5);
  assert.equal(r.session.InputStreamList[1].LayoutParams.InputType, 0);
  assert.equal(r.session.OutputParams.OutputStreamType, 1);
});

test("no input traps: random values into every function", () => {
  let seed = 12345;
  const rand = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
  const atoms = [null, undefined, true, 0, -1, 1.5, 2 ** 60, NaN, Infinity, "", "{StreamID}", "é\u0000/..", [], {}];
  const keys = ["TemplateName", "FlvParam", "Enable", "RecordInterval", "DomainName", "AppName", "StreamName", "EndTime", "StartTime", "VodFileName", "keys", "txTime", "txSecret", "StreamID", "StartMs", "EndMs", "rules", "templates", "tasks", "MixStreamSessionId", "InputStreamList", "LayoutParams", "ImageLayer", "OutputParams"];
  const value = (depth) => {
    const r = rand();
    if (depth > 3 || r < 0.5) return atoms[Math.floor(rand() * atoms.length)];
    if (r < 0.65) return Array.from({ length: Math.floor(rand() * 3) }, () => value(depth + 1));
    const o = {};
    for (let i = 0; i < 4; i++) o[keys[Math.floor(rand() * keys.length)]] = value(depth + 1);
    return o;
  };
  const calls = [
    (a, b) => lib.validateTemplate(a),
    (a, b) => lib.resolveRule(a, b),
    (a, b) => lib.validateRecordTask(a, NOW),
    (a, b) => lib.planRecording(a, b, NOW),
    (a, b) => lib.renderFileName(a, b),
    (a, b) => lib.pushSecret(a, b, "1"),
    (a, b) => lib.verifyPush(a, NOW),
    (a, b) => lib.validateMixStream(a),
  ];
  for (let i = 0; i < 3000; i++) {
    const call = calls[i % calls.length];
    try {
      call(value(0), value(0));
    } catch (e) {
      assert.ok(e instanceof Error && !(e instanceof WebAssembly.RuntimeError), `trap: ${e}`);
      assert.equal(typeof e.code, "string", `no code on ${e}`);
    }
  }
  // The module still works afterwards.
  assert.equal(lib.validateTemplate({ TemplateName: "t" }).ok, true);
});
