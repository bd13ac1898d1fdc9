package dev.wizer4j;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** The fast scanner must find exactly the segments of the plain byte-by-byte definition. */
class MemoryScanTest {

  /**
   * The definition: split at every zero byte, merge gaps of at most 4; over the cap, merge the
   * smallest gaps first (Wizer's rule, which the scanner must never do worse than).
   */
  static List<long[]> reference(List<byte[]> memories) {
    List<long[]> runs = new ArrayList<>(); // {memory, start, end}
    for (int m = 0; m < memories.size(); m++) {
      byte[] mem = memories.get(m);
      int i = 0;
      while (i < mem.length) {
        if (mem[i] == 0) {
          i++;
          continue;
        }
        int s = i;
        while (i < mem.length && mem[i] != 0) {
          i++;
        }
        long[] last = runs.isEmpty() ? null : runs.get(runs.size() - 1);
        if (last != null && last[0] == m && s - last[2] <= 4) {
          last[2] = i;
        } else {
          runs.add(new long[] {m, s, i});
        }
      }
    }
    while (runs.size() > MemoryScan.MAX_DATA_SEGMENTS) {
      int best = -1;
      for (int k = 0; k + 1 < runs.size(); k++) {
        if (runs.get(k)[0] != runs.get(k + 1)[0]) {
          continue;
        }
        long gap = runs.get(k + 1)[1] - runs.get(k)[2];
        if (best < 0 || gap < runs.get(best + 1)[1] - runs.get(best)[2]) {
          best = k;
        }
      }
      runs.get(best)[2] = runs.get(best + 1)[2];
      runs.remove(best + 1);
    }
    runs.sort(Comparator.<long[]>comparingLong(r -> r[0]).thenComparingLong(r -> r[1]));
    return runs;
  }

  static List<long[]> scan(List<byte[]> memories, int chunkSize) {
    List<MemoryScan.Ranges> per = new ArrayList<>();
    for (byte[] mem : memories) {
      int count = mem.length / chunkSize;
      byte[][] chunks = new byte[count][];
      for (int c = 0; c < count; c++) {
        chunks[c] = java.util.Arrays.copyOfRange(mem, c * chunkSize, (c + 1) * chunkSize);
      }
      per.add(MemoryScan.nonZeroRanges(MemoryImage.ofChunks(chunks, count, chunkSize)));
    }
    List<long[]> out = new ArrayList<>();
    for (MemoryScan.Range r : MemoryScan.capSegments(per)) {
      out.add(new long[] {r.memory(), r.start(), r.end()});
    }
    return out;
  }

  private static String show(List<long[]> runs) {
    StringBuilder b = new StringBuilder();
    for (long[] r : runs) {
      b.append(r[0]).append(':').append(r[1]).append('-').append(r[2]).append(' ');
    }
    return b.toString();
  }

  @Test
  void matchesTheDefinitionOnRandomMemories() {
    Random rnd = new Random(42);
    for (int trial = 0; trial < 200; trial++) {
      int chunk = 1 << (4 + rnd.nextInt(8)); // 16 B .. 32 KiB chunks: boundaries everywhere
      List<byte[]> memories = new ArrayList<>();
      for (int m = 0; m < 1 + rnd.nextInt(3); m++) {
        byte[] mem = new byte[chunk * (1 + rnd.nextInt(64))];
        int islands = rnd.nextInt(200);
        for (int k = 0; k < islands; k++) {
          int at = rnd.nextInt(mem.length);
          int len = 1 + rnd.nextInt(rnd.nextBoolean() ? 8 : 300);
          for (int j = at; j < Math.min(mem.length, at + len); j++) {
            mem[j] = (byte) (rnd.nextInt(4) == 0 ? 0 : 1 + rnd.nextInt(255));
          }
        }
        if (rnd.nextBoolean()) {
          mem[mem.length - 1] = 9; // the last byte of memory
        }
        memories.add(mem);
      }
      assertEquals(show(reference(memories)), show(scan(memories, chunk)), "trial " + trial);
    }
  }

  /** Encoded size of the segments, headers included. */
  static long encodedSize(List<long[]> runs) {
    long n = 0;
    for (long[] r : runs) {
      n += Rewrite.activeSegmentHeaderSize((int) r[0], r[1], r[2] - r[1]) + (r[2] - r[1]);
    }
    return n;
  }

  @Test
  void capsTheSegmentCountWithoutLosingBytesAndNoLargerThanSmallestGapsFirst() {
    Random rnd = new Random(7);
    for (int trial = 0; trial < 5; trial++) {
      byte[] mem = new byte[65536 * 8];
      for (int at = rnd.nextInt(10); at < mem.length; at += 6 + rnd.nextInt(40)) {
        mem[at] = 1;
      }
      List<byte[]> memories = List.of(mem);
      List<long[]> got = scan(memories, 65536);
      assertEquals(MemoryScan.MAX_DATA_SEGMENTS, got.size());
      long covered = 0;
      for (int k = 0; k < got.size(); k++) {
        long[] r = got.get(k);
        if (k > 0) {
          assertTrue(got.get(k - 1)[2] < r[1], "sorted and disjoint");
        }
        assertTrue(mem[(int) r[1]] != 0 && mem[(int) r[2] - 1] != 0, "tight ends");
        for (long a = r[1]; a < r[2]; a++) {
          covered += mem[(int) a] != 0 ? 1 : 0;
        }
      }
      long nonZero = 0;
      for (byte b : mem) {
        nonZero += b != 0 ? 1 : 0;
      }
      assertEquals(nonZero, covered, "every non-zero byte is in a segment");
      assertTrue(encodedSize(got) <= encodedSize(reference(memories)), "trial " + trial);
    }
  }

  @Test
  void largeMemoriesScannedInParallelGiveTheSameResult() {
    byte[] mem = new byte[32 << 20];
    Random rnd = new Random(3);
    for (int k = 0; k < 3000; k++) {
      int at = rnd.nextInt(mem.length - 100);
      for (int j = 0; j < 1 + rnd.nextInt(90); j++) {
        mem[at + j] = (byte) (1 + rnd.nextInt(200));
      }
    }
    // Runs across every 4 MiB boundary, where the parallel slices meet.
    for (int b = 4 << 20; b < mem.length; b += 4 << 20) {
      mem[b - 1] = 5;
      mem[b] = 6;
      mem[b + 3] = 7;
    }
    List<byte[]> memories = List.of(mem);
    assertEquals(show(reference(memories)), show(scan(memories, 65536)));
  }
}
