// A small, dependency-free reader for WebAssembly core module binaries.
//
// It decodes exactly what is needed to compare two pre-initialised modules:
// the module-level structure (types, imports, functions, tables, memories,
// globals, exports, start, data count, data segments, custom sections) and
// constant expressions. Function bodies and element segments are kept as raw
// bytes, because both pre-initialisers are expected to copy them unchanged.
//
// Reference: WebAssembly core specification, binary format (chapter 5),
// plus the multi-memory, memory64, extended-const, reference-types, GC and
// custom-page-sizes extensions where they change module-level encodings.

export class WasmParseError extends Error {}

export const SECTION_NAMES = [
  'custom', 'type', 'import', 'function', 'table', 'memory', 'global',
  'export', 'start', 'element', 'code', 'data', 'datacount', 'tag',
];

const EXTERNAL_KINDS = ['func', 'table', 'memory', 'global', 'tag'];

// Abbreviated reference types (single byte) and their text names.
const REF_ABBREVIATIONS = new Map([
  [0x70, 'funcref'], [0x6f, 'externref'], [0x6e, 'anyref'], [0x6d, 'eqref'],
  [0x6c, 'i31ref'], [0x6b, 'structref'], [0x6a, 'arrayref'], [0x69, 'exnref'],
  [0x71, 'nullref'], [0x72, 'nullexternref'], [0x73, 'nullfuncref'],
  [0x74, 'nullexnref'],
]);
const HEAP_TYPE_NAMES = new Map([
  [0x70, 'func'], [0x6f, 'extern'], [0x6e, 'any'], [0x6d, 'eq'], [0x6c, 'i31'],
  [0x6b, 'struct'], [0x6a, 'array'], [0x69, 'exn'], [0x71, 'none'],
  [0x72, 'noextern'], [0x73, 'nofunc'], [0x74, 'noexn'],
]);
const NUM_TYPES = new Map([
  [0x7f, 'i32'], [0x7e, 'i64'], [0x7d, 'f32'], [0x7c, 'f64'], [0x7b, 'v128'],
]);

/** Cursor over a byte array with the primitive decoders of the format. */
export class Reader {
  constructor(bytes, start = 0, end = bytes.length) {
    this.bytes = bytes;
    this.pos = start;
    this.end = end;
  }

  eof() { return this.pos >= this.end; }

  fail(msg) {
    throw new WasmParseError(`${msg} (at byte offset ${this.pos})`);
  }

  byte() {
    if (this.pos >= this.end) this.fail('unexpected end of input');
    return this.bytes[this.pos++];
  }

  peek() {
    if (this.pos >= this.end) this.fail('unexpected end of input');
    return this.bytes[this.pos];
  }

