package dev.wizer4j.durable;

import dev.wizer4j.GlobalValue;
import dev.wizer4j.ModuleState;
import dev.wizer4j.durable.DurableException.InvalidState;
import dev.wizer4j.durable.DurableException.InvalidState.Reason;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Function;
import java.util.zip.CRC32C;
import java.util.zip.DataFormatException;
import java.util.zip.Deflater;
import java.util.zip.Inflater;

/**
 * The bytes of one stored task state, full or delta. All numbers are little-endian.
 *
 * <pre>
 * offset  size  field
 *      0     4  magic "W4JD"
 *      4     2  format version (1)
 *      6     1  kind: 0 a full state, 1 a delta
 *      7     1  reserved, 0
 *      8     4  total length of the state in bytes, checksum included
 *     12    32  SHA-256 of the guest module the state belongs to
 *     44     8  generation (1 for the first save, +1 per save)
 *     52     1  status: 0 waiting for a request, 1 done
 *     53     8  request (waiting) or result (done)
 *     61     1  task name length n (1..128), then n bytes of the name (ASCII)
 *              a delta only: u32 the CRC-32C of the full state it follows (its last 4 bytes)
 *              u32 memory count m, then m x u32 pages
 *              u32 global count g, then g x (u8 type code, 8 bytes; 16 for v128)
 *              u32 segment count s, then s x (u32 memory, u32 offset, u32 length, u8 form,
 *                data): form 0: the length's bytes as they are; form 1: a bitmap of
 *                ceil(length / 8) bytes (bit i of byte i / 8, lowest bit first: byte i is not
 *                zero), then only the bytes that are not zero; form 2: as form 1, with the
 *                bitmap compressed (u32 n, then n bytes of raw DEFLATE, RFC 1951)
 *    L-4     4  CRC-32C of bytes 0 .. L-4
 * </pre>
 *
 * <p>A full state's segments are the non-zero parts of memory; all other bytes are zero. A delta's
 * segments are the bytes that changed since the previous generation (zero or not), written over
 * that generation's memory after it has grown to the delta's page counts; its globals replace the
 * previous ones. Both carry every field of the header, so each one is verified on its own.
 *
 * <p>Decoding checks everything in this order and stops at the first failure: the magic and version
 * ({@link Reason#FORMAT}), the length and the checksum ({@link Reason#CORRUPT}), then each count
 * against the bytes that remain before anything is allocated ({@link Reason#FORMAT}: a state with a
 * good checksum and a bad layout was made on purpose). The checksum catches accidents (a flipped
 * bit, a torn or truncated copy); it is no signature: who can write to the store can write a state
 * that verifies. What such a state can do is bounded by the checks against its guest in {@link
 * DurableHost}: it is data for code that was validated, never code.
 */
final class StateFormat {
  static final int MAGIC = 0x444a3457; // "W4JD" little-endian
  static final int VERSION = 1;
  static final int HASH_BYTES = 32;
  static final int FIXED = 62; // up to and including the task name length
  static final int CHECKSUM = 4;
  static final int RAW = 0;
  static final int BITMAP = 1;
  static final int PACKED_BITMAP = 2;
  static final int FULL = 0;
  static final int DELTA = 1;

  private StateFormat() {}

  /**
   * A decoded state: provenance, status and the module state; {@code crc} is its checksum, and
   * {@code base}, for a delta, the checksum of the full state it follows.
   */
  record Decoded(
      boolean delta,
      byte[] guestHash,
      long generation,
      boolean done,
      long value,
      String task,
      ModuleState state,
      int size,
      int crc,
      int base) {}

  /** A full state, or a delta that follows a full state whose checksum is 0 (for tests). */
  static byte[] encode(
      int kind,
      byte[] guestHash,
      long generation,
      boolean done,
      long value,
      String task,
      ModuleState s) {
    return encode(kind, guestHash, generation, done, value, task, 0, s);
  }

