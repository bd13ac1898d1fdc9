package dev.wizer4j;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.stream.IntStream;

/**
 * Finds the non-zero regions of a memory, the data segments of a snapshot.
 *
 * <p>Two regions separated by at most {@link #MERGE_GAP} zero bytes become one segment: a new
 * active segment costs at least that much (flags, an {@code i32.const} opcode and its offset, the
 * {@code end} opcode and a length), so keeping the zeros is never larger. Then, if there are more
 * than {@link #MAX_DATA_SEGMENTS} segments, the ones separated by the smallest gaps are merged
 * until the limit holds.
 */
final class MemoryScan {
  /**
   * Engines limit how many data segments a module may have (wasmtime and V8 allow 100,000); staying
   * at a tenth of that leaves room for the module's own segments and for other engines.
   */
  static final int MAX_DATA_SEGMENTS = 10_000;

  /**
   * Zero runs of at most this many bytes stay inside a segment. A new active segment costs at least
   * 5 bytes besides its data (flags, {@code i32.const}, a 1-byte offset, {@code end}, a 1-byte
   * length), so keeping up to 4 zeros never makes the output larger. Wizer uses the same bound, so
   * below the segment cap both tools emit the same segments.
   */
  static final int MERGE_GAP = 4;

  /** Memories at least this large are scanned in parallel slices. */
  private static final long PARALLEL_THRESHOLD = 8L << 20;

  private static final int ZEROS_LEN = 4096;
  private static final byte[] ZEROS = new byte[ZEROS_LEN];

  private static final VarHandle LONGS =
      MethodHandles.byteArrayViewVarHandle(long[].class, ByteOrder.LITTLE_ENDIAN);
  private static final long ONES = 0x0101010101010101L;
  private static final long HIGHS = 0x8080808080808080L;

  private MemoryScan() {}

  /** A region {@code [start, end)} of memory {@code memory} (an ordinal of defined memories). */
  record Range(int memory, long start, long end) {}

  /** The non-zero runs of one memory as start/end pairs, already merged across small gaps. */
  static final class Ranges {
    long[] pairs = new long[32];
    int count;

    void add(long start, long end) {
      if (count > 0 && start - pairs[2 * count - 1] <= MERGE_GAP) {
        pairs[2 * count - 1] = end;
        return;
      }
      if (2 * count + 2 > pairs.length) {
        pairs = Arrays.copyOf(pairs, pairs.length * 2);
      }
      pairs[2 * count] = start;
      pairs[2 * count + 1] = end;
      count++;
    }

    void addAll(Ranges other) {
      for (int i = 0; i < other.count; i++) {
        add(other.pairs[2 * i], other.pairs[2 * i + 1]);
      }
    }

    int size() {
      return count;
    }
  }

  static Ranges nonZeroRanges(MemoryImage image) {
    long len = image.byteLength();
    int cores = Runtime.getRuntime().availableProcessors();
    if (len < PARALLEL_THRESHOLD || cores < 2) {
      Ranges out = new Ranges();
      scan(image, 0, len, out);
      return out;
    }
    // Slices of whole pages, scanned by a parallel stream (the common pool and this thread),
    // then joined in order; joining applies the same gap rule as a sequential scan.
    long sliceLen = Math.max(1L << 20, (len / (cores * 4L) + 0xffff) & ~0xffffL);
    int slices = (int) ((len + sliceLen - 1) / sliceLen);
    List<Ranges> parts =
        IntStream.range(0, slices)
            .parallel()
            .mapToObj(
                s -> {
                  Ranges out = new Ranges();
                  scan(image, s * sliceLen, Math.min(len, (s + 1) * sliceLen), out);
                  return out;
                })
            .toList();
    Ranges all = parts.get(0);
    for (int s = 1; s < parts.size(); s++) {
      all.addAll(parts.get(s));
    }
    return all;
  }

  /** Appends the non-zero runs of {@code [from, to)}; a run never extends past {@code to}. */
  static void scan(MemoryImage image, long from, long to, Ranges out) {
    long pos = from;
    while (pos < to) {
      long start = nextNonZero(image, pos, to);
      if (start >= to) {
        return;
      }
      long end = nextZero(image, start, to);
      out.add(start, end);
      pos = end;
    }
  }

