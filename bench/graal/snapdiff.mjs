// Compares two pre-initialized modules by what a snapshot consists of: the globals' initial
// values, each memory's size and the memory image its active data segments build, plus every
// other section byte for byte. Prints the differences and exits 1 if there are any.
// Usage: node bench/graal/snapdiff.mjs A.wasm B.wasm
import { readFileSync } from 'node:fs';

function leb(buf, pos, signed = false) {
  let result = 0n, shift = 0n, byte;
  do {
    byte = buf[pos.p++];
    result |= BigInt(byte & 0x7f) << shift;
    shift += 7n;
  } while (byte & 0x80);
  if (signed && (byte & 0x40)) result -= 1n << shift;
  return result;
}

function constExpr(buf, pos) {
  const start = pos.p;
  for (;;) {
    const op = buf[pos.p++];
    if (op === 0x0b) break;
    if (op === 0x41 || op === 0x42) leb(buf, pos, true);
    else if (op === 0x43) pos.p += 4;
    else if (op === 0x44) pos.p += 8;
    else if (op === 0x23 || op === 0xd2) leb(buf, pos);
    else if (op === 0xd0) pos.p++;
    else if (op === 0xfd) { leb(buf, pos); pos.p += 16; }
    else throw new Error(`unsupported const op 0x${op.toString(16)} at ${pos.p - 1}`);
  }
  return buf.subarray(start, pos.p);
}

function parse(file) {
  const buf = readFileSync(file);
  const pos = { p: 8 };
  const m = { globals: [], memories: [], segments: [], other: [], importedMemories: 0 };
  while (pos.p < buf.length) {
    const id = buf[pos.p++];
    const len = Number(leb(buf, pos));
    const end = pos.p + len;
    const body = buf.subarray(pos.p, end);
    if (id === 6) {
      const n = Number(leb(buf, pos));
      for (let i = 0; i < n; i++) {
        const type = buf[pos.p++];
        const mut = buf[pos.p++];
        m.globals.push(`${type.toString(16)}${mut ? ' mut' : ''} ${Buffer.from(constExpr(buf, pos)).toString('hex')}`);
      }
    } else if (id === 5) {
      const n = Number(leb(buf, pos));
      for (let i = 0; i < n; i++) {
        const flags = Number(leb(buf, pos));
        const min = Number(leb(buf, pos));
        const max = flags & 1 ? Number(leb(buf, pos)) : null;
        m.memories.push({ min, max });
      }
    } else if (id === 11) {
      const n = Number(leb(buf, pos));
      for (let i = 0; i < n; i++) {
        const flags = Number(leb(buf, pos));
        let mem = 0, offset = null;
        if (flags === 2) mem = Number(leb(buf, pos));
        if (flags !== 1) {
          const e = constExpr(buf, pos);
          if (e[0] !== 0x41) throw new Error('non-constant data offset');
          offset = Number(leb(e, { p: 1 }, true)) >>> 0;
        }
        const size = Number(leb(buf, pos));
        m.segments.push({ mem, offset, data: buf.subarray(pos.p, pos.p + size) });
        pos.p += size;
      }
    } else {
      m.other.push({ id, body });
    }
    pos.p = end;
  }
  m.images = m.memories.map((mem, j) => {
    const img = new Uint8Array(mem.min * 65536);
    for (const s of m.segments) if (s.mem === j && s.offset !== null) img.set(s.data, s.offset);
    return img;
  });
  return m;
}

const [a, b] = [parse(process.argv[2]), parse(process.argv[3])];
let diffs = 0;
const report = (msg) => { diffs++; console.log(msg); };
if (a.globals.length !== b.globals.length) report(`global count ${a.globals.length} vs ${b.globals.length}`);
for (let i = 0; i < Math.min(a.globals.length, b.globals.length); i++) {
  if (a.globals[i] !== b.globals[i]) report(`global ${i}: ${a.globals[i]} vs ${b.globals[i]}`);
}
for (let j = 0; j < Math.max(a.memories.length, b.memories.length); j++) {
  const [ma, mb] = [a.memories[j], b.memories[j]];
  if (!ma || !mb || ma.min !== mb.min || ma.max !== mb.max) {
    report(`memory ${j}: ${JSON.stringify(ma)} vs ${JSON.stringify(mb)}`);
    continue;
  }
  const [ia, ib] = [a.images[j], b.images[j]];
  let bytes = 0, ranges = [];
  for (let k = 0; k < ia.length; k++) {
    if (ia[k] !== ib[k]) {
      bytes++;
      const last = ranges[ranges.length - 1];
      if (last && k - last[1] <= 16) last[1] = k + 1; else ranges.push([k, k + 1]);
    }
  }
  if (bytes) {
    report(`memory ${j}: ${bytes} of ${ia.length} bytes differ in ${ranges.length} ranges (16-byte gaps merged)`);
    for (const [s, e] of ranges.slice(0, 12)) {
      console.log(`  0x${s.toString(16)}..0x${e.toString(16)}: ${Buffer.from(ia.subarray(s, Math.min(e, s + 24))).toString('hex')} vs ${Buffer.from(ib.subarray(s, Math.min(e, s + 24))).toString('hex')}`);
    }
    if (ranges.length > 12) console.log(`  ... ${ranges.length - 12} more ranges`);
  } else {
    console.log(`memory ${j}: ${ia.length} bytes, images equal`);
  }
}
const key = (m) => m.other.map((s) => `${s.id}:${Buffer.from(s.body).toString('base64')}`);
const [ka, kb] = [key(a), key(b)];
if (ka.length !== kb.length || ka.some((x, i) => x !== kb[i])) report('other sections differ');
console.log(`globals: ${a.globals.length}; data segments ${a.segments.length} vs ${b.segments.length}; ${diffs ? diffs + ' difference(s)' : 'same snapshot'}`);
process.exit(diffs ? 1 : 0);
