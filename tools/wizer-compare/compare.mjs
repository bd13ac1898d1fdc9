#!/usr/bin/env node
// Decides whether two pre-initialised WebAssembly modules are semantically
// equal at start-up, without running them.
//
// Usage: node compare.mjs [--all] [--no-validate] A.wasm B.wasm
//
// Two pre-initialisers may lay out their output differently (how memory is
// split into data segments, how a constant is encoded) and still produce
// modules that behave identically. So instead of comparing bytes, this tool
// compares what an engine would see right after instantiation:
//
//   * types, imports, function signatures, tables, memory types (min/max),
//     tags, exports (as a name -> kind/index map), start function;
//   * global types and their initial values, evaluated bit-exactly;
//   * function bodies and the element section, byte for byte (both tools are
//     expected to copy them unchanged);
//   * the initial image of each memory, obtained by applying the active data
//     segments to zeroed memory of the declared minimum size;
//   * the contents of every data segment as seen by memory.init after
//     instantiation (passive segments keep their bytes; active segments are
//     dropped by instantiation and therefore look empty);
//   * the data count (present in both or neither, and consistent);
//   * custom sections, by name and contents, in order.
//
// Output: a line with both file sizes and their ratio (B/A), then either
// `equal` (exit status 0) or one line describing the first difference
// (exit status 1; with --all, every difference found). Unreadable input
// exits with status 2.
import { readFileSync } from 'node:fs';
import { parseModule, evalConstExpr, describe, WasmParseError } from './wasm-reader.mjs';

// Internal signal used to stop at the first difference.
class StopComparing extends Error {}

class Comparison {
  constructor(all) {
    this.all = all;
    this.diffs = [];
  }

  differ(msg) {
    this.diffs.push(msg);
    if (!this.all) throw new StopComparing();
  }

  // Compares two values rendered as strings; reports `what: A=.. B=..`.
  same(what, a, b) {
    if (a !== b) this.differ(`${what}: A=${a} B=${b}`);
  }
}

const fmtLimits = (l) =>
  `min ${l.min}${l.max !== null ? ` max ${l.max}` : ''}` +
  `${l.shared ? ' shared' : ''}${l.is64 ? ' i64' : ''}` +
  `${l.pageSizeLog2 !== 16 ? ` pagesize 2^${l.pageSizeLog2}` : ''}`;

const fmtTable = (t) =>
  `${t.elemType} ${fmtLimits(t.limits)}${t.init ? ` init ${hexBytes(t.init.raw)}` : ''}`;

const fmtGlobalType = (t) => (t.mutable ? `(mut ${t.valType})` : t.valType);

function fmtImportDesc(imp) {
  switch (imp.kind) {
    case 'func': return `func type ${imp.desc}`;
    case 'table': return `table ${fmtTable(imp.desc)}`;
    case 'memory': return `memory ${fmtLimits(imp.desc)}`;
    case 'global': return `global ${fmtGlobalType(imp.desc)}`;
    case 'tag': return `tag type ${imp.desc}`;
    default: return imp.kind;
  }
}

function hexBytes(bytes, max = 16) {
  const shown = Array.from(bytes.subarray(0, max), (b) => b.toString(16).padStart(2, '0')).join(' ');
  return bytes.length > max ? `${shown} ...` : shown;
}

function firstDifference(a, b) {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return i;
  return a.length === b.length ? -1 : n;
}

// Compares two byte arrays; reports the first differing offset.
function compareBytes(c, what, a, b) {
  const i = firstDifference(a, b);
  if (i < 0) return;
  if (a.length !== b.length && i === Math.min(a.length, b.length)) {
    c.differ(`${what}: lengths differ, A=${a.length} B=${b.length} bytes (equal up to there)`);
  } else {
    c.differ(`${what}: first difference at byte ${i} of ${a.length}/${b.length}: ` +
      `A=0x${a[i].toString(16).padStart(2, '0')} B=0x${b[i].toString(16).padStart(2, '0')}`);
  }
}

