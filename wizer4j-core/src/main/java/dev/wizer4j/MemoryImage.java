package dev.wizer4j;

import java.util.Objects;

/**
 * The bytes of a linear memory, lent by a runtime for the duration of a snapshot. The memory is a
 * sequence of equally sized chunks (the last one may be shorter), so a runtime that stores its
 * memory page by page can lend its pages without copying them, and one that stores a flat array
 * lends that single array.
 */
public final class MemoryImage {
  private final byte[][] chunks;
  private final int chunkSize;
  private final long byteLength;

  private MemoryImage(byte[][] chunks, int chunkSize, long byteLength) {
    this.chunks = chunks;
    this.chunkSize = chunkSize;
    this.byteLength = byteLength;
  }

  /** Lends a whole memory held in one array. */
  public static MemoryImage of(byte[] bytes) {
    Objects.requireNonNull(bytes, "bytes");
    return new MemoryImage(new byte[][] {bytes}, Math.max(1, bytes.length), bytes.length);
  }

  /**
   * Lends a memory stored as {@code count} chunks of {@code chunkSize} bytes each; only the first
   * {@code count} entries of {@code chunks} are read, and each must hold at least {@code chunkSize}
   * bytes.
   */
  public static MemoryImage ofChunks(byte[][] chunks, int count, int chunkSize) {
    Objects.requireNonNull(chunks, "chunks");
    if (chunkSize <= 0) {
      throw new IllegalArgumentException("chunkSize must be positive: " + chunkSize);
    }
    if (count < 0 || count > chunks.length) {
      throw new IllegalArgumentException("count out of range: " + count);
    }
    for (int i = 0; i < count; i++) {
      if (chunks[i] == null || chunks[i].length < chunkSize) {
        throw new IllegalArgumentException("chunk " + i + " is shorter than " + chunkSize);
      }
    }
    return new MemoryImage(chunks, chunkSize, (long) count * chunkSize);
  }

  public long byteLength() {
    return byteLength;
  }

  /** Bytes per chunk (the last chunk may hold fewer of the memory's bytes). */
  public int chunkSize() {
    return chunkSize;
  }

  public int chunkCount() {
    return byteLength == 0 ? 0 : (int) ((byteLength + chunkSize - 1) / chunkSize);
  }

  /**
   * Chunk {@code i} as the runtime lent it, not a copy: read it, never write it, and only while the
   * image is lent (inside the reader given to {@link InstanceState#memory}).
   */
  public byte[] chunk(int i) {
    return chunks[i];
  }

  /** Length of chunk {@code i} that belongs to the memory. */
  public int chunkLength(int i) {
    return (int) Math.min(chunkSize, byteLength - (long) i * chunkSize);
  }

  /** Copies {@code len} bytes starting at memory address {@code addr} into {@code dst}. */
  void copyTo(long addr, byte[] dst, int dstOff, int len) {
    while (len > 0) {
      int c = (int) (addr / chunkSize);
      int off = (int) (addr % chunkSize);
      int n = Math.min(len, chunkLength(c) - off);
      System.arraycopy(chunks[c], off, dst, dstOff, n);
      addr += n;
      dstOff += n;
      len -= n;
    }
  }
}
