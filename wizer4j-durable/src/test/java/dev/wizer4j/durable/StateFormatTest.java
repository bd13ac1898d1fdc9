package dev.wizer4j.durable;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.wizer4j.GlobalValue;
import dev.wizer4j.ModuleState;
import dev.wizer4j.durable.DurableException.InvalidState;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.zip.CRC32C;
import org.junit.jupiter.api.Test;

/** The stored layout: exact round trips, the smaller form per segment, bounded decoding. */
class StateFormatTest {
  private static final byte[] HASH = new byte[32];

  @Test
  void everyShapeOfSegmentRoundTripsExactly() {
    Random rnd = new Random(7);
    for (int round = 0; round < 200; round++) {
      List<ModuleState.Segment> segments = new ArrayList<>();
      long offset = 0;
      int count = rnd.nextInt(5);
      for (int i = 0; i < count; i++) {
        byte[] data = new byte[1 + rnd.nextInt(300)];
        int zeroOneIn = 1 + rnd.nextInt(4);
        for (int k = 0; k < data.length; k++) {
          data[k] = rnd.nextInt(zeroOneIn) == 0 ? 0 : (byte) (1 + rnd.nextInt(255));
        }
        segments.add(new ModuleState.Segment(0, offset, data));
        offset += data.length + rnd.nextInt(10);
      }
      ModuleState s =
          new ModuleState(
              List.of(GlobalValue.i64(rnd.nextLong()), GlobalValue.v128(1, -1)),
              new long[] {1},
              segments);
      byte[] bytes = StateFormat.encode(StateFormat.FULL, HASH, 3, false, 9, "t", s);
      StateFormat.Decoded d = StateFormat.decode(bytes, "t");
      assertEquals(segments.size(), d.state().segments().size());
      for (int i = 0; i < segments.size(); i++) {
        assertArrayEquals(segments.get(i).data(), d.state().segments().get(i).data());
        assertEquals(segments.get(i).offset(), d.state().segments().get(i).offset());
      }
      assertEquals(s.globals(), d.state().globals());
      assertArrayEquals(
          bytes, StateFormat.encode(StateFormat.FULL, HASH, 3, false, 9, "t", d.state()));
    }
  }

  @Test
  void zerosInsideASegmentCostABitNotAByte() {
    byte[] data = new byte[4000];
    for (int k = 0; k < data.length; k += 4) {
      data[k] = 7; // like a table of small i32 values: 3 zero bytes in 4
    }
    ModuleState s =
        new ModuleState(List.of(), new long[] {1}, List.of(new ModuleState.Segment(0, 0, data)));
    int size = StateFormat.encode(StateFormat.FULL, HASH, 1, false, 0, "t", s).length;
    assertTrue(size <= 1000 + 500 + 100, "stored " + size + " bytes for 1000 non-zero bytes");
  }

  @Test
  void aSegmentCannotDeclareMoreBytesThanItsStoredFormCanHold() {
    ModuleState s =
        new ModuleState(
            List.of(),
            new long[] {1},
            List.of(new ModuleState.Segment(0, 0, new byte[] {0, 1, 0})));
    byte[] bytes = StateFormat.encode(StateFormat.FULL, HASH, 1, false, 0, "t", s);
    ByteBuffer b = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
    int lengthAt = 62 + 1 + 4 + 4 + 4 + 4 + 4; // name, memories, pages, globals, segments, memory
    lengthAt += 4; // offset
    assertEquals(3, b.getInt(lengthAt));
    b.putInt(lengthAt, Integer.MAX_VALUE); // 2 GB declared in a state of a few bytes
    CRC32C crc = new CRC32C();
    crc.update(bytes, 0, bytes.length - 4);
    b.putInt(bytes.length - 4, (int) crc.getValue());
    InvalidState e = assertThrows(InvalidState.class, () -> StateFormat.decode(bytes, "t"));
    assertEquals(InvalidState.Reason.FORMAT, e.reason());
    assertTrue(e.getMessage().contains("2147483647 bytes"), e.getMessage());
  }