  /**
   * Encodes a state; a delta names the full state it follows by that state's checksum, {@code
   * base}.
   */
  static byte[] encode(
      int kind,
      byte[] guestHash,
      long generation,
      boolean done,
      long value,
      String task,
      int base,
      ModuleState s) {
    byte[] name = task.getBytes(StandardCharsets.US_ASCII);
    long size = FIXED + name.length + (kind == DELTA ? 4 : 0);
    size += 4 + 4L * s.memoryPages().length + 4 + 4;
    for (GlobalValue g : s.globals()) {
      size += g.type() == GlobalValue.Type.V128 ? 17 : 9;
    }
    // Each segment's bytes as stored: whole (form 0), or a bitmap and the non-zero bytes (forms 1
    // and 2), whichever is smaller. Zero bytes that a snapshot kept inside a segment (gaps too
    // short to split it) cost one bit each, or less once the bitmap is compressed.
    byte[][] bitmaps = new byte[s.segments().size()][];
    byte[][] packed = new byte[bitmaps.length][];
    for (int i = 0; i < bitmaps.length; i++) {
      byte[] data = s.segments().get(i).data();
      int nonZero = nonZeroBytes(data);
      long kept = data.length;
      if (bitmapSize(data.length) + nonZero < data.length) {
        bitmaps[i] = bitmap(data);
        kept = bitmaps[i].length + (long) nonZero;
        // Not in a delta: its ranges are short, and a compressed bitmap is the one form whose
        // decoded size its stored size does not bound.
        if (kind == FULL && bitmaps[i].length >= MIN_PACKED) {
          byte[] p = deflate(bitmaps[i]);
          if (p.length + 4 < bitmaps[i].length * 3 / 4) {
            packed[i] = p;
            kept = 4 + p.length + (long) nonZero;
          }
        }
      }
      size += 13 + kept;
    }
    size += CHECKSUM;
    if (size > Integer.MAX_VALUE - 16) {
      throw new DurableException("task `" + task + "`: state of " + size + " bytes is too large");
    }
    ByteBuffer b = ByteBuffer.allocate((int) size).order(ByteOrder.LITTLE_ENDIAN);
    b.putInt(MAGIC).putShort((short) VERSION).put((byte) kind).put((byte) 0).putInt((int) size);
    b.put(guestHash).putLong(generation).put((byte) (done ? 1 : 0)).putLong(value);
    b.put((byte) name.length).put(name);
    if (kind == DELTA) {
      b.putInt(base);
    }
    b.putInt(s.memoryPages().length);
    for (long p : s.memoryPages()) {
      b.putInt((int) p);
    }
    b.putInt(s.globals().size());
    for (GlobalValue g : s.globals()) {
      b.put((byte) g.type().code()).putLong(g.bits());
      if (g.type() == GlobalValue.Type.V128) {
        b.putLong(g.high());
      }
    }
    b.putInt(s.segments().size());
    for (int i = 0; i < bitmaps.length; i++) {
      ModuleState.Segment seg = s.segments().get(i);
      byte[] data = seg.data();
      b.putInt(seg.memoryIndex()).putInt((int) seg.offset()).putInt(data.length);
      if (bitmaps[i] == null) {
        b.put((byte) RAW).put(data);
        continue;
      }
      if (packed[i] != null) {
        b.put((byte) PACKED_BITMAP).putInt(packed[i].length).put(packed[i]);
      } else {
        b.put((byte) BITMAP).put(bitmaps[i]);
      }
      byte[] out = b.array();
      int p = b.position();
      for (byte x : data) {
        if (x != 0) {
          out[p++] = x;
        }
      }
      b.position(p);
    }
    CRC32C crc = new CRC32C();
    crc.update(b.array(), 0, b.position());
    b.putInt((int) crc.getValue());
    return b.array();
  }

  /** Decodes and verifies {@code bytes}; {@code where} names them in errors. */
  static Decoded decode(byte[] bytes, String where) {
    return decode(bytes, where, Long.MAX_VALUE);
  }

  /**
   * {@link #decode(byte[], String)}, refusing ({@link Reason#DOES_NOT_FIT}) a memory of more than
   * {@code maxPages} before anything is allocated for its segments.
   */
  static Decoded decode(byte[] bytes, String where, long maxPages) {
    return decode(bytes, where, hash -> null, maxPages);
  }

  /**
   * Decodes and verifies {@code bytes}, asking {@code memories} (given the guest hash, once the
   * header and checksum are verified) how many memories the guest has and how many pages each may
   * have; a state that declares other memories, or more pages, is refused ({@link
   * Reason#DOES_NOT_FIT}) before anything is allocated for its segments, so what decoding allocates
   * is bounded by what the guest's memories may hold. {@code memories} may throw to refuse the
   * guest.
   */
  static Decoded decode(byte[] bytes, String where, Function<byte[], long[]> memories) {
    return decode(bytes, where, memories, Long.MAX_VALUE);
  }