  /** First address in {@code [pos, to)} holding a non-zero byte, or {@code to}. */
  static long nextNonZero(MemoryImage image, long pos, long to) {
    int cs = image.chunkSize();
    while (pos < to) {
      int c = (int) (pos / cs);
      byte[] chunk = image.chunk(c);
      int off = (int) (pos - (long) c * cs);
      int lim = (int) Math.min(image.chunkLength(c), to - (long) c * cs);
      while (off < lim) {
        int n = Math.min(ZEROS_LEN, lim - off);
        int mm = Arrays.mismatch(chunk, off, off + n, ZEROS, 0, n);
        if (mm >= 0) {
          return (long) c * cs + off + mm;
        }
        off += n;
      }
      pos = (long) c * cs + lim;
    }
    return to;
  }

  /** First address in {@code [pos, to)} holding a zero byte, or {@code to}. */
  static long nextZero(MemoryImage image, long pos, long to) {
    int cs = image.chunkSize();
    while (pos < to) {
      int c = (int) (pos / cs);
      byte[] chunk = image.chunk(c);
      int off = (int) (pos - (long) c * cs);
      int lim = (int) Math.min(image.chunkLength(c), to - (long) c * cs);
      while (off + 8 <= lim) {
        long v = (long) LONGS.get(chunk, off);
        long zeros = (v - ONES) & ~v & HIGHS;
        if (zeros != 0) {
          // The lowest flagged byte is exact: false positives only appear above a real zero.
          return (long) c * cs + off + (Long.numberOfTrailingZeros(zeros) >>> 3);
        }
        off += 8;
      }
      while (off < lim) {
        if (chunk[off] == 0) {
          return (long) c * cs + off;
        }
        off++;
      }
      pos = (long) c * cs + lim;
    }
    return to;
  }

  /**
   * Flattens the per-memory ranges and, if there are more than {@link #MAX_DATA_SEGMENTS}, merges
   * neighbours in the same memory until the limit holds. Each merge trades the zeros of the gap for
   * the header of the second segment, so the merges that add the fewest bytes go first: the gap
   * minus the header it saves (the first segment's length may also need a longer LEB128). Ties go
   * to the lowest address, so the result is deterministic.
   */
  static List<Range> capSegments(List<Ranges> perMemory) {
    int total = 0;
    for (Ranges r : perMemory) {
      total += r.size();
    }
    int excess = total - MAX_DATA_SEGMENTS;
    boolean[] mergeWithNext = null;
    if (excess > 0) {
      // Candidates encoded as (cost << 32 | flat index); cost is biased to stay non-negative.
      long[] candidates = new long[total];
      int n = 0;
      int flat = 0;
      for (int m = 0; m < perMemory.size(); m++) {
        Ranges r = perMemory.get(m);
        for (int i = 0; i < r.size(); i++, flat++) {
          if (i + 1 >= r.size()) {
            continue;
          }
          long aStart = r.pairs[2 * i];
          long aEnd = r.pairs[2 * i + 1];
          long bStart = r.pairs[2 * i + 2];
          long bEnd = r.pairs[2 * i + 3];
          long gap = bStart - aEnd;
          if (gap >= (1L << 30)) {
            continue;
          }
          long saved =
              Rewrite.activeSegmentHeaderSize(m, bStart, bEnd - bStart)
                  + ByteSink.sizeU32(aEnd - aStart)
                  - ByteSink.sizeU32(bEnd - aStart);
          long cost = gap - saved + 64; // saved is at most 21 bytes
          candidates[n++] = cost << 32 | flat;
        }
      }
      Arrays.sort(candidates, 0, n);
      mergeWithNext = new boolean[total];
      for (int i = 0; i < Math.min(excess, n); i++) {
        mergeWithNext[(int) candidates[i]] = true;
      }
    }
    List<Range> out = new ArrayList<>(Math.min(total, MAX_DATA_SEGMENTS));
    int flat = 0;
    for (int m = 0; m < perMemory.size(); m++) {
      Ranges r = perMemory.get(m);
      int i = 0;
      while (i < r.size()) {
        long start = r.pairs[2 * i];
        while (mergeWithNext != null && mergeWithNext[flat + i]) {
          i++;
        }
        out.add(new Range(m, start, r.pairs[2 * i + 1]));
        i++;
      }
      flat += r.size();
    }
    return out;
  }
}
