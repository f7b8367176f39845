// The official Node.js SDK (tencentcloud-sdk-nodejs, live v20180801) against a real
// `liverec serve` on a non-default port: it signs the host without the port and sends
// `Host: 127.0.0.1:PORT`; both request methods; errors come back as SDK exceptions
// with the reference's codes.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { execFileSync } from "node:child_process";
import { freePort } from "./ports.mjs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import * as tencentcloud from "tencentcloud-sdk-nodejs";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");

const BIN = process.env.LIVEREC_BIN ?? path.join(root, "target/debug/liverec");
const SECRET_ID = "AKIDnodesdk";
const SECRET_KEY = "node-sdk-secret-key";
const LiveClient = tencentcloud.live.v20180801.Client;
let server;
let port;
let dir;


before(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), "liverec-node-sdk-"));
  port = await freePort();
  const rtmp = await freePort();
  server = spawn(BIN, ["serve", "--data", path.join(dir, "data"), "--http", `127.0.0.1:${port}`,
    "--rtmp", `127.0.0.1:${rtmp}`], {
    env: { ...process.env, LIVEREC_SECRET_ID: SECRET_ID, LIVEREC_SECRET_KEY: SECRET_KEY, RUST_LOG: "warn" },
    stdio: "ignore",
  });
  for (let i = 0; i < 200; i++) {
    try {
      if ((await fetch(`http://127.0.0.1:${port}/healthz`)).ok) return;
    } catch {
      // not yet listening
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error("liverec did not start");
});

after(() => {
  server?.kill();
  rmSync(dir, { recursive: true, force: true });
});

function client(reqMethod = "POST", secretKey = SECRET_KEY) {
  return new LiveClient({
    credential: { secretId: SECRET_ID, secretKey },
    region: "ap-guangzhou",
    profile: { httpProfile: { endpoint: `127.0.0.1:${port}`, protocol: "http://", reqMethod } },
  });
}

test("templates, rules and describes through the Node.js SDK (POST)", async () => {
  const live = client();
  const { TemplateId } = await live.CreateLiveRecordTemplate({
    TemplateName: "node_mp4", Mp4Param: { Enable: 1, RecordInterval: 3600 },
  });
  assert.ok(TemplateId > 0);
  const { Template } = await live.DescribeLiveRecordTemplate({ TemplateId });
  assert.equal(Template.TemplateName, "node_mp4");
  assert.equal(Template.Mp4Param.RecordInterval, 3600);
  await live.CreateLiveRecordRule({ DomainName: "push.example.com", AppName: "live", TemplateId });
  const { Rules } = await live.DescribeLiveRecordRules({});
  assert.equal(Rules.length, 1);
  assert.equal(Rules[0].DomainName, "push.example.com");
  const cb = await live.CreateLiveCallbackTemplate({
    TemplateName: "hook", RecordNotifyUrl: "http://127.0.0.1:9/cb", CallbackKey: "k",
  });
  assert.ok(cb.TemplateId > 0);
  const { Templates } = await live.DescribeLiveCallbackTemplates({});
  assert.equal(Templates[0].RecordNotifyUrl, "http://127.0.0.1:9/cb");
});

test("GET requests are signed over the query and the host without its port", async () => {
  const { Templates } = await client("GET").DescribeLiveRecordTemplates({});
  assert.ok(Templates.some((t) => t.TemplateName === "node_mp4"));
});

test("errors reach the SDK as exceptions with the reference's codes", async () => {
  await assert.rejects(client().DescribeLiveRecordTemplate({ TemplateId: 999 }),
    (e) => e.code === "FailedOperation.NotFound" && /template 999/.test(e.message));
  await assert.rejects(client().CreateLiveRecordRule({ DomainName: "push.example.com", AppName: "live", TemplateId: 1 }),
    (e) => e.code === "FailedOperation.RuleAlreadyExist");
  await assert.rejects(client("POST", "wrong-key").DescribeLiveRecordTemplates({}),
    (e) => e.code === "AuthFailure.SignatureFailure");
});

test("the README's Node.js SDK example works as written", () => {
  const readme = readFileSync(path.join(root, "README.md"), "utf8");
  const block = readme.split("<!-- example: node-sdk -->")[1].split("```")[1];
  const code = block.slice(block.indexOf("\n") + 1).replaceAll("127.0.0.1:8080", `127.0.0.1:${port}`)
    .replaceAll("AKIDexample", SECRET_ID).replaceAll("example-secret-key", SECRET_KEY);
  // Beside this file, so the import resolves to tests/node/node_modules.
  const file = path.join(root, "tests/node", ".readme-example.mjs");
  writeFileSync(file, code);
  try {
    const out = execFileSync("node", [file], { encoding: "utf8" });
    assert.match(out, /^\d+ \d+\n$/);
  } finally {
    rmSync(file, { force: true });
  }
});
