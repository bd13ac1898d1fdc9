package dev.wizer4j;

import java.util.Objects;

/**
 * The exact bits of a global's value. Floats are kept as raw bits so that NaN payloads and {@code
 * -0.0} survive a snapshot unchanged; a {@code v128} is two little-endian halves.
 *
 * @param type the global's value type
 * @param bits the value of an i32/i64, the raw bits of an f32/f64, or the low 64 bits of a v128
 * @param high the high 64 bits of a v128, otherwise 0
 */
public record GlobalValue(Type type, long bits, long high) {

  /** The value types a snapshottable (mutable, non-reference) global can have. */
  public enum Type {
    I32(0x7f),
    I64(0x7e),
    F32(0x7d),
    F64(0x7c),
    V128(0x7b);

    private final int code;

    Type(int code) {
      this.code = code;
    }

    /** The type's byte in the binary format. */
    public int code() {
      return code;
    }

    static Type fromCode(int code) {
      for (Type t : values()) {
        if (t.code == code) {
          return t;
        }
      }
      return null;
    }
  }

  public GlobalValue {
    Objects.requireNonNull(type, "type");
    if (type == Type.I32 || type == Type.F32) {
      bits &= 0xffffffffL;
    }
    if (type != Type.V128 && high != 0) {
      throw new IllegalArgumentException("high must be 0 for " + type);
    }
  }

  public static GlobalValue i32(int v) {
    return new GlobalValue(Type.I32, v, 0);
  }

  public static GlobalValue i64(long v) {
    return new GlobalValue(Type.I64, v, 0);
  }

  public static GlobalValue f32Bits(int bits) {
    return new GlobalValue(Type.F32, bits, 0);
  }

  public static GlobalValue f64Bits(long bits) {
    return new GlobalValue(Type.F64, bits, 0);
  }

  public static GlobalValue v128(long low, long high) {
    return new GlobalValue(Type.V128, low, high);
  }

  /** Writes this value as a constant expression, {@code end} included. */
  void writeConstExpr(ByteSink out) {
    switch (type) {
      case I32 -> out.u8(Wasm.OP_I32_CONST).s64((int) bits);
      case I64 -> out.u8(Wasm.OP_I64_CONST).s64(bits);
      case F32 -> out.u8(Wasm.OP_F32_CONST).littleEndian(bits, 4);
      case F64 -> out.u8(Wasm.OP_F64_CONST).littleEndian(bits, 8);
      case V128 ->
          out.u8(Wasm.OP_PREFIX_SIMD)
              .u32(Wasm.SIMD_V128_CONST)
              .littleEndian(bits, 8)
              .littleEndian(high, 8);
    }
    out.u8(Wasm.OP_END);
  }
}