  private static Decoded decode(
      byte[] bytes, String where, Function<byte[], long[]> limits, long maxPages) {
    if (bytes.length < FIXED + 1 + 12 + CHECKSUM) {
      if (bytes.length >= 4
          && ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN).getInt(0) == MAGIC) {
        throw new InvalidState(
            Reason.CORRUPT,
            where + ": truncated, " + bytes.length + " bytes is shorter than any state");
      }
      throw new InvalidState(Reason.FORMAT, where + ": not a wizer4j task state (too short)");
    }
    ByteBuffer b = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
    if (b.getInt() != MAGIC) {
      throw new InvalidState(
          Reason.FORMAT, where + ": not a wizer4j task state (the magic \"W4JD\" is missing)");
    }
    int version = Short.toUnsignedInt(b.getShort());
    if (version != VERSION) {
      throw new InvalidState(
          Reason.FORMAT,
          where + ": state format version " + version + ", this library reads version " + VERSION);
    }
    int kind = b.get();
    if ((kind != FULL && kind != DELTA) || b.get() != 0) {
      throw new InvalidState(
          Reason.FORMAT, where + String.format(": unknown kind of state (byte 6 = %d)", kind));
    }
    long declared = Integer.toUnsignedLong(b.getInt());
    if (declared != bytes.length) {
      throw new InvalidState(
          Reason.CORRUPT,
          where
              + ": "
              + (declared > bytes.length ? "truncated" : "has trailing bytes")
              + ", the state says "
              + declared
              + " bytes, "
              + bytes.length
              + " are stored");
    }
    CRC32C crc = new CRC32C();
    crc.update(bytes, 0, bytes.length - CHECKSUM);
    int stored = b.getInt(bytes.length - CHECKSUM);
    if ((int) crc.getValue() != stored) {
      throw new InvalidState(
          Reason.CORRUPT,
          where
              + String.format(
                  ": checksum mismatch (stored %08x, computed %08x): the state is corrupted",
                  stored, (int) crc.getValue()));
    }
    b.limit(bytes.length - CHECKSUM);
    try {
      byte[] hash = new byte[HASH_BYTES];
      b.get(hash);
      long generation = b.getLong();
      int status = b.get();
      if (status != 0 && status != 1) {
        throw malformed(where, "status " + status, b.position() - 1);
      }
      long value = b.getLong();
      int nameLength = Byte.toUnsignedInt(b.get());
      if (nameLength == 0 || nameLength > 128 || nameLength > b.remaining()) {
        throw malformed(where, "task name length " + nameLength, b.position() - 1);
      }
      byte[] name = new byte[nameLength];
      b.get(name);
      String task = new String(name, StandardCharsets.US_ASCII);
      try {
        SnapshotStore.checkTaskName(task);
      } catch (IllegalArgumentException e) {
        throw malformed(where, e.getMessage(), b.position() - nameLength);
      }

      int base = kind == DELTA ? b.getInt() : 0;
      long[] limit = limits.apply(hash);
      int memories = count(b, 4, "memory", where);
      if (limit != null && memories != limit.length) {
        throw new InvalidState(
            Reason.DOES_NOT_FIT,
            where + ": state has " + memories + " memories, the module has " + limit.length);
      }
      long[] pages = new long[memories];
      for (int m = 0; m < memories; m++) {
        pages[m] = Integer.toUnsignedLong(b.getInt());
        long max = limit != null ? limit[m] : maxPages;
        if (pages[m] > max) {
          throw new InvalidState(
              Reason.DOES_NOT_FIT,
              where
                  + String.format(
                      ": memory %d has %d pages, more than the limit of %d (at offset 0x%x)",
                      m, pages[m], max, b.position() - 4));
        }
      }
      int globalCount = count(b, 9, "global", where);
      List<GlobalValue> globals = new ArrayList<>(globalCount);
      for (int i = 0; i < globalCount; i++) {
        int at = b.position();
        int code = Byte.toUnsignedInt(b.get());
        GlobalValue.Type type = typeOf(code);
        if (type == null) {
          throw malformed(where, String.format("global type 0x%02x", code), at);
        }
        long bits = b.getLong();
        long high = type == GlobalValue.Type.V128 ? b.getLong() : 0;
        globals.add(new GlobalValue(type, bits, high));
      }
      int segmentCount = count(b, 13, "segment", where);
      List<ModuleState.Segment> segments = new ArrayList<>(segmentCount);
      int lastMemory = -1;
      long lastEnd = 0;
      for (int i = 0; i < segmentCount; i++) {
        int at = b.position();
        int memory = b.getInt();
        long offset = Integer.toUnsignedLong(b.getInt());
        long length = Integer.toUnsignedLong(b.getInt());
        int form = b.get();
        // What a segment must at least store: its bytes, a bitmap byte per 8, or the compressed
        // bitmap's length (whose decoded size only the memory bound below limits).
        long kept =
            switch (form) {
              case RAW -> length;
              case BITMAP -> bitmapSize(length);
              case PACKED_BITMAP -> kind == FULL ? 4 : -1;
              default -> -1;
            };
        if (memory < 0 || memory >= memories || kept < 0 || kept > b.remaining()) {
          throw malformed(
              where,
              "segment " + i + " (memory " + memory + ", " + length + " bytes, form " + form + ")",
              at);
        }
        // Before allocating: a bitmap of n bytes stands for 8n bytes of memory, so without this a
        // small state could make decoding allocate far past its memories (or 2 GiB and fail).
        // Segments in order and inside their memory bound what decoding allocates by the declared
        // memory sizes, each within maxPages; checkFits checks the same against the guest later.
        long size = pages[memory] * ModuleState.PAGE_SIZE;
        if (memory < lastMemory
            || (memory == lastMemory && offset < lastEnd)
            || offset > size
            || length > size - offset
            || length > Integer.MAX_VALUE - 8) {
          throw new InvalidState(
              Reason.DOES_NOT_FIT,
              where
                  + String.format(
                      ": segment %d (%d bytes at %d) overlaps the one before or lies outside"
                          + " memory %d of %d bytes (at offset 0x%x)",
                      i, length, offset, memory, size, at));
        }
        lastMemory = memory;
        lastEnd = offset + length;
        byte[] data = new byte[(int) length];
        if (form == RAW) {
          b.get(data);
        } else {
          byte[] bitmap;
          int from;
          if (form == BITMAP) {
            bitmap = bytes;
            from = b.position();
            b.position(from + (int) kept);
          } else {
            int n = b.getInt();
            if (n < 0 || n > b.remaining()) {
              throw malformed(where, "segment " + i + " (its bitmap runs past the state)", at);
            }
            bitmap = inflate(bytes, b.position(), n, (int) bitmapSize(length));
            if (bitmap == null) {
              throw malformed(where, "segment " + i + " (its compressed bitmap)", at);
            }
            from = 0;
            b.position(b.position() + n);
          }
          int p = unpack(bitmap, from, bytes, b.position(), b.limit(), data);
          if (p < 0) {
            throw malformed(where, "segment " + i + " (its bitmap runs past the state)", at);
          }
          b.position(p);
        }
        segments.add(new ModuleState.Segment(memory, offset, data));
      }
      if (b.hasRemaining()) {
        throw malformed(where, b.remaining() + " bytes after the last segment", b.position());
      }
      return new Decoded(
          kind == DELTA,
          hash,
          generation,
          status == 1,
          value,
          task,
          new ModuleState(globals, pages, segments),
          bytes.length,
          stored,
          base);
    } catch (java.nio.BufferUnderflowException e) {
      throw new InvalidState(Reason.FORMAT, where + ": malformed state, it ends inside a field");
    }
  }

  static long bitmapSize(long length) {
    return (length + 7) >>> 3;
  }

  /** Bitmaps shorter than this are not worth compressing. */
  static final int MIN_PACKED = 64;

  /** Bit i of byte i / 8 (lowest bit first) set where {@code data[i]} is not zero. */
  static byte[] bitmap(byte[] data) {
    byte[] bits = new byte[(int) bitmapSize(data.length)];
    int k = 0;
    for (; k + 8 <= data.length; k += 8) {
      long v = (long) LE_LONG.get(data, k);
      // The high bit of each byte of z is set exactly when that byte of v is zero.
      long z = ~(((v & LOWS) + LOWS) | v | LOWS);
      // Gather the 8 high bits (bytes 0..7) into one byte; a set bit means "not zero".
      bits[k >>> 3] = (byte) ~(((z >>> 7) & 0x0101010101010101L) * 0x0102040810204080L >>> 56);
    }
    for (; k < data.length; k++) {
      if (data[k] != 0) {
        bits[k >>> 3] |= (byte) (1 << (k & 7));
      }
    }
    return bits;
  }

  /**
   * Fills {@code data} from a bitmap ({@code bitmap} from {@code from}, one bit per byte of data)
   * and the non-zero bytes in {@code src} from {@code p} up to {@code end}.
   *
   * @return the position after the bytes used, or -1 if the bitmap asks for more than there are
   */
  static int unpack(byte[] bitmap, int from, byte[] src, int p, int end, byte[] data) {
    int length = data.length;
    int k = 0;
    while (k < length) {
      int at = from + (k >>> 3);
      int bits = bitmap[at] & 0xff;
      if (bits == 0) {
        k += 8;
        continue;
      }
      if (bits == 0xff) {
        // A run of whole bytes that are all kept: one copy.
        int r = at + 1;
        int last = from + (int) bitmapSize(length);
        while (r < last && bitmap[r] == (byte) 0xff) {
          r++;
        }
        int n = Math.min((r - at) * 8, length - k);
        if (n > end - p) {
          return -1;
        }
        System.arraycopy(src, p, data, k, n);
        p += n;
        k += n;
        continue;
      }
      for (int j = 0; bits != 0 && k + j < length; j++, bits >>>= 1) {
        if ((bits & 1) != 0) {
          if (p >= end) {
            return -1;
          }
          data[k + j] = src[p++];
        }
      }
      k += 8;
    }
    return p;
  }

  private static byte[] deflate(byte[] in) {
    // The default level: a bitmap is an eighth of its data, and level 1 leaves regular ones 3x
    // larger (1.4 KB against 0.4 KB for 256 KiB of a heap with 16 zero bytes in every 64).
    Deflater d = new Deflater(Deflater.DEFAULT_COMPRESSION, true);
    try {
      d.setInput(in);
      d.finish();
      java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream(in.length / 8 + 64);
      byte[] buf = new byte[8192];
      while (!d.finished()) {
        int n = d.deflate(buf);
        out.write(buf, 0, n);
      }
      return out.toByteArray();
    } finally {
      d.end();
    }
  }

  /** Exactly {@code size} bytes inflated from {@code in[off .. off + n)}, or null. */
  private static byte[] inflate(byte[] in, int off, int n, int size) {
    Inflater f = new Inflater(true);
    try {
      f.setInput(in, off, n);
      byte[] out = new byte[size];
      int done = 0;
      while (done < size) {
        int got = f.inflate(out, done, size - done);
        if (got == 0 && (f.finished() || f.needsInput() || f.needsDictionary())) {
          break;
        }
        done += got;
      }
      // All of it, and no more: a stream that ends early or goes on is malformed.
      if (done != size || !f.finished() && f.inflate(new byte[1]) != 0 || f.getRemaining() > 0) {
        return null;
      }
      return out;
    } catch (DataFormatException e) {
      return null;
    } finally {
      f.end();
    }
  }

  private static final long LOWS = 0x7f7f7f7f7f7f7f7fL;
  private static final VarHandle LE_LONG =
      MethodHandles.byteArrayViewVarHandle(long[].class, ByteOrder.LITTLE_ENDIAN);

  /** The bytes of {@code data} that are not zero, counted 8 at a time. */
  static int nonZeroBytes(byte[] data) {
    int zeros = 0;
    ByteBuffer b = ByteBuffer.wrap(data).order(ByteOrder.LITTLE_ENDIAN);
    int i = 0;
    for (; i + 8 <= data.length; i += 8) {
      long v = b.getLong(i);
      // The high bit of each byte of t is set exactly when that byte of v is zero.
      long t = ~(((v & LOWS) + LOWS) | v | LOWS);
      zeros += Long.bitCount(t);
    }
    for (; i < data.length; i++) {
      if (data[i] == 0) {
        zeros++;
      }
    }
    return data.length - zeros;
  }

  /** Reads a count and checks that that many entries of at least {@code min} bytes fit. */
  private static int count(ByteBuffer b, int min, String what, String where) {
    int at = b.position();
    long n = Integer.toUnsignedLong(b.getInt());
    if (n * min > b.remaining()) {
      throw malformed(where, what + " count " + n + " (only " + b.remaining() + " bytes left)", at);
    }
    return (int) n;
  }

  private static InvalidState malformed(String where, String what, int at) {
    return new InvalidState(
        Reason.FORMAT,
        where + String.format(": malformed state, bad %s (at offset 0x%x)", what, at));
  }

  private static GlobalValue.Type typeOf(int code) {
    for (GlobalValue.Type t : GlobalValue.Type.values()) {
      if (t.code() == code) {
        return t;
      }
    }
    return null;
  }
}
