// Loads the built npm package (../../pkg) the way Node users do with `--target web`:
// import the ES module and instantiate it synchronously with initSync.
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import path from "node:path";

export const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
export const pkgDir = path.join(root, "pkg");

const lib = await import(path.join(pkgDir, "liverec.js"));
lib.initSync({ module: readFileSync(path.join(pkgDir, "liverec_bg.wasm")) });
export default lib;

/** Calls fn and returns the thrown error, failing when nothing is thrown. */
export function thrown(fn) {
  try {
    fn();
  } catch (e) {
    return e;
  }
  throw new Error("expected a throw");
}
