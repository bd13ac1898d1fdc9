package dev.wizer4j;

import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.function.LongConsumer;

/**
 * The one bounded reader of the input: a cursor over a slice of the module, in which every declared
 * count and length is checked against the bytes that remain before anyone allocates for it. Every
 * error carries the absolute byte offset at which it was detected.
 */
final class WasmReader {
  private final byte[] buf;
  private int pos;
  private final int limit;

  WasmReader(byte[] buf, int offset, int limit) {
    this.buf = buf;
    this.pos = offset;
    this.limit = limit;
  }

  int pos() {
    return pos;
  }

  int limit() {
    return limit;
  }

  boolean atEnd() {
    return pos >= limit;
  }

  /** Goes back to {@code offset}, a position this reader has passed. */
  void reset(int offset) {
    pos = offset;
  }

  /** A reader of the next {@code length} bytes (which must remain); this one does not move. */
  WasmReader slice(int length) {
    need(length, "input");
    return new WasmReader(buf, pos, pos + length);
  }

  private void need(int n, String what) {
    if (n < 0 || limit - pos < n) {
      throw new WizerException.InvalidModule("unexpected end of " + what, pos);
    }
  }

  int u8() {
    need(1, "input");
    return buf[pos++] & 0xff;
  }

  /**
   * A vector length: {@code what} entries of at least {@code minEntryBytes} bytes each must fit in
   * the bytes that remain, so that nothing is ever allocated for entries that cannot be there.
   */
  int count(String what, int minEntryBytes) {
    int start = pos;
    long n = u32();
    if (n > (long) (limit - pos) / minEntryBytes) {
      throw new WizerException.InvalidModule(
          String.format("%s of %d does not fit in the %d bytes that remain", what, n, limit - pos),
          start);
    }
    return (int) n;
  }

  /** A byte length, which must fit in the bytes that remain. */
  int length(String what) {
    return count(what, 1);
  }

  void skip(int n, String what) {
    need(n, what);
    pos += n;
  }

  long u32() {
    int start = pos;
    long result = 0;
    for (int shift = 0; shift < 35; shift += 7) {
      if (pos >= limit) {
        throw new WizerException.InvalidModule("unexpected end of LEB128 integer", start);
      }
      int b = buf[pos++] & 0xff;
      result |= (long) (b & 0x7f) << shift;
      if ((b & 0x80) == 0) {
        if (shift == 28 && (b & 0x70) != 0) {
          throw new WizerException.InvalidModule("u32 LEB128 integer too large", start);
        }
        return result;
      }
    }
    throw new WizerException.InvalidModule("u32 LEB128 integer representation too long", start);
  }

  /** A u32 that must also fit in a Java int (a count, a length or an index). */
  int u32AsInt(String what) {
    int start = pos;
    long v = u32();
    if (v > Integer.MAX_VALUE) {
      throw new WizerException.InvalidModule(what + " too large: " + v, start);
    }
    return (int) v;
  }

  long u64() {
    int start = pos;
    long result = 0;
    for (int shift = 0; shift < 70; shift += 7) {
      if (pos >= limit) {
        throw new WizerException.InvalidModule("unexpected end of LEB128 integer", start);
      }
      int b = buf[pos++] & 0xff;
      result |= (long) (b & 0x7f) << shift;
      if ((b & 0x80) == 0) {
        return result;
      }
    }
    throw new WizerException.InvalidModule("u64 LEB128 integer representation too long", start);
  }

  long s64() {
    int start = pos;
    long result = 0;
    int shift = 0;
    int b;
    do {
      if (pos >= limit) {
        throw new WizerException.InvalidModule("unexpected end of LEB128 integer", start);
      }
      if (shift >= 70) {
        throw new WizerException.InvalidModule("s64 LEB128 integer representation too long", start);
      }
      b = buf[pos++] & 0xff;
      result |= (long) (b & 0x7f) << shift;
      shift += 7;
    } while ((b & 0x80) != 0);
    if (shift < 64 && (b & 0x40) != 0) {
      result |= -1L << shift;
    }
    return result;
  }

