#!/usr/bin/env node
// Converts a fixture .wat file to a .wasm binary with wabt's wat2wasm, plus
// two additions the corpus needs:
//
// 1. Extra wat2wasm flags per file, from a comment line of the form
//        ;; wat2wasm-flags: --debug-names
//    (e.g. to emit a name section, or --no-check for deliberately invalid
//    modules).
//
// 2. Custom sections written with the standard text annotation
//        (@custom "name" (placement) "data" ...)
//    wat2wasm (wabt 1.0.x) parses but ignores these annotations, so this
//    script inserts the sections into the binary itself. Placement is
//    optional and may be (before first), (after last) -- the default --,
//    or (before|after SECTION) with SECTION one of type import func table
//    memory global export start elem code data datacount tag.
//
// Usage: node wat2wasm.mjs IN.wat OUT.wasm
// Environment: WAT2WASM (default "wat2wasm").
import { readFileSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { Reader } from './wasm-reader.mjs';

// Proposals used by the corpus beyond wat2wasm's defaults.
const FEATURE_FLAGS = ['--enable-multi-memory', '--enable-extended-const', '--enable-memory64', '--enable-annotations'];

// Section ids in the order they must appear in a binary.
const SECTION_ORDER = ['type', 'import', 'func', 'table', 'memory', 'tag', 'global',
  'export', 'start', 'elem', 'datacount', 'code', 'data'];
const SECTION_IDS = {
  type: 1, import: 2, func: 3, table: 4, memory: 5, global: 6, export: 7,
  start: 8, elem: 9, code: 10, data: 11, datacount: 12, tag: 13,
};
const RANK_OF_ID = new Map(SECTION_ORDER.map((name, rank) => [SECTION_IDS[name], rank]));

function die(msg) {
  console.error(`wat2wasm.mjs: ${msg}`);
  process.exit(1);
}

// Removes `;; ...` line comments and `(; ... ;)` block comments, leaving
// string literals intact, so that annotations inside comments are ignored.
function stripComments(text) {
  let out = '';
  let i = 0;
  let depth = 0;
  while (i < text.length) {
    if (depth > 0) {
      if (text.startsWith('(;', i)) { depth++; i += 2; } else if (text.startsWith(';)', i)) { depth--; i += 2; } else i++;
      continue;
    }
    const ch = text[i];
    if (ch === '"') {
      let j = i + 1;
      while (j < text.length && text[j] !== '"') j += text[j] === '\\' ? 2 : 1;
      out += text.slice(i, j + 1);
      i = j + 1;
    } else if (text.startsWith(';;', i)) {
      while (i < text.length && text[i] !== '\n') i++;
    } else if (text.startsWith('(;', i)) {
      depth = 1;
      i += 2;
    } else {
      out += ch;
      i++;
    }
  }
  return out;
}

// Decodes the body of a WAT string literal into bytes.
function decodeWatString(body) {
  const bytes = [];
  const utf8 = new TextEncoder();
  for (let i = 0; i < body.length; i++) {
    const ch = body[i];
    if (ch !== '\\') {
      bytes.push(...utf8.encode(ch));
      continue;
    }
    const next = body[++i];
    const simple = { n: 0x0a, t: 0x09, r: 0x0d, '"': 0x22, "'": 0x27, '\\': 0x5c };
    if (next in simple) {
      bytes.push(simple[next]);
    } else if (next === 'u') {
      const end = body.indexOf('}', i);
      const cp = parseInt(body.slice(i + 2, end), 16);
      bytes.push(...utf8.encode(String.fromCodePoint(cp)));
      i = end;
    } else {
      bytes.push(parseInt(body.substr(i, 2), 16));
      i++;
    }
  }
  return Uint8Array.from(bytes);
}

function parseCustomAnnotations(text) {
  const str = '"((?:[^"\\\\]|\\\\.)*)"';
  const re = new RegExp(
    `\\(@custom\\s+${str}\\s*(?:\\(\\s*(before|after)\\s+(\\w+)\\s*\\))?((?:\\s*"(?:[^"\\\\]|\\\\.)*")*)\\s*\\)`, 'g');
  const out = [];
  for (const match of text.matchAll(re)) {
    const [, name, where = 'after', anchor = 'last', strings] = match;
    const parts = [...strings.matchAll(new RegExp(str, 'g'))].map((s) => decodeWatString(s[1]));
    const data = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    let pos = 0;
    for (const p of parts) { data.set(p, pos); pos += p.length; }
    if (anchor !== 'first' && anchor !== 'last' && !(anchor in SECTION_IDS)) {
      die(`unknown placement (${where} ${anchor}) for custom section "${name}"`);
    }
    out.push({ name: decodeWatString(name), where, anchor, data });
  }
  return out;
}

function uleb(n) {
  const out = [];
  do {
    let b = n & 0x7f;
    n >>>= 7;
    if (n !== 0) b |= 0x80;
    out.push(b);
  } while (n !== 0);
  return out;
}

function encodeCustom(name, data) {
  const payload = [...uleb(name.length), ...name, ...data];
  return Uint8Array.from([0, ...uleb(payload.length), ...payload]);
}

// Splits a binary into its header and a list of { id, bytes } sections.
function splitSections(bin) {
  const r = new Reader(bin, 8);
  const sections = [];
  while (!r.eof()) {
    const start = r.pos;
    const id = r.byte();
    const size = r.u32();
    r.take(size);
    sections.push({ id, bytes: bin.subarray(start, r.pos), inserted: false });
  }
  return sections;
}

function insertCustomSections(bin, customs) {
  const sections = splitSections(bin);
  let atFront = 0;
  for (const c of customs) {
    const section = { id: 0, bytes: encodeCustom(c.name, c.data), inserted: true };
    let index;
    if (c.anchor === 'first') {
      index = atFront++;  // keeps several (before first) sections in text order
    } else if (c.anchor === 'last') {
      index = sections.length;
    } else {
      const rank = RANK_OF_ID.get(SECTION_IDS[c.anchor]);
      const rankOf = (s) => (s.id === 0 ? null : RANK_OF_ID.get(s.id));
      if (c.where === 'after') {
        // After the last section that sorts at or before the anchor, and
        // after custom sections previously inserted at that spot.
        index = 0;
        sections.forEach((s, i) => { if (rankOf(s) !== null && rankOf(s) <= rank) index = i + 1; });
        while (index < sections.length && sections[index].inserted) index++;
      } else {
        index = sections.findIndex((s) => rankOf(s) !== null && rankOf(s) >= rank);
        if (index < 0) index = sections.length;
      }
    }
    sections.splice(index, 0, section);
  }
  const total = 8 + sections.reduce((n, s) => n + s.bytes.length, 0);
  const out = new Uint8Array(total);
  out.set(bin.subarray(0, 8), 0);
  let pos = 8;
  for (const s of sections) { out.set(s.bytes, pos); pos += s.bytes.length; }
  return out;
}

const [input, output] = process.argv.slice(2);
if (!input || !output) {
  console.error('usage: node wat2wasm.mjs IN.wat OUT.wasm');
  process.exit(2);
}
const text = readFileSync(input, 'utf8');
const extraFlags = [...text.matchAll(/^\s*;;\s*wat2wasm-flags:(.*)$/gm)]
  .flatMap((m) => m[1].trim().split(/\s+/).filter(Boolean));

const wat2wasm = process.env.WAT2WASM || 'wat2wasm';
const res = spawnSync(wat2wasm, [...FEATURE_FLAGS, ...extraFlags, input, '-o', output], { stdio: 'inherit' });
if (res.error) die(`cannot run ${wat2wasm}: ${res.error.message}`);
if (res.status !== 0) process.exit(res.status ?? 1);

const customs = parseCustomAnnotations(stripComments(text));
if (customs.length > 0) {
  writeFileSync(output, insertCustomSections(new Uint8Array(readFileSync(output)), customs));
}