  take(n) {
    if (n < 0 || this.pos + n > this.end) this.fail(`cannot read ${n} bytes`);
    const out = this.bytes.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  // Unsigned LEB128 of at most `bits` bits, returned as a BigInt. The
  // general BigInt form is used so that u64 values (memory64 limits) are
  // exact; u32() converts to a Number for the common case.
  uleb(bits) {
    let result = 0n;
    let shift = 0n;
    const maxBytes = Math.ceil(bits / 7);
    for (let i = 0; ; i++) {
      if (i >= maxBytes) this.fail(`LEB128 longer than ${maxBytes} bytes`);
      const b = this.byte();
      result |= BigInt(b & 0x7f) << shift;
      shift += 7n;
      if ((b & 0x80) === 0) break;
    }
    if (result >> BigInt(bits) !== 0n) this.fail(`LEB128 value exceeds ${bits} bits`);
    return result;
  }

  // Signed LEB128 of at most `bits` bits, returned as a BigInt.
  sleb(bits) {
    let result = 0n;
    let shift = 0n;
    let b;
    const maxBytes = Math.ceil(bits / 7);
    for (let i = 0; ; i++) {
      if (i >= maxBytes) this.fail(`LEB128 longer than ${maxBytes} bytes`);
      b = this.byte();
      result |= BigInt(b & 0x7f) << shift;
      shift += 7n;
      if ((b & 0x80) === 0) break;
    }
    if (shift < 64n && (b & 0x40)) result -= 1n << shift;
    return BigInt.asIntN(bits, result);
  }

  u32() { return Number(this.uleb(32)); }
  u64() { return this.uleb(64); }
  s32() { return Number(this.sleb(32)); }
  s64() { return this.sleb(64); }

  name() {
    const len = this.u32();
    return new TextDecoder('utf-8', { fatal: false }).decode(this.take(len));
  }

  vec(readItem) {
    const n = this.u32();
    const out = [];
    for (let i = 0; i < n; i++) out.push(readItem(i));
    return out;
  }

  // --- types -------------------------------------------------------------

  heapType() {
    const b = this.peek();
    if (HEAP_TYPE_NAMES.has(b)) {
      this.pos++;
      return HEAP_TYPE_NAMES.get(b);
    }
    if (b === 0x65) {  // shared heap type (shared-everything-threads)
      this.pos++;
      return `shared ${this.heapType()}`;
    }
    // Otherwise a type index encoded as s33.
    const idx = this.sleb(33);
    if (idx < 0n) this.fail(`invalid heap type ${idx}`);
    return `type ${idx}`;
  }

  valType() {
    const b = this.byte();
    if (NUM_TYPES.has(b)) return NUM_TYPES.get(b);
    if (REF_ABBREVIATIONS.has(b)) return REF_ABBREVIATIONS.get(b);
    if (b === 0x64) return `(ref ${this.heapType()})`;
    if (b === 0x63) return `(ref null ${this.heapType()})`;
    this.pos--;
    return this.fail(`unknown value type 0x${b.toString(16)}`);
  }

  // Storage types in GC structs/arrays add the packed i8/i16 types.
  storageType() {
    const b = this.peek();
    if (b === 0x78) { this.pos++; return 'i8'; }
    if (b === 0x77) { this.pos++; return 'i16'; }
    return this.valType();
  }

  fieldType() {
    const t = this.storageType();
    const mut = this.byte();
    if (mut > 1) this.fail('invalid field mutability');
    return mut ? `(mut ${t})` : t;
  }

  compositeType() {
    const form = this.byte();
    switch (form) {
      case 0x60: {
        const params = this.vec(() => this.valType());
        const results = this.vec(() => this.valType());
        return `(func (param ${params.join(' ')}) (result ${results.join(' ')}))`;
      }
      case 0x5f: return `(struct ${this.vec(() => this.fieldType()).join(' ')})`;
      case 0x5e: return `(array ${this.fieldType()})`;
      case 0x65: return `(shared ${this.compositeType()})`;
      default: return this.fail(`unknown composite type form 0x${form.toString(16)}`);
    }
  }

  subType() {
    const b = this.peek();
    if (b === 0x50 || b === 0x4f) {
      this.pos++;
      const supers = this.vec(() => this.u32());
      const final = b === 0x4f ? ' final' : '';
      return `(sub${final} (${supers.join(' ')}) ${this.compositeType()})`;
    }
    return this.compositeType();
  }

  // Limits of memories and tables. The flag byte carries: bit 0 = has a
  // maximum, bit 1 = shared, bit 2 = 64-bit index type, bit 3 = custom page
  // size (memories only; its log2 follows the limits).
  limits() {
    const flags = this.byte();
    if (flags & ~0x0f) this.fail(`unknown limits flags 0x${flags.toString(16)}`);
    const min = this.u64();
    const max = flags & 1 ? this.u64() : null;
    const pageSizeLog2 = flags & 8 ? this.u32() : 16;
    return { flags, min, max, shared: !!(flags & 2), is64: !!(flags & 4), pageSizeLog2 };
  }

  tableType() {
    // 0x40 0x00 introduces a table with an explicit initialiser expression
    // (function-references proposal).
    if (this.peek() === 0x40) {
      this.pos++;
      if (this.byte() !== 0x00) this.fail('invalid table type prefix');
      const elemType = this.valType();
      const limits = this.limits();
      return { elemType, limits, init: this.constExpr() };
    }
    const elemType = this.valType();
    return { elemType, limits: this.limits(), init: null };
  }

  globalType() {
    const valType = this.valType();
    const m = this.byte();
    if (m > 1) this.fail('invalid global mutability');
    return { valType, mutable: m === 1 };
  }

  // --- constant expressions ---------------------------------------------

  // Reads a constant expression up to and including its `end` opcode.
  // Returns { raw, instrs } where instrs is a decoded instruction list that
  // evalConstExpr() can evaluate. Only the opcodes valid in constant
  // expressions are understood; anything else is an error, because without
  // knowing an opcode's immediates the end of the expression cannot be found.
  constExpr() {
    const start = this.pos;
    const instrs = [];
    for (;;) {
      const op = this.byte();
      switch (op) {
        case 0x0b: return { raw: this.bytes.slice(start, this.pos), instrs };
        case 0x41: instrs.push({ op: 'i32.const', value: this.s32() }); break;
        case 0x42: instrs.push({ op: 'i64.const', value: this.s64() }); break;
        case 0x43: instrs.push({ op: 'f32.const', bytes: this.take(4).slice() }); break;
        case 0x44: instrs.push({ op: 'f64.const', bytes: this.take(8).slice() }); break;
        case 0x23: instrs.push({ op: 'global.get', index: this.u32() }); break;
        case 0xd0: instrs.push({ op: 'ref.null', heapType: this.heapType() }); break;
        case 0xd2: instrs.push({ op: 'ref.func', index: this.u32() }); break;
        // extended-const arithmetic
        case 0x6a: instrs.push({ op: 'i32.add' }); break;
        case 0x6b: instrs.push({ op: 'i32.sub' }); break;
        case 0x6c: instrs.push({ op: 'i32.mul' }); break;
        case 0x7c: instrs.push({ op: 'i64.add' }); break;
        case 0x7d: instrs.push({ op: 'i64.sub' }); break;
        case 0x7e: instrs.push({ op: 'i64.mul' }); break;
        case 0xfd: {
          const sub = this.u32();
          if (sub !== 12) this.fail(`SIMD opcode ${sub} is not constant`);
          instrs.push({ op: 'v128.const', bytes: this.take(16).slice() });
          break;
        }
        case 0xfb: {
          // GC allocation instructions are constant; their immediates are
          // type/field/segment indices. They are kept symbolic.
          const sub = this.u32();
          const imm = [];
          const immCounts = { 0: 1, 1: 1, 6: 2, 7: 2, 8: 2, 28: 0, 26: 0, 27: 0 };
          if (!(sub in immCounts)) this.fail(`GC opcode ${sub} is not supported in constant expressions`);
          for (let i = 0; i < immCounts[sub]; i++) imm.push(this.u32());
          instrs.push({ op: `gc.${sub}`, imm, opaque: true });
          break;
        }
        default:
          this.pos--;
          return this.fail(`unsupported opcode 0x${op.toString(16)} in constant expression`);
      }
    }
  }
}

// --- module structure ------------------------------------------------------

/**
 * Parses a module binary. Returns an object with one field per section
 * kind; index spaces for functions, tables, memories and globals list
 * imports first, as in the specification.
 */
export function parseModule(bytes) {
  // A plain Uint8Array view: node's Buffer is a subclass whose slice() does
  // not copy, which would break the copies of immediates taken below.
  bytes = ArrayBuffer.isView(bytes)
    ? new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength)
    : new Uint8Array(bytes);
  const r = new Reader(bytes);
  const magic = r.take(4);
  if (magic[0] !== 0 || magic[1] !== 0x61 || magic[2] !== 0x73 || magic[3] !== 0x6d) {
    r.fail('not a WebAssembly binary (bad magic)');
  }
  const version = r.take(4);
  if (version[0] !== 1 || version[1] !== 0 || version[2] !== 0 || version[3] !== 0) {
    r.fail('not a core module (version/layer is not 1.0); components are not supported');
  }