  /** A segment of 256 KiB whose last 16 bytes of every 64 are zero: a fragmented heap. */
  private static ModuleState fragmented(Random rnd) {
    byte[] data = new byte[256 << 10];
    for (int k = 0; k < data.length; k++) {
      data[k] = (k & 63) >= 48 ? 0 : (byte) (1 + rnd.nextInt(255));
    }
    return new ModuleState(
        List.of(GlobalValue.i32(5)), new long[] {8}, List.of(new ModuleState.Segment(0, 64, data)));
  }

  @Test
  void aRegularBitmapIsCompressedAndRoundTrips() {
    ModuleState s = fragmented(new Random(3));
    byte[] bytes = StateFormat.encode(StateFormat.FULL, HASH, 1, false, 0, "t", s);
    long nonZero = StateFormat.nonZeroBytes(s.segments().get(0).data());
    // The bitmap alone would be 32 KiB; compressed, the state stays within 1 KiB of its data.
    assertTrue(bytes.length <= nonZero + 1024, bytes.length + " bytes for " + nonZero);
    StateFormat.Decoded d = StateFormat.decode(bytes, "t", 8);
    assertArrayEquals(s.segments().get(0).data(), d.state().segments().get(0).data());
    assertArrayEquals(
        bytes, StateFormat.encode(StateFormat.FULL, HASH, 1, false, 0, "t", d.state()));
  }

  @Test
  void anIrregularBitmapIsKeptAsItIsAndRoundTrips() {
    Random rnd = new Random(11);
    byte[] data = new byte[64 << 10];
    for (int k = 0; k < data.length; k++) {
      data[k] = rnd.nextInt(3) == 0 ? 0 : (byte) (1 + rnd.nextInt(255));
    }
    ModuleState s =
        new ModuleState(List.of(), new long[] {2}, List.of(new ModuleState.Segment(0, 0, data)));
    byte[] bytes = StateFormat.encode(StateFormat.FULL, HASH, 1, false, 0, "t", s);
    assertEquals(StateFormat.BITMAP, bytes[62 + 1 + 4 + 4 + 4 + 4 + 12]);
    assertArrayEquals(data, StateFormat.decode(bytes, "t").state().segments().get(0).data());
  }

  @Test
  void aCompressedBitmapIsBoundedByTheMemoryLimitAndMustInflateExactly() {
    ModuleState s = fragmented(new Random(5));
    byte[] bytes = StateFormat.encode(StateFormat.FULL, HASH, 1, false, 0, "t", s);
    int segment = 62 + 1 + 4 + 4 + 4 + 9 + 4; // name, memories, pages, globals, one i32, count
    assertEquals(StateFormat.PACKED_BITMAP, bytes[segment + 12]);

    // Within the limit the state decodes; a limit below its memory refuses it before allocating.
    StateFormat.decode(bytes, "t", 8);
    InvalidState e = assertThrows(InvalidState.class, () -> StateFormat.decode(bytes, "t", 7));
    assertEquals(InvalidState.Reason.DOES_NOT_FIT, e.reason());

    // 1 GiB declared, in a state of a few KiB: more than its memory holds, never allocated.
    byte[] huge = resealed(bytes, b -> b.putInt(segment + 8, 1 << 30));
    e = assertThrows(InvalidState.class, () -> StateFormat.decode(huge, "t", 8));
    assertEquals(InvalidState.Reason.DOES_NOT_FIT, e.reason());

    // A length the bitmap does not inflate to exactly, and a damaged stream: malformed.
    byte[] shorter = resealed(bytes, b -> b.putInt(segment + 8, (256 << 10) - 64));
    e = assertThrows(InvalidState.class, () -> StateFormat.decode(shorter, "t", 8));
    assertTrue(e.getMessage().contains("compressed bitmap"), e.getMessage());
    byte[] damaged = resealed(bytes, b -> b.put(segment + 17 + 3, (byte) 0xff));
    e = assertThrows(InvalidState.class, () -> StateFormat.decode(damaged, "t", 8));
    assertEquals(InvalidState.Reason.FORMAT, e.reason());
  }

