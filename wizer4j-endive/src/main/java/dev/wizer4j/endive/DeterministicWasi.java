package dev.wizer4j.endive;

import java.time.Clock;
import java.time.Instant;
import java.time.ZoneId;
import java.time.ZoneOffset;
import java.util.Random;
import run.endive.runtime.HostFunction;
import run.endive.wasm.types.FunctionType;
import run.endive.wasm.types.ValType;

/**
 * What makes WASI deterministic for one initialization ({@code deterministic(true)}): a clock that
 * starts at {@link #START} and moves only when the guest reads it, and a seeded random stream.
 *
 * <p>Every {@code clock_time_get} of the realtime or the monotonic clock returns the current
 * reading and then advances both clocks by {@link #TICK_NANOS}, so time never goes backwards, two
 * readings are never equal, and a loop that waits for time to pass still ends. The monotonic clock
 * counts from zero at {@link #START}. Endive reads its monotonic clock from {@code
 * System.nanoTime()}, which no option replaces, so this class supplies its own {@code
 * clock_time_get}. {@code random_get} draws from {@code java.util.Random} with {@link #SEED}, whose
 * sequence the Java specification fixes, so it is the same on every JVM.
 *
 * <p>Not covered: a guest that sleeps ({@code poll_oneoff}) really sleeps, and its clocks do not
 * jump by the time slept; file times of preopened directories and an inherited environment are
 * whatever the host has.
 */
final class DeterministicWasi {
  /** 2000-01-01T00:00:00Z: an instant no guest mistakes for "unset" (zero) or for a real now. */
  static final Instant START = Instant.parse("2000-01-01T00:00:00Z");

  /** One millisecond per reading: a busy wait for one second ends after a thousand readings. */
  static final long TICK_NANOS = 1_000_000L;

  /** Any fixed value serves; changing it changes every deterministic output. */
  static final long SEED = 0x5eed_2000_0101L;

  private static final int CLOCK_REALTIME = 0;
  private static final int CLOCK_MONOTONIC = 1;
  private static final int CLOCK_PROCESS_CPUTIME = 2;
  private static final int CLOCK_THREAD_CPUTIME = 3;

  // WASI preview1 errno values (Endive's own enum of them is not public).
  private static final int ERRNO_SUCCESS = 0;
  private static final int ERRNO_INVAL = 28;

  /** What wasmtime answers for the CPU-time clocks (SandboxedWasi does the same). */
  private static final int ERRNO_BADF = 8;

  private long elapsedNanos;
  private final Random random = new Random(SEED);

  /** The clock handed to Endive's WASI for anything else that asks it for "now". */
  final Clock clock =
      new Clock() {
        @Override
        public ZoneId getZone() {
          return ZoneOffset.UTC;
        }

        @Override
        public Clock withZone(ZoneId zone) {
          return this;
        }

        @Override
        public Instant instant() {
          return START.plusNanos(next());
        }
      };

  Random random() {
    return random;
  }

  /** The current reading, in nanoseconds since {@link #START}; then the clocks move on a tick. */
  synchronized long next() {
    long now = elapsedNanos;
    elapsedNanos += TICK_NANOS;
    return now;
  }

  /**
   * {@code clock_time_get(id, precision, result_ptr) -> errno} over this clock. The process and
   * thread CPU-time clocks answer EBADF, as wasmtime's.
   */
  HostFunction clockTimeGet(String module) {
    return new HostFunction(
        module,
        "clock_time_get",
        FunctionType.of(
            new ValType[] {ValType.I32, ValType.I64, ValType.I32}, new ValType[] {ValType.I32}),
        (instance, args) -> {
          int id = (int) args[0];
          int resultPtr = (int) args[2];
          int errno;
          if (id == CLOCK_REALTIME || id == CLOCK_MONOTONIC) {
            long t = next();
            long value =
                id == CLOCK_REALTIME
                    ? START.getEpochSecond() * 1_000_000_000L + START.getNano() + t
                    : t;
            instance.memory().writeLong(resultPtr, value);
            errno = ERRNO_SUCCESS;
          } else if (id == CLOCK_PROCESS_CPUTIME || id == CLOCK_THREAD_CPUTIME) {
            errno = ERRNO_BADF;
          } else {
            errno = ERRNO_INVAL;
          }
          return new long[] {errno};
        });
  }
}
