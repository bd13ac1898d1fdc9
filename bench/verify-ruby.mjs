// Runs a pre-initialized ruby.wasm (packed the way `wasi-vfs pack` does) on Node's WASI and
// checks that it still works: the packed /app/hello.rb is read back from the module's own
// file system (no directory is preopened here), and ruby prints its version and the greeting.
//
//   node bench/verify-ruby.mjs OUT.wasm
//
// ruby.wasm is a reactor with a canonical-ABI interface (ruby-init, rb-eval-string-protect);
// this script calls those exports directly, allocating arguments with cabi_realloc.
import { readFileSync } from "node:fs";
import { WASI } from "node:wasi";

const file = process.argv[2];
if (!file) {
  console.error("usage: node verify-ruby.mjs OUT.wasm");
  process.exit(2);
}
const module = await WebAssembly.compile(readFileSync(file));
const wasi = new WASI({ version: "preview1", args: ["ruby"], env: {}, preopens: {} });
const imports = { wasi_snapshot_preview1: wasi.wasiImport };
// Ruby values cross the interface as resource handles: a plain table is enough here.
const handles = [null];
imports.canonical_abi = {
  "resource_new_rb-abi-value": (rep) => handles.push(rep) - 1,
  "resource_get_rb-abi-value": (h) => handles[h],
  "resource_drop_js-abi-value": () => {},
};
// The JS-interop imports are not used by plain Ruby code: link them to traps.
for (const imp of WebAssembly.Module.imports(module)) {
  if (imp.kind !== "function" || imports[imp.module]?.[imp.name]) continue;
  imports[imp.module] ??= {};
  imports[imp.module][imp.name] = () => {
    throw new Error(`unexpected call to ${imp.module}.${imp.name}`);
  };
}
const instance = await WebAssembly.instantiate(module, imports);
const x = instance.exports;
wasi.initialize(instance); // calls _initialize (= __wasi_vfs_rt_init: mounts the packed files)

const enc = new TextEncoder();
const u32 = () => new Uint32Array(x.memory.buffer);
// A string is passed as (pointer, length); ruby also reads it as a C string, so a NUL follows.
function str(s) {
  const b = enc.encode(s);
  const p = x.cabi_realloc(0, 0, 1, b.length + 1);
  new Uint8Array(x.memory.buffer, p, b.length + 1).set([...b, 0]);
  return [p, b.length];
}
function list(strings) {
  const parts = strings.map(str);
  const p = x.cabi_realloc(0, 0, 4, 8 * parts.length);
  parts.forEach(([sp, sl], i) => {
    u32()[p / 4 + 2 * i] = sp;
    u32()[p / 4 + 2 * i + 1] = sl;
  });
  return [p, parts.length];
}
function evalRuby(code) {
  const ret = x["rb-eval-string-protect: func(str: string) -> tuple<handle<rb-abi-value>, s32>"](
    ...str(code));
  const state = u32()[ret / 4 + 1];
  if (state !== 0) throw new Error(`ruby raised (state ${state}) evaluating: ${code}`);
}

x["ruby-show-version: func() -> ()"]();
x["ruby-init: func(args: list<string>) -> ()"](...list(["ruby", "--disable-gems", "-e_=0"]));
evalRuby('load "/app/hello.rb"');
evalRuby('$stdout.flush');
