#!/usr/bin/env node
// Self-test for compare.mjs: builds small module binaries by hand, in pairs
// that must compare equal (same start-up state, different encoding) or
// different (one observable change), and checks compare.mjs's verdicts.
//
// Usage: node selftest.mjs     (exit status 0 when every case passes)
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));

// --- a minimal binary encoder --------------------------------------------

const uleb = (n) => {
  n = BigInt(n);
  const out = [];
  do {
    let b = Number(n & 0x7fn);
    n >>= 7n;
    if (n !== 0n) b |= 0x80;
    out.push(b);
  } while (n !== 0n);
  return out;
};
const sleb = (n) => {
  n = BigInt(n);
  const out = [];
  for (;;) {
    const b = Number(n & 0x7fn);
    n >>= 7n;
    const done = (n === 0n && !(b & 0x40)) || (n === -1n && (b & 0x40));
    out.push(done ? b : b | 0x80);
    if (done) return out;
  }
};
const str = (s) => { const b = [...new TextEncoder().encode(s)]; return [...uleb(b.length), ...b]; };
const vec = (items) => [...uleb(items.length), ...items.flat()];
const section = (id, payload) => [id, ...uleb(payload.length), ...payload];
const bytes = (s) => [...new TextEncoder().encode(s)];
const f32bits = (bits) => { const b = new Uint8Array(4); new DataView(b.buffer).setUint32(0, bits, true); return [...b]; };

const i32c = (v) => [0x41, ...sleb(v), 0x0b];

/**
 * Builds a module with one function type () -> (), one function exported
 * as "f", one memory, a few globals, data segments and custom sections.
 * Every part can be overridden to make a variant.
 */
function build(o = {}) {
  const p = {
    memory: [0x01, ...uleb(1), ...uleb(2)],                       // min 1 max 2
    globals: [
      [0x7f, 0x01, ...i32c(5)],                                   // (mut i32) 5
      [0x7d, 0x01, 0x43, ...f32bits(0x7fc12345), 0x0b],           // (mut f32) NaN payload
    ],
    exports: [[...str('f'), 0x00, 0x00], [...str('memory'), 0x02, 0x00]],
    data: [
      [0x00, ...i32c(16), ...vec(bytes('abc').map((b) => [b]))],  // active "abc" at 16
      [0x01, ...vec(bytes('xyz').map((b) => [b]))],               // passive "xyz"
    ],
    dataCount: null,
    customs: [['note', bytes('hello')]],
    ...o,
  };
  const out = [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00];
  out.push(...section(1, vec([[0x60, 0x00, 0x00]])));
  out.push(...section(3, vec([[0x00]])));
  out.push(...section(5, vec([p.memory])));
  out.push(...section(6, vec(p.globals)));
  out.push(...section(7, vec(p.exports)));
  if (p.dataCount !== null) out.push(...section(12, uleb(p.dataCount)));
  out.push(...section(10, vec([[...uleb(2), 0x00, 0x0b]])));      // empty body
  out.push(...section(11, vec(p.data)));
  for (const [name, payload] of p.customs) out.push(...section(0, [...str(name), ...payload]));
  return Uint8Array.from(out);
}

const active = (offsetExpr, text) => [0x00, ...offsetExpr, ...vec(bytes(text).map((b) => [b]))];
const activeRaw = (offsetExpr, arr) => [0x00, ...offsetExpr, ...vec(arr.map((b) => [b]))];
const passive = (text) => [0x01, ...vec(bytes(text).map((b) => [b]))];

// --- cases -----------------------------------------------------------------