  const m = {
    sections: [],        // [{ id, name, start, end }] in file order
    types: [],           // string per type index (rec groups flattened)
    imports: [],         // { module, name, kind, desc }
    funcTypes: [],       // type index per function (imports first)
    importedFuncs: 0,
    tables: [],          // { imported, type }
    memories: [],        // { imported, limits }
    globals: [],         // { imported, type, init }
    tags: [],
    exports: [],         // { name, kind, index }
    start: null,
    elementRaw: null,    // payload bytes of the element section
    dataCount: null,
    codeBodies: [],      // raw bytes of each function body (defined funcs)
    data: [],            // { mode: 'active'|'passive', memory, offset, bytes }
    customs: [],         // { name, bytes }
  };

  const seen = new Set();
  while (!r.eof()) {
    const id = r.byte();
    const size = r.u32();
    const start = r.pos;
    const end = start + size;
    if (end > bytes.length) r.fail(`section ${id} extends past the end of the file`);
    if (id >= SECTION_NAMES.length) r.fail(`unknown section id ${id}`);
    m.sections.push({ id, name: SECTION_NAMES[id], start, end });
    // Section order is not checked (the engines' validators do that), but a
    // repeated non-custom section would silently merge index spaces here.
    if (id !== 0) {
      if (seen.has(id)) r.fail(`duplicate ${SECTION_NAMES[id]} section`);
      seen.add(id);
    }
    const s = new Reader(bytes, start, end);
    readSection(m, id, s);
    if (!s.eof()) s.fail(`${SECTION_NAMES[id]} section has trailing bytes`);
    r.pos = end;
  }
  if (m.codeBodies.length !== m.funcTypes.length - m.importedFuncs) {
    throw new WasmParseError(
      `function section declares ${m.funcTypes.length - m.importedFuncs} functions ` +
      `but the code section has ${m.codeBodies.length} bodies`);
  }
  return m;
}