  /** {@code bytes} changed by {@code edit}, with the checksum made right again. */
  private static byte[] resealed(byte[] bytes, java.util.function.Consumer<ByteBuffer> edit) {
    byte[] copy = bytes.clone();
    ByteBuffer b = ByteBuffer.wrap(copy).order(ByteOrder.LITTLE_ENDIAN);
    edit.accept(b);
    CRC32C crc = new CRC32C();
    crc.update(copy, 0, copy.length - 4);
    b.putInt(copy.length - 4, (int) crc.getValue());
    return copy;
  }

  @Test
  void memoriesAreCheckedAgainstTheGuestBeforeAnySegmentIsAllocated() {
    // Two memories of 16 pages each, full of one compressed bitmap each, for a guest with one.
    List<ModuleState.Segment> segs = new ArrayList<>();
    byte[] zeros = new byte[16 * 65536 - 64];
    zeros[0] = 1;
    zeros[zeros.length - 1] = 1;
    segs.add(new ModuleState.Segment(0, 0, zeros));
    segs.add(new ModuleState.Segment(1, 0, zeros));
    byte[] bytes =
        StateFormat.encode(
            StateFormat.FULL,
            HASH,
            1,
            false,
            0,
            "t",
            new ModuleState(List.of(), new long[] {16, 16}, segs));
    assertTrue(bytes.length < 4096, bytes.length + " bytes");
    var threads =
        (com.sun.management.ThreadMXBean) java.lang.management.ManagementFactory.getThreadMXBean();
    long before = threads.getCurrentThreadAllocatedBytes();
    InvalidState e =
        assertThrows(
            InvalidState.class, () -> StateFormat.decode(bytes, "t", h -> new long[] {16}));
    long allocated = threads.getCurrentThreadAllocatedBytes() - before;
    assertEquals(InvalidState.Reason.DOES_NOT_FIT, e.reason());
    assertTrue(e.getMessage().contains("2 memories, the module has 1"), e.getMessage());
    assertTrue(allocated < 1 << 20, allocated + " bytes allocated");
    // Within the guest's limits it decodes; past them, not.
    assertEquals(
        2, StateFormat.decode(bytes, "t", h -> new long[] {16, 16}).state().segments().size());
    e =
        assertThrows(
            InvalidState.class, () -> StateFormat.decode(bytes, "t", h -> new long[] {16, 15}));
    assertTrue(
        e.getMessage().contains("memory 1 has 16 pages, more than the limit of 15"),
        e.getMessage());
  }

  @Test
  void aDeltaNeverHoldsACompressedBitmap() {
    ModuleState s = fragmented(new Random(9));
    byte[] delta = StateFormat.encode(StateFormat.DELTA, HASH, 2, false, 0, "t", 77, s);
    int segment = 62 + 1 + 4 + 4 + 4 + 4 + 9 + 4; // name, base, memories, pages, globals, count
    assertEquals(StateFormat.BITMAP, delta[segment + 12]);
    StateFormat.Decoded d = StateFormat.decode(delta, "t");
    assertEquals(77, d.base());
    assertArrayEquals(s.segments().get(0).data(), d.state().segments().get(0).data());

    // A delta that carries one anyway (a full state's bytes relabelled): refused unread.
    byte[] full = StateFormat.encode(StateFormat.FULL, HASH, 2, false, 0, "t", s);
    int fullSegment = segment - 4;
    assertEquals(StateFormat.PACKED_BITMAP, full[fullSegment + 12]);
    ByteBuffer in = ByteBuffer.wrap(full).order(ByteOrder.LITTLE_ENDIAN);
    ByteBuffer out = ByteBuffer.allocate(full.length + 4).order(ByteOrder.LITTLE_ENDIAN);
    out.put(full, 0, 62 + 1).putInt(0).put(full, 63, full.length - 63); // a base after the name
    out.put(6, (byte) StateFormat.DELTA).putInt(8, full.length + 4);
    byte[] forged = resealed(out.array(), b -> {});
    InvalidState e = assertThrows(InvalidState.class, () -> StateFormat.decode(forged, "t"));
    assertEquals(InvalidState.Reason.FORMAT, e.reason());
    assertTrue(e.getMessage().contains("form 2"), e.getMessage());
    assertEquals(0, in.position());
  }
}
