package dev.wizer4j;

import java.util.Arrays;

/** A growable byte buffer with LEB128 writers: the one output sink of the encoder passes. */
final class ByteSink {
  private byte[] buf;
  private int size;

  ByteSink(int initialCapacity) {
    buf = new byte[Math.max(16, initialCapacity)];
  }

  int size() {
    return size;
  }

  private void ensure(int extra) {
    long needed = (long) size + extra;
    if (needed > buf.length) {
      if (needed > Integer.MAX_VALUE - 8) {
        throw new WizerException.Unsupported("the output module would be larger than 2 GiB");
      }
      buf =
          Arrays.copyOf(
              buf, (int) Math.max(needed, Math.min(Integer.MAX_VALUE - 8, buf.length * 2L)));
    }
  }

  ByteSink u8(int b) {
    ensure(1);
    buf[size++] = (byte) b;
    return this;
  }

  ByteSink bytes(byte[] src, int off, int len) {
    ensure(len);
    System.arraycopy(src, off, buf, size, len);
    size += len;
    return this;
  }

  ByteSink bytes(byte[] src) {
    return bytes(src, 0, src.length);
  }

  ByteSink bytes(ByteSink src) {
    return bytes(src.buf, 0, src.size);
  }

  ByteSink u32(long v) {
    return u64(v & 0xffffffffL);
  }

  ByteSink u64(long v) {
    ensure(10);
    do {
      int b = (int) (v & 0x7f);
      v >>>= 7;
      buf[size++] = (byte) (v != 0 ? b | 0x80 : b);
    } while (v != 0);
    return this;
  }

  ByteSink s64(long v) {
    ensure(10);
    while (true) {
      int b = (int) (v & 0x7f);
      v >>= 7;
      boolean done = (v == 0 && (b & 0x40) == 0) || (v == -1 && (b & 0x40) != 0);
      buf[size++] = (byte) (done ? b : b | 0x80);
      if (done) {
        return this;
      }
    }
  }

  ByteSink name(String s) {
    byte[] b = s.getBytes(java.nio.charset.StandardCharsets.UTF_8);
    u32(b.length);
    return bytes(b);
  }

  ByteSink littleEndian(long v, int nbytes) {
    ensure(nbytes);
    for (int i = 0; i < nbytes; i++) {
      buf[size++] = (byte) (v >>> (8 * i));
    }
    return this;
  }

  static int sizeU32(long v) {
    v &= 0xffffffffL;
    int n = 1;
    while ((v >>>= 7) != 0) {
      n++;
    }
    return n;
  }

  static int sizeS64(long v) {
    int n = 1;
    while (true) {
      int b = (int) (v & 0x7f);
      v >>= 7;
      if ((v == 0 && (b & 0x40) == 0) || (v == -1 && (b & 0x40) != 0)) {
        return n;
      }
      n++;
    }
  }

  byte[] toByteArray() {
    return Arrays.copyOf(buf, size);
  }
}
