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
}
