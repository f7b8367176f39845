#!/usr/bin/env node
// Finishes the npm package wasm-pack built in pkg/ (scripts/build-pkg.sh runs it):
//
// - The generated module becomes `liverec_glue.js`; `liverec.js`, the entry, re-exports
//   it with guards: a call before `init`/`initSync` throws an Error with code
//   `NotInitialized` (not "reading '__wbindgen_add_to_stack_pointer'"); using a freed
//   `Playlist` throws `FreedPlaylist`; `await init()` in Node without the bytes throws
//   `NodeNeedsInitSync`, saying how (Node's fetch cannot read the file: URL the browser
//   path uses). Internal exports (`start`) are not re-exported.
// - `liverec.d.ts` is the generated declarations without `[Symbol.dispose]` (declared
//   only in lib `esnext.disposable`: a project on the default lib could not type-check
//   the package without `skipLibCheck`) and without internal exports.
// - `package.json` lists the new file and keeps the entry's side effects.
//
// Run once per module: `finish-pkg.mjs pkg` for the core (`liverec`), then
// `finish-pkg.mjs pkg liverec_export` for the clip export module copied beside it.
//
// Hand-written because no tool does this: wasm-bindgen's glue has no init guard, and
// it declares `Symbol.dispose` unconditionally.
import { readFileSync, writeFileSync, renameSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const pkg = process.argv[2] ?? path.join(path.dirname(fileURLToPath(import.meta.url)), "..", "pkg");
const NAME = process.argv[3] ?? "liverec";
const CORE = NAME === "liverec";
const file = (name) => path.join(pkg, name);
const INTERNAL = new Set(["start"]);
// What each module must export (a check that the glue is the expected one).
const EXPECTED = CORE ? ["validateTemplate", "Playlist"] : ["ClipExport"];
const SPECIFIER = CORE ? "liverec" : `liverec/${NAME}.js`;

const ENTRY_MARK = "// liverec: the npm package's entry";
// A fresh wasm-pack build wrote NAME.js: it is the glue (a second run finds the entry).
if (!readFileSync(file(`${NAME}.js`), "utf8").startsWith(ENTRY_MARK)) {
  renameSync(file(`${NAME}.js`), file(`${NAME}_glue.js`));
}
const glue = readFileSync(file(`${NAME}_glue.js`), "utf8");
let dts = readFileSync(file(`${NAME}.d.ts`), "utf8");

// Declarations: no Symbol.dispose, no internal functions.
dts = dts.replace(/^\s*\[Symbol\.dispose\]\(\): void;\n/gm, "");
for (const name of INTERNAL) {
  dts = dts.replace(new RegExp(`^(?:/\\*\\*(?:(?!\\*/)[\\s\\S])*\\*/\\n)?export function ${name}\\(\\): void;\\n`, "m"), "");
}
if (/Symbol\.dispose/.test(dts)) throw new Error(`${NAME}.d.ts still names Symbol.dispose`);
writeFileSync(file(`${NAME}.d.ts`), dts);

// The entry's exports: every function and class the glue exports.
const functions = [...glue.matchAll(/^export function (\w+)\(/gm)].map((m) => m[1])
  .filter((name) => !INTERNAL.has(name) && name !== "initSync");
const classes = [...glue.matchAll(/^export class (\w+)/gm)].map((m) => m[1]);
if (!EXPECTED.every((name) => functions.includes(name) || classes.includes(name))) {
  throw new Error(`unexpected glue exports: ${functions} ${classes}`);
}

const entry = `${ENTRY_MARK} (made by scripts/finish-pkg.mjs). The wasm-bindgen
// glue is ${NAME}_glue.js; this module guards it so misuse throws coded Errors.
import * as glue from "./${NAME}_glue.js";

let ready = false;
const inNode = typeof process === "object" && typeof process.versions?.node === "string";

function coded(code, message) {
  const error = new Error(message);
  error.code = code;
  return error;
}

function whenReady(name, fn) {
  return function (...args) {
    if (!ready) {
      throw coded("NotInitialized", \`liverec: \${name} was called before the module was initialised: \` +
        "await init() first (in Node: initSync({ module: bytes }), see the README)");
    }
    return fn.apply(this, args);
  };
}

function bytesGiven(input) {
  const source = input && typeof input === "object" && "module_or_path" in input ? input.module_or_path : input;
  return source !== undefined && typeof source !== "string" && !(source instanceof URL) &&
    !(typeof Request === "function" && source instanceof Request);
}

/** Initialises the module (browsers: fetches ${NAME}_bg.wasm beside this file). */
export default async function init(input) {
  if (inNode && !bytesGiven(input)) {
    throw coded("NodeNeedsInitSync", "liverec: in Node, init() cannot fetch ${NAME}_bg.wasm (a file: URL); " +
      "read it and call initSync({ module: readFileSync(new URL(\\"${NAME}_bg.wasm\\", import.meta.resolve(\\"${SPECIFIER}\\"))) })");
  }
  const output = await glue.default(input);
  ready = true;
  return output;
}

/** Initialises the module from its bytes or a compiled WebAssembly.Module. */
export function initSync(module) {
  const output = glue.initSync(module);
  ready = true;
  return output;
}

function guardClass(cls) {
  for (const name of Object.getOwnPropertyNames(cls)) {
    const d = Object.getOwnPropertyDescriptor(cls, name);
    if (typeof d.value === "function" && !name.startsWith("__")) {
      Object.defineProperty(cls, name, { ...d, value: whenReady(\`\${cls.name}.\${name}\`, d.value) });
    }
  }
  for (const name of Object.getOwnPropertyNames(cls.prototype)) {
    if (name === "constructor" || name === "free" || name.startsWith("__")) continue;
    const d = Object.getOwnPropertyDescriptor(cls.prototype, name);
    const alive = (fn) => function (...args) {
      if (!this.__wbg_ptr) {
        throw coded(\`Freed\${cls.name}\`, \`liverec: \${cls.name}.\${name} on a \${cls.name} that was freed\`);
      }
      return fn.apply(this, args);
    };
    Object.defineProperty(cls.prototype, name, {
      ...d,
      ...(d.value ? { value: alive(d.value) } : {}),
      ...(d.get ? { get: alive(d.get) } : {}),
    });
  }
  // \`new\` before init: a coded Error too (ClipExport is made with new).
  return new Proxy(cls, {
    construct(target, args, newTarget) {
      if (!ready) {
        throw coded("NotInitialized", \`liverec: new \${cls.name}() before the module was initialised: await init() first\`);
      }
      return Reflect.construct(target, args, newTarget);
    },
  });
}

${functions.map((f) => `export const ${f} = whenReady("${f}", glue.${f});`).join("\n")}
${classes.map((c) => `export const ${c} = guardClass(glue.${c});`).join("\n")}
`;
writeFileSync(file(`${NAME}.js`), entry);

const meta = JSON.parse(readFileSync(file("package.json"), "utf8"));
const mine = CORE ? [`${NAME}_glue.js`] : [`${NAME}.js`, `${NAME}_glue.js`, `${NAME}_bg.wasm`, `${NAME}.d.ts`];
meta.files = [...new Set([...(meta.files ?? []), ...mine])];
meta.sideEffects = [...new Set([...(CORE ? [] : meta.sideEffects ?? []), `./${NAME}.js`, "./snippets/*"])];
writeFileSync(file("package.json"), JSON.stringify(meta, null, 2) + "\n");
console.log(`pkg/${NAME}.js: entry guards ${functions.length} functions and ${classes.join(", ")}`);
