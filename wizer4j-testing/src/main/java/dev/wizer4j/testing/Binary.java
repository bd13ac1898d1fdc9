package dev.wizer4j.testing;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * Writes modules byte by byte, for inputs no text format can express: declared sizes that do not
 * fit, sections out of order, names with control characters.
 */
public final class Binary {
  private final ByteArrayOutputStream out = new ByteArrayOutputStream();

  public Binary() {
    bytes(0, 'a', 's', 'm', 1, 0, 0, 0);
  }

  /** Appends a section: id, LEB128 size, payload. */
  public Binary section(int id, byte[] payload) {
    out.write(id);
    byte[] size = leb(payload.length);
    out.write(size, 0, size.length);
    out.write(payload, 0, payload.length);
    return this;
  }

  /** Appends raw bytes (each int is one byte). */
  public Binary bytes(int... b) {
    for (int x : b) {
      out.write(x);
    }
    return this;
  }

  public byte[] build() {
    return out.toByteArray();
  }

  /** Unsigned LEB128. */
  public static byte[] leb(long v) {
    ByteArrayOutputStream b = new ByteArrayOutputStream();
    do {
      int x = (int) (v & 0x7f);
      v >>>= 7;
      b.write(v != 0 ? x | 0x80 : x);
    } while (v != 0);
    return b.toByteArray();
  }

  /** Concatenates byte arrays and single bytes (Integer) into one payload. */
  public static byte[] cat(Object... parts) {
    ByteArrayOutputStream b = new ByteArrayOutputStream();
    for (Object p : parts) {
      if (p instanceof byte[] a) {
        b.write(a, 0, a.length);
      } else if (p instanceof Integer i) {
        b.write(i);
      } else if (p instanceof String s) {
        byte[] a = s.getBytes(StandardCharsets.UTF_8);
        byte[] len = leb(a.length);
        b.write(len, 0, len.length);
        b.write(a, 0, a.length);
      } else {
        throw new IllegalArgumentException(String.valueOf(p));
      }
    }
    return b.toByteArray();
  }

  /** A section of a module: its id and the offsets of its header and payload. */
  public record Section(int id, int start, int end) {}

  /** The sections of a well-formed module, in order. */
  public static List<Section> sections(byte[] wasm) {
    List<Section> result = new ArrayList<>();
    int pos = 8;
    while (pos < wasm.length) {
      int start = pos;
      int id = wasm[pos++] & 0xff;
      long size = 0;
      int shift = 0;
      int b;
      do {
        b = wasm[pos++] & 0xff;
        size |= (long) (b & 0x7f) << shift;
        shift += 7;
      } while ((b & 0x80) != 0);
      pos += (int) size;
      result.add(new Section(id, start, pos));
    }
    return result;
  }
}