// Evaluates all global initialisers in order, so that `global.get` of an
// earlier (immutable) global resolves to its value.
function evaluateGlobals(m) {
  const values = [];
  for (const g of m.globals) {
    g.value = g.init ? evalConstExpr(g.init, values) : null;
    values.push(g);
  }
  return values.map((g) => (g.value ? describe(g.value) : 'imported'));
}

// --- memory images ---------------------------------------------------------

// Memory images are kept sparsely, in 64 KiB chunks allocated on first
// write, so that a large declared minimum with little data costs nothing.
const CHUNK = 65536;

function offsetOf(seg, m) {
  const v = evalConstExpr(seg.offset, m.globals);
  if (v.type === 'i32' || v.type === 'i64') return v.bits;  // unsigned, BigInt
  throw new WasmParseError(`data segment offset is not a constant integer: ${describe(v)}`);
}

/**
 * Applies the active data segments of module `m` to zeroed memories.
 * Returns { images: [{ size, chunks: Map }], errors: [string] }.
 */
function buildImages(m) {
  const images = m.memories.map((mem) => ({
    size: mem.limits.min * (1n << BigInt(mem.limits.pageSizeLog2)),
    chunks: new Map(),
  }));
  const errors = [];
  m.data.forEach((seg, index) => {
    if (seg.mode !== 'active') return;
    const img = images[seg.memory];
    if (!img) {
      errors.push(`data segment ${index} targets missing memory ${seg.memory}`);
      return;
    }
    const offset = offsetOf(seg, m);
    const len = BigInt(seg.bytes.length);
    if (offset + len > img.size) {
      // Instantiation would trap; nothing after this segment is applied.
      errors.push(`data segment ${index} (memory ${seg.memory}, offset ${offset}, ` +
        `${len} bytes) is out of bounds of ${img.size} bytes`);
      return;
    }
    let pos = Number(offset);
    let src = 0;
    while (src < seg.bytes.length) {
      const key = Math.floor(pos / CHUNK);
      const at = pos % CHUNK;
      const n = Math.min(CHUNK - at, seg.bytes.length - src);
      let chunk = img.chunks.get(key);
      if (!chunk) {
        chunk = new Uint8Array(CHUNK);
        img.chunks.set(key, chunk);
      }
      chunk.set(seg.bytes.subarray(src, src + n), at);
      pos += n;
      src += n;
    }
  });
  return { images, errors };
}

const ZERO_CHUNK = new Uint8Array(CHUNK);

function compareImages(c, index, a, b) {
  const keys = [...new Set([...a.chunks.keys(), ...b.chunks.keys()])].sort((x, y) => x - y);
  const shown = [];   // the first few differing addresses, for the message
  let count = 0;
  for (const key of keys) {
    const ca = a.chunks.get(key) ?? ZERO_CHUNK;
    const cb = b.chunks.get(key) ?? ZERO_CHUNK;
    if (ca === cb) continue;
    for (let i = 0; i < CHUNK; i++) {
      if (ca[i] !== cb[i]) {
        count++;
        if (shown.length < 4) shown.push({ addr: key * CHUNK + i, a: ca[i], b: cb[i] });
      }
    }
  }
  if (count > 0) {
    const h = (v) => v.toString(16).padStart(2, '0');
    const list = shown.map((d) => `0x${d.addr.toString(16)} A=${h(d.a)} B=${h(d.b)}`).join(', ');
    c.differ(`memory ${index} initial contents: ${count} byte(s) differ: ${list}${count > shown.length ? ', ...' : ''}`);
  }
}

// What memory.init sees for segment i right after instantiation: active
// segments have been dropped (behave as empty), passive ones keep their bytes.
const runtimeContents = (seg) => (seg.mode === 'passive' ? seg.bytes : new Uint8Array(0));

// --- the comparison ----------------------------------------------------------