function readSection(m, id, s) {
  switch (SECTION_NAMES[id]) {
    case 'custom': {
      const name = s.name();
      m.customs.push({ name, bytes: s.take(s.end - s.pos) });
      break;
    }
    case 'type':
      s.vec(() => {
        if (s.peek() === 0x4e) {  // recursive group: flatten into the index space
          s.pos++;
          const group = s.vec(() => s.subType());
          group.forEach((t, i) => m.types.push(`(rec ${i}/${group.length}) ${t}`));
        } else {
          m.types.push(s.subType());
        }
      });
      break;
    case 'import':
      s.vec(() => {
        const module = s.name();
        const name = s.name();
        const kindByte = s.byte();
        const kind = EXTERNAL_KINDS[kindByte];
        let desc;
        switch (kind) {
          case 'func':
            desc = s.u32();
            m.funcTypes.push(desc);
            m.importedFuncs++;
            break;
          case 'table':
            desc = s.tableType();
            m.tables.push({ imported: true, type: desc });
            break;
          case 'memory':
            desc = s.limits();
            m.memories.push({ imported: true, limits: desc });
            break;
          case 'global':
            desc = s.globalType();
            m.globals.push({ imported: true, type: desc, init: null });
            break;
          case 'tag':
            if (s.byte() !== 0) s.fail('invalid tag attribute');
            desc = s.u32();
            m.tags.push({ imported: true, type: desc });
            break;
          default:
            s.fail(`unknown import kind ${kindByte}`);
        }
        m.imports.push({ module, name, kind, desc });
      });
      break;
    case 'function':
      s.vec(() => m.funcTypes.push(s.u32()));
      break;
    case 'table':
      s.vec(() => m.tables.push({ imported: false, type: s.tableType() }));
      break;
    case 'memory':
      s.vec(() => m.memories.push({ imported: false, limits: s.limits() }));
      break;
    case 'tag':
      s.vec(() => {
        if (s.byte() !== 0) s.fail('invalid tag attribute');
        m.tags.push({ imported: false, type: s.u32() });
      });
      break;
    case 'global':
      s.vec(() => {
        const type = s.globalType();
        m.globals.push({ imported: false, type, init: s.constExpr() });
      });
      break;
    case 'export':
      s.vec(() => {
        const name = s.name();
        const kindByte = s.byte();
        const kind = EXTERNAL_KINDS[kindByte];
        if (!kind) s.fail(`unknown export kind ${kindByte}`);
        m.exports.push({ name, kind, index: s.u32() });
      });
      break;
    case 'start':
      m.start = s.u32();
      break;
    case 'element':
      // Element segments are compared byte for byte; no need to decode.
      m.elementRaw = s.take(s.end - s.pos);
      break;
    case 'code':
      s.vec(() => {
        const size = s.u32();
        m.codeBodies.push(s.take(size));
      });
      break;
    case 'data':
      s.vec(() => {
        const flags = s.u32();
        let seg;
        if (flags === 0) {
          seg = { mode: 'active', memory: 0, offset: s.constExpr() };
        } else if (flags === 1) {
          seg = { mode: 'passive', memory: null, offset: null };
        } else if (flags === 2) {
          const memory = s.u32();
          seg = { mode: 'active', memory, offset: s.constExpr() };
        } else {
          s.fail(`unknown data segment flags ${flags}`);
        }
        const len = s.u32();
        seg.bytes = s.take(len);
        m.data.push(seg);
      });
      break;
    case 'datacount':
      m.dataCount = s.u32();
      break;
    default:
      s.fail(`unhandled section ${id}`);
  }
}

// --- constant expression evaluation -------------------------------------

const view = (b) => new DataView(b.buffer, b.byteOffset, b.byteLength);
const hex = (v, digits) => '0x' + v.toString(16).padStart(digits, '0');

