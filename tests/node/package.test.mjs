// The package as published: files, size budget, TypeScript declarations.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, existsSync } from "node:fs";
import { gzipSync } from "node:zlib";
import { execFileSync } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { pkgDir } from "./load.mjs";

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
      execFileSync(process.execPath, [tsc, "--noEmit", "--strict", "--target", "es2022", "--lib", "es2022,esnext.disposable,dom", "--module", "nodenext", "--moduleResolution", "nodenext", path.join(here, file)], { encoding: "utf8" });
      return "";
    } catch (e) {
      return e.stdout + e.stderr;
    }
  };
  assert.equal(run("types/usage.ts"), "");
  const errors = run("types/misuse.ts");
  const lines = errors.split("\n").filter((l) => l.includes("error TS"));
  assert.equal(lines.length, 4, errors);
});