function compareModules(c, A, B) {
  // Types, by index: function bodies refer to them by index, so the index
  // assignment must match, not just the set of types.
  c.same('type count', A.types.length, B.types.length);
  for (let i = 0; i < Math.min(A.types.length, B.types.length); i++) {
    c.same(`type ${i}`, A.types[i], B.types[i]);
  }

  c.same('import count', A.imports.length, B.imports.length);
  for (let i = 0; i < Math.min(A.imports.length, B.imports.length); i++) {
    const fa = `"${A.imports[i].module}" "${A.imports[i].name}" ${fmtImportDesc(A.imports[i])}`;
    const fb = `"${B.imports[i].module}" "${B.imports[i].name}" ${fmtImportDesc(B.imports[i])}`;
    c.same(`import ${i}`, fa, fb);
  }

  c.same('function count', A.funcTypes.length, B.funcTypes.length);
  for (let i = 0; i < Math.min(A.funcTypes.length, B.funcTypes.length); i++) {
    c.same(`function ${i} type index`, A.funcTypes[i], B.funcTypes[i]);
  }

  c.same('table count', A.tables.length, B.tables.length);
  for (let i = 0; i < Math.min(A.tables.length, B.tables.length); i++) {
    c.same(`table ${i}`, fmtTable(A.tables[i].type), fmtTable(B.tables[i].type));
  }

  c.same('memory count', A.memories.length, B.memories.length);
  for (let i = 0; i < Math.min(A.memories.length, B.memories.length); i++) {
    c.same(`memory ${i} type`, fmtLimits(A.memories[i].limits), fmtLimits(B.memories[i].limits));
  }

  c.same('tag count', A.tags.length, B.tags.length);
  for (let i = 0; i < Math.min(A.tags.length, B.tags.length); i++) {
    c.same(`tag ${i} type index`, A.tags[i].type, B.tags[i].type);
  }

  const gvA = evaluateGlobals(A);
  const gvB = evaluateGlobals(B);
  c.same('global count', A.globals.length, B.globals.length);
  for (let i = 0; i < Math.min(A.globals.length, B.globals.length); i++) {
    c.same(`global ${i} type`, fmtGlobalType(A.globals[i].type), fmtGlobalType(B.globals[i].type));
    c.same(`global ${i} initial value`, gvA[i], gvB[i]);
  }

  // Exports: order is irrelevant to an embedder, names are unique.
  const exA = new Map(A.exports.map((e) => [e.name, `${e.kind} ${e.index}`]));
  const exB = new Map(B.exports.map((e) => [e.name, `${e.kind} ${e.index}`]));
  for (const [name, v] of exA) {
    if (!exB.has(name)) c.differ(`export "${name}" (${v}) only in A`);
    else c.same(`export "${name}"`, v, exB.get(name));
  }
  for (const [name, v] of exB) {
    if (!exA.has(name)) c.differ(`export "${name}" (${v}) only in B`);
  }

  c.same('start function', A.start ?? 'none', B.start ?? 'none');

  if (A.elementRaw || B.elementRaw) {
    if (!A.elementRaw || !B.elementRaw) {
      c.differ(`element section only in ${A.elementRaw ? 'A' : 'B'}`);
    } else {
      compareBytes(c, 'element section', A.elementRaw, B.elementRaw);
    }
  }

  c.same('code body count', A.codeBodies.length, B.codeBodies.length);
  for (let i = 0; i < Math.min(A.codeBodies.length, B.codeBodies.length); i++) {
    compareBytes(c, `body of function ${A.importedFuncs + i}`, A.codeBodies[i], B.codeBodies[i]);
  }

  // The data count section must be present whenever code uses memory.init
  // or data.drop, and must then equal the number of segments. The segment
  // counts of A and B may legitimately differ (different layouts), so only
  // presence and internal consistency are compared.
  c.same('data count section present', A.dataCount !== null, B.dataCount !== null);
  for (const [label, m] of [['A', A], ['B', B]]) {
    if (m.dataCount !== null && m.dataCount !== m.data.length) {
      c.differ(`${label}: data count ${m.dataCount} does not match ${m.data.length} data segments`);
    }
  }

  // Initial memory images.
  const imA = buildImages(A);
  const imB = buildImages(B);
  for (const [label, im] of [['A', imA], ['B', imB]]) {
    for (const e of im.errors) c.differ(`${label}: ${e}`);
  }
  for (let i = 0; i < Math.min(imA.images.length, imB.images.length); i++) {
    compareImages(c, i, imA.images[i], imB.images[i]);
  }

  // Data segments as memory.init sees them after instantiation. Extra
  // trailing segments in one module are fine as long as they are empty at
  // run time (e.g. one tool emitting more active snapshot segments).
  const n = Math.max(A.data.length, B.data.length);
  for (let i = 0; i < n; i++) {
    const sa = A.data[i];
    const sb = B.data[i];
    if (sa && sb) {
      compareBytes(c, `data segment ${i} contents after instantiation (A ${sa.mode}, B ${sb.mode})`,
        runtimeContents(sa), runtimeContents(sb));
    } else {
      const [label, seg] = sa ? ['A', sa] : ['B', sb];
      if (runtimeContents(seg).length > 0) {
        c.differ(`passive data segment ${i} (${seg.bytes.length} bytes) only in ${label}`);
      }
    }
  }

  // Custom sections, in order.
  c.same('custom section count', A.customs.length, B.customs.length);
  for (let i = 0; i < Math.min(A.customs.length, B.customs.length); i++) {
    const ca = A.customs[i];
    const cb = B.customs[i];
    c.same(`custom section ${i} name`, JSON.stringify(ca.name), JSON.stringify(cb.name));
    compareBytes(c, `custom section ${i} ("${ca.name}")`, ca.bytes, cb.bytes);
  }
}