/**
 * Evaluates a constant expression to a canonical, bit-exact string such as
 * "i32 0x0000002a", "f32 0x7fc12345 (NaN)" or "ref.func 3". `globals` gives
 * the already-evaluated values of earlier globals, for `global.get`.
 * Expressions that cannot be reduced to a value (imported globals, GC
 * allocations) evaluate to a symbolic form built from their instructions,
 * which is still exact for comparison purposes.
 */
export function evalConstExpr(expr, globals = []) {
  const stack = [];
  const pop = (type) => {
    const v = stack.pop();
    if (!v || v.type !== type) throw new WasmParseError(`constant expression: expected ${type} operand`);
    return v;
  };
  for (const ins of expr.instrs) {
    switch (ins.op) {
      case 'i32.const': stack.push({ type: 'i32', bits: BigInt.asUintN(32, BigInt(ins.value)) }); break;
      case 'i64.const': stack.push({ type: 'i64', bits: BigInt.asUintN(64, ins.value) }); break;
      case 'f32.const': stack.push({ type: 'f32', bits: BigInt(view(ins.bytes).getUint32(0, true)) }); break;
      case 'f64.const': stack.push({ type: 'f64', bits: view(ins.bytes).getBigUint64(0, true) }); break;
      case 'v128.const': stack.push({ type: 'v128', bytes: ins.bytes }); break;
      case 'ref.null': stack.push({ type: 'ref', text: `ref.null ${ins.heapType}` }); break;
      case 'ref.func': stack.push({ type: 'ref', text: `ref.func ${ins.index}` }); break;
      case 'global.get': {
        const g = globals[ins.index];
        stack.push(g && g.value ? g.value : { type: 'symbolic', text: `global.get ${ins.index}` });
        break;
      }
      case 'i32.add': case 'i32.sub': case 'i32.mul':
      case 'i64.add': case 'i64.sub': case 'i64.mul': {
        const ty = ins.op.slice(0, 3);
        const b = stack.pop();
        const a = stack.pop();
        if (!a || !b) throw new WasmParseError('constant expression: stack underflow');
        if (a.type === 'symbolic' || b.type === 'symbolic') {
          stack.push({ type: 'symbolic', text: `(${ins.op} ${describe(a)} ${describe(b)})` });
          break;
        }
        stack.push(a); stack.push(b);
        const y = pop(ty).bits;
        const x = pop(ty).bits;
        const width = ty === 'i32' ? 32 : 64;
        const fn = { add: x + y, sub: x - y, mul: x * y }[ins.op.slice(4)];
        stack.push({ type: ty, bits: BigInt.asUintN(width, fn) });
        break;
      }
      default:
        stack.push({ type: 'symbolic', text: `${ins.op}${ins.imm ? ' ' + ins.imm.join(' ') : ''}` });
    }
  }
  if (stack.length === 0) throw new WasmParseError('constant expression produces no value');
  // GC constructors consume operands; describe whatever remains symbolically.
  if (stack.length > 1) return { type: 'symbolic', text: stack.map(describe).join(' ') };
  return stack[0];
}

/** Human-readable, bit-exact rendering of an evaluated value. */
export function describe(v) {
  switch (v.type) {
    case 'i32': return `i32 ${hex(v.bits, 8)} (${BigInt.asIntN(32, v.bits)})`;
    case 'i64': return `i64 ${hex(v.bits, 16)} (${BigInt.asIntN(64, v.bits)})`;
    case 'f32': {
      const f = new DataView(new ArrayBuffer(4));
      f.setUint32(0, Number(v.bits));
      return `f32 ${hex(v.bits, 8)} (${fmtFloat(f.getFloat32(0), v.bits, 32)})`;
    }
    case 'f64': {
      const f = new DataView(new ArrayBuffer(8));
      f.setBigUint64(0, v.bits);
      return `f64 ${hex(v.bits, 16)} (${fmtFloat(f.getFloat64(0), v.bits, 64)})`;
    }
    case 'v128': return `v128 ${Array.from(v.bytes, (b) => b.toString(16).padStart(2, '0')).join('')}`;
    case 'ref': case 'symbolic': return v.text;
    default: return JSON.stringify(v);
  }
}

function fmtFloat(f, bits, width) {
  if (Number.isNaN(f)) return 'NaN';
  if (f === 0 && bits >> BigInt(width - 1)) return '-0';
  return String(f);
}
