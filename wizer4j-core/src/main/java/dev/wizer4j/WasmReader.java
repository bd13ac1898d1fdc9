package dev.wizer4j;

import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;

/**
 * A bounds-checked cursor over a slice of the input module. Every error carries the absolute byte
 * offset at which it was detected.
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

  WizerException.InvalidModule error(String message) {
    return new WizerException.InvalidModule(message, pos);
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
    int len = u32AsInt("name length");
    int start = pos;
    need(len, "name");
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
   * Skips a value type, including the reference types of the function-references and GC proposals
   * ({@code (ref null? ht)} with a signed 33-bit heap type).
   */
  void skipValType() {
    int t = u8();
    if (t == 0x63 || t == 0x64) {
      s64(); // heap type: abstract code or type index
    }
  }

  /**
   * Skips a constant expression up to and including its final {@code end}. Constant expressions
   * only contain constants, {@code global.get}, {@code ref.*}, the extended-const integer
   * arithmetic and GC allocation instructions, all of which are decoded here.
   */
  void skipConstExpr() {
    while (true) {
      int at = pos;
      int op = u8();
      switch (op) {
        case 0x0b: // end
          return;
        case 0x41: // i32.const
        case 0x42: // i64.const
          s64();
          break;
        case 0x43: // f32.const
          skip(4, "f32 constant");
          break;
        case 0x44: // f64.const
          skip(8, "f64 constant");
          break;
        case 0x23: // global.get
        case 0xd2: // ref.func
          u32();
          break;
        case 0xd0: // ref.null ht
          s64();
          break;
        case 0x6a:
        case 0x6b:
        case 0x6c: // i32.add/sub/mul
        case 0x7c:
        case 0x7d:
        case 0x7e: // i64.add/sub/mul
          break;
        case 0xfd:
          {
            long sub = u32();
            if (sub != 12) {
              throw new WizerException.InvalidModule(
                  "unsupported SIMD instruction in constant expression", at);
            }
            skip(16, "v128 constant");
            break;
          }
        case 0xfb:
          {
            long sub = u32();
            if (sub == 0 || sub == 1 || sub == 6
                || sub == 7) { // struct.new(_default), array.new(_default)
              u32();
            } else if (sub == 8) { // array.new_fixed
              u32();
              u32();
            } else if (sub == 28 || sub == 26
                || sub == 27) { // ref.i31, any.convert_extern, extern.convert_any
              // no immediates
            } else {
              throw new WizerException.InvalidModule(
                  "unsupported GC instruction in constant expression", at);
            }
            break;
          }
        default:
          throw new WizerException.InvalidModule(
              String.format("unsupported instruction 0x%02x in constant expression", op), at);
      }
    }
  }
}