  String name() {
    int len = length("name length");
    int start = pos;
    pos += len;
    try {
      return StandardCharsets.UTF_8
          .newDecoder()
          .onMalformedInput(CodingErrorAction.REPORT)
          .onUnmappableCharacter(CodingErrorAction.REPORT)
          .decode(ByteBuffer.wrap(buf, start, len))
          .toString();
    } catch (CharacterCodingException e) {
      throw new WizerException.InvalidModule("malformed UTF-8 in name", start);
    }
  }

  /**
   * Reads a value type and returns its first byte, skipping the heap type of the
   * function-references and GC proposals ({@code (ref null? ht)}, a signed 33-bit LEB128). A value
   * type is one byte below 0x80: anything else is malformed, and is rejected here so that this walk
   * and the runtime's parser (which reads the byte as a LEB128) never disagree about where the next
   * field starts.
   */
  int valType() {
    int at = pos;
    int t = u8();
    if (t >= 0x80) {
      throw new WizerException.InvalidModule(String.format("malformed value type 0x%02x", t), at);
    }
    if (t == Wasm.TYPE_REF_NULL || t == Wasm.TYPE_REF) {
      s64(); // heap type: abstract code or type index
    }
    return t;
  }

  /**
   * Skips a constant expression up to and including its final {@code end}, handing the function
   * index of every {@code ref.func} to {@code refs}. Constant expressions only contain constants,
   * {@code global.get}, {@code ref.*}, the extended-const integer arithmetic and GC allocation
   * instructions, all of which are decoded here.
   */
  void skipConstExpr(LongConsumer refs) {
    while (true) {
      int at = pos;
      int op = u8();
      switch (op) {
        case Wasm.OP_END -> {
          return;
        }
        case Wasm.OP_I32_CONST, Wasm.OP_I64_CONST -> s64();
        case Wasm.OP_F32_CONST -> skip(4, "f32 constant");
        case Wasm.OP_F64_CONST -> skip(8, "f64 constant");
        case Wasm.OP_GLOBAL_GET -> u32();
        case Wasm.OP_REF_FUNC -> refs.accept(u32());
        case Wasm.OP_REF_NULL -> s64();
        case Wasm.OP_I32_ADD,
            Wasm.OP_I32_SUB,
            Wasm.OP_I32_MUL,
            Wasm.OP_I64_ADD,
            Wasm.OP_I64_SUB,
            Wasm.OP_I64_MUL -> {}
        case Wasm.OP_PREFIX_SIMD -> {
          if (u32() != Wasm.SIMD_V128_CONST) {
            throw new WizerException.InvalidModule(
                "unsupported SIMD instruction in constant expression", at);
          }
          skip(16, "v128 constant");
        }
        case Wasm.OP_PREFIX_GC -> {
          long sub = u32();
          if (sub == Wasm.GC_STRUCT_NEW
              || sub == Wasm.GC_STRUCT_NEW_DEFAULT
              || sub == Wasm.GC_ARRAY_NEW
              || sub == Wasm.GC_ARRAY_NEW_DEFAULT) {
            u32(); // type index
          } else if (sub == Wasm.GC_ARRAY_NEW_FIXED) {
            u32(); // type index
            u32(); // element count
          } else if (sub != Wasm.GC_REF_I31
              && sub != Wasm.GC_ANY_CONVERT_EXTERN
              && sub != Wasm.GC_EXTERN_CONVERT_ANY) {
            throw new WizerException.InvalidModule(
                "unsupported GC instruction in constant expression", at);
          }
        }
        default ->
            throw new WizerException.InvalidModule(
                String.format("unsupported instruction 0x%02x in constant expression", op), at);
      }
    }
  }
}