// Best-effort validation with the engine built into node: if V8 accepts A but
// rejects B, B is broken in a way the structural comparison may not see
// (for instance a data count that does not match a memory.init index).
// Features that this node version cannot validate (e.g. multi-memory) make
// V8 reject A as well, in which case nothing is concluded.
async function compareValidity(c, bytesA, bytesB) {
  try {
    const v8 = await import('node:v8');
    for (const f of ['memory64', 'extended-const', 'gc', 'typed-funcref', 'relaxed-simd']) {
      try { v8.setFlagsFromString(`--experimental-wasm-${f}`); } catch { /* unknown flag */ }
    }
  } catch { /* no v8 module: validate with defaults */ }
  const check = (bytes) => {
    try {
      new WebAssembly.Module(bytes);
      return null;
    } catch (e) {
      return e.message;
    }
  };
  if (check(bytesA) === null) {
    const err = check(bytesB);
    if (err !== null) c.differ(`B is rejected by node's WebAssembly engine (A is accepted): ${err}`);
  }
}

function usage() {
  console.error('usage: node compare.mjs [--all] [--no-validate] A.wasm B.wasm');
  process.exit(2);
}

async function main() {
  const files = [];
  let all = false;
  let validate = true;
  for (const arg of process.argv.slice(2)) {
    if (arg === '--all') all = true;
    else if (arg === '--no-validate') validate = false;
    else if (arg.startsWith('-')) usage();
    else files.push(arg);
  }
  if (files.length !== 2) usage();

  let bytesA, bytesB, A, B;
  try {
    bytesA = readFileSync(files[0]);
    bytesB = readFileSync(files[1]);
  } catch (e) {
    console.error(`error: ${e.message}`);
    process.exit(2);
  }
  const ratio = bytesA.length === 0 ? 'n/a' : (bytesB.length / bytesA.length).toFixed(3);
  console.log(`sizes: A=${bytesA.length} B=${bytesB.length} ratio(B/A)=${ratio}`);

  for (const [label, bytes] of [['A', bytesA], ['B', bytesB]]) {
    try {
      const m = parseModule(bytes);
      if (label === 'A') A = m; else B = m;
    } catch (e) {
      if (!(e instanceof WasmParseError)) throw e;
      console.log(`error: cannot read ${label} (${files[label === 'A' ? 0 : 1]}): ${e.message}`);
      process.exit(2);
    }
  }

  const c = new Comparison(all);
  try {
    compareModules(c, A, B);
    if (validate) await compareValidity(c, bytesA, bytesB);
  } catch (e) {
    if (e instanceof WasmParseError) {
      console.log(`error: ${e.message}`);
      process.exit(2);
    }
    if (!(e instanceof StopComparing)) throw e;
  }

  if (c.diffs.length === 0) {
    console.log('equal');
    process.exit(0);
  }
  for (const d of c.diffs) console.log(`different: ${d}`);
  process.exit(1);
}

await main();