const base = build();
const cases = [
  ['identical modules', 'equal', build()],
  ['data split into two segments', 'equal',
    build({ data: [active(i32c(16), 'a'), passive('xyz'), active(i32c(17), 'bc')] })],
  ['extra all-zero active segment', 'equal',
    build({ data: [active(i32c(16), 'abc'), passive('xyz'), activeRaw(i32c(1000), [0, 0, 0])] })],
  ['offset with a padded LEB128 encoding', 'equal',
    build({ data: [[0x00, 0x41, 0x90, 0x80, 0x80, 0x80, 0x00, 0x0b, ...vec(bytes('abc').map((b) => [b]))], passive('xyz')] })],
  ['global initialiser as extended-const 2 + 3', 'equal',
    build({ globals: [[0x7f, 0x01, 0x41, 2, 0x41, 3, 0x6a, 0x0b], [0x7d, 0x01, 0x43, ...f32bits(0x7fc12345), 0x0b]] })],
  ['exports in a different order', 'equal',
    build({ exports: [[...str('memory'), 0x02, 0x00], [...str('f'), 0x00, 0x00]] })],
  ['trailing active segment instead of empty passive', 'equal',
    build({ data: [passive(''), passive('xyz'), active(i32c(16), 'abc')], dataCount: null })],
  ['one memory byte changed', 'memory 0 initial contents',
    build({ data: [active(i32c(16), 'abd'), passive('xyz')] })],
  ['data moved by one byte', 'memory 0 initial contents',
    build({ data: [active(i32c(17), 'abc'), passive('xyz')] })],
  ['NaN payload changed', 'global 1 initial value',
    build({ globals: [[0x7f, 0x01, ...i32c(5)], [0x7d, 0x01, 0x43, ...f32bits(0x7fc00000), 0x0b]] })],
  ['-0.0 instead of +0.0', 'global 1 initial value',
    build({ globals: [[0x7f, 0x01, ...i32c(5)], [0x7d, 0x01, 0x43, ...f32bits(0x80000000), 0x0b]] }),
    build({ globals: [[0x7f, 0x01, ...i32c(5)], [0x7d, 0x01, 0x43, ...f32bits(0x00000000), 0x0b]] })],
  ['global mutability changed', 'global 0 type',
    build({ globals: [[0x7f, 0x00, ...i32c(5)], [0x7d, 0x01, 0x43, ...f32bits(0x7fc12345), 0x0b]] })],
  ['memory maximum changed', 'memory 0 type', build({ memory: [0x01, ...uleb(1), ...uleb(3)] })],
  ['memory minimum changed', 'memory 0 type', build({ memory: [0x01, ...uleb(2), ...uleb(2)] })],
  ['passive segment contents changed', 'data segment 1',
    build({ data: [active(i32c(16), 'abc'), passive('xyZ')] })],
  ['extra non-empty passive segment', 'passive data segment 2',
    build({ data: [active(i32c(16), 'abc'), passive('xyz'), passive('!')] })],
  ['export renamed', 'export "f"',
    build({ exports: [[...str('g'), 0x00, 0x00], [...str('memory'), 0x02, 0x00]] })],
  ['custom section changed', 'custom section 0',
    build({ customs: [['note', bytes('hellO')]] })],
  ['custom section removed', 'custom section count', build({ customs: [] })],
  ['inconsistent data count', 'data count', build({ dataCount: 3 })],
  ['segment out of bounds', 'out of bounds',
    build({ data: [active(i32c(16), 'abc'), passive('xyz'), active(i32c(65535), 'zz')] })],
];

const dir = mkdtempSync(join(tmpdir(), 'compare-selftest-'));
let failures = 0;
try {
  for (const [title, expected, variant, first = base] of cases) {
    const a = join(dir, 'a.wasm');
    const b = join(dir, 'b.wasm');
    writeFileSync(a, first);
    writeFileSync(b, variant);
    const res = spawnSync(process.execPath, [join(here, 'compare.mjs'), a, b], { encoding: 'utf8' });
    const verdict = res.stdout.trim().split('\n').pop();
    const ok = expected === 'equal'
      ? res.status === 0 && verdict === 'equal'
      : res.status === 1 && verdict.includes(expected);
    if (!ok) failures++;
    console.log(`${ok ? 'pass' : 'FAIL'}  ${title}: ${verdict}${res.stderr ? ` [stderr: ${res.stderr.trim()}]` : ''}`);
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
console.log(`${cases.length - failures} passed, ${failures} failed`);
process.exit(failures === 0 ? 0 : 1);
