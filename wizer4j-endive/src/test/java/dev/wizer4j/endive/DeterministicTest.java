package dev.wizer4j.endive;

import static dev.wizer4j.endive.Harness.assertValid;
import static dev.wizer4j.endive.Harness.instantiate;
import static dev.wizer4j.endive.Harness.wat;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.wizer4j.Wizer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;
import run.endive.runtime.Instance;

/** {@code deterministic(true)}: init that reads the clocks and random_get gives the same bytes. */
class DeterministicTest {
  /** Where the guest stores what it read: realtime, monotonic, monotonic again, 32 random bytes. */
  static final int REALTIME = 0;

  static final int MONOTONIC = 8;
  static final int MONOTONIC_AGAIN = 16;
  static final int RANDOM = 32;
  static final int RANDOM_LENGTH = 32;

  /** Reads both clocks and 32 random bytes into memory, and derives other state from none of it. */
  static final byte[] CLOCK_AND_RANDOM =
      wat(
          """
          (module
            (import "wasi_snapshot_preview1" "clock_time_get"
              (func $clock (param i32 i64 i32) (result i32)))
            (import "wasi_snapshot_preview1" "random_get"
              (func $random (param i32 i32) (result i32)))
            (memory 1)
            (global $errors (mut i32) (i32.const 0))
            (global $done (mut i32) (i32.const 0))
            (data (i32.const 1000) "state that does not depend on time")
            (func $check (param i32)
              (global.set $errors (i32.add (global.get $errors) (local.get 0))))
            (func (export "wizer-initialize")
              (call $check (call $clock (i32.const 0) (i64.const 1) (i32.const 0)))
              (call $check (call $clock (i32.const 1) (i64.const 1) (i32.const 8)))
              (call $check (call $clock (i32.const 1) (i64.const 1) (i32.const 16)))
              (call $check (call $random (i32.const 32) (i32.const 32)))
              (i32.store (i32.const 2000) (i32.const 0x01020304))
              (global.set $done (i32.const 1))))
          """);

  private static byte[] run(boolean deterministic) {
    return Wizer.builder()
        .runtime(
            EndiveRuntime.builder()
                .allowWasi(true)
                .inheritStdio(false)
                .deterministic(deterministic)
                .build())
        .build()
        .run(CLOCK_AND_RANDOM);
  }

  @Test
  void twoRunsGiveIdenticalBytes() {
    byte[] a = run(true);
    byte[] b = run(true);
    assertValid(a);
    assertArrayEquals(a, b);

    Instance i = instantiate(a);
    assertEquals(0, i.global(0).getValueLow(), "every WASI call succeeded");
    assertEquals(1, i.global(1).getValueLow());
    // The clock starts at 2000-01-01T00:00:00Z and moves one tick per reading.
    long start = DeterministicWasi.START.getEpochSecond() * 1_000_000_000L;
    assertEquals(start, i.memory().readLong(REALTIME));
    assertEquals(DeterministicWasi.TICK_NANOS, i.memory().readLong(MONOTONIC));
    assertEquals(2 * DeterministicWasi.TICK_NANOS, i.memory().readLong(MONOTONIC_AGAIN));
    byte[] random = i.memory().readBytes(RANDOM, RANDOM_LENGTH);
    assertFalse(Arrays.equals(new byte[RANDOM_LENGTH], random), "random bytes are not zeros");
  }

  @Test
  void differsFromARealRunOnlyWhereTheGuestStoredTimeAndRandomness() {
    Instance det = instantiate(run(true));
    Instance real = instantiate(run(false));
    assertEquals(det.globalCount(), real.globalCount());
    for (int g = 0; g < det.globalCount(); g++) {
      assertEquals(det.global(g).getValueLow(), real.global(g).getValueLow(), "global " + g);
    }
    assertEquals(det.memory().pages(), real.memory().pages());
    byte[] a = det.memory().readBytes(0, det.memory().pages() * 65536);
    byte[] b = real.memory().readBytes(0, real.memory().pages() * 65536);
    List<Integer> differing = new ArrayList<>();
    for (int k = 0; k < a.length; k++) {
      if (a[k] != b[k]) {
        differing.add(k);
      }
    }
    assertFalse(differing.isEmpty(), "a real clock is not at 2000-01-01");
    for (int k : differing) {
      assertTrue(k < RANDOM + RANDOM_LENGTH, "byte " + k + " holds no clock or random value");
    }
    assertTrue(
        differing.stream().anyMatch(k -> k < MONOTONIC),
        "the realtime clock differs: " + differing);
    assertTrue(
        differing.stream().anyMatch(k -> k >= RANDOM), "the random bytes differ: " + differing);
  }

  @Test
  void withoutTheOptionTwoRunsDiffer() {
    // What the option is for: the real clock moves between runs.
    assertFalse(Arrays.equals(run(false), run(false)));
  }
}
