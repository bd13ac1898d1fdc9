package dev.wizer4j.endive;

import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.wizer4j.Wizer;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * What WASI answers where the spec leaves the choice to the host, checked against wasmtime's
 * answers: each expected line below is what {@code fixtures/c/wasi/probe.c} printed under Rust
 * Wizer 11.0.3 ({@code --allow-wasi --mapdir /data::DIR --mapdir /d2::DIR2}, stdio not a terminal).
 * Lines that depend on the machine (directory sizes, link counts) are not compared.
 */
class WasiAnswersTest {
  @TempDir Path tmp;

  private List<String> probe() throws IOException {
    Path data = Files.createDirectories(tmp.resolve("data"));
    Files.writeString(data.resolve("input.txt"), "x".repeat(3716));
    Path d2 = Files.createDirectories(tmp.resolve("d2"));
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    EndiveRuntime rt =
        EndiveRuntime.builder()
            .allowWasi(true)
            .mapDir("/data", data)
            .mapDir("/d2", d2)
            .stdout(out)
            .build();
    // The guest reads stdin once: give it an empty one rather than the test JVM's.
    InputStream stdin = System.in;
    System.setIn(new ByteArrayInputStream(new byte[0]));
    try {
      Wizer.builder().runtime(rt).build().run(RealModulesTest.fixture("wasi/probe"));
    } finally {
      System.setIn(stdin);
    }
    return out.toString(StandardCharsets.UTF_8).lines().toList();
  }

  private static void assertLines(List<String> got, String... expected) {
    for (String e : expected) {
      assertTrue(got.contains(e), () -> "missing «" + e + "» in:\n" + String.join("\n", got));
    }
  }

  @Test
  void descriptorsHaveWasmtimesTypesAndRights() throws IOException {
    assertLines(
        probe(),
        "fd_fdstat_get fd 0: filetype=0 flags=0 rights_base=0x2 rights_inheriting=0x2",
        "fd_filestat_get fd 0: filetype=0 nlink=0 size=0 times_nonzero=000",
        "fd_fdstat_get fd 1: filetype=0 flags=0 rights_base=0x40 rights_inheriting=0x40",
        "fd_filestat_get fd 1: filetype=0 nlink=0 size=0 times_nonzero=000",
        "fd_fdstat_get fd 2: filetype=0 flags=0 rights_base=0x40 rights_inheriting=0x40",
        "fd_filestat_get fd 2: filetype=0 nlink=0 size=0 times_nonzero=000",
        "fd_fdstat_get fd 3: filetype=3 flags=0 rights_base=0x7b7fe00 rights_inheriting=0xff7ffff",
        "fd_prestat_get fd 3: tag=0 len=5 name=/data (errno 0)",
        "fd_fdstat_get fd 4: filetype=3 flags=0 rights_base=0x7b7fe00 rights_inheriting=0xff7ffff",
        "fd_prestat_get fd 4: tag=0 len=3 name=/d2 (errno 0)",
        "fd_fdstat_get fd 5: errno 8",
        "fd_prestat_get fd 5: errno 8",
        "path_open read-only: fd=5",
        "fd_fdstat_get read-only: filetype=4 flags=0 rights_base=0x3fffffbf"
            + " rights_inheriting=0x3fffffbf",
        "fd_filestat_get read-only: filetype=4 nlink=1 size=3716 times_nonzero=111",
        "fd_seek read-only end: errno 0 pos=3716",
        "fd_fdstat_set_rights read-only: errno 58",
        "fd_fdstat_set_flags read-only: errno 0",
        "fd_fdstat_get read-only: filetype=4 flags=0x4 rights_base=0x3fffffbf"
            + " rights_inheriting=0x3fffffbf",
        "fd_fdstat_get all-rights: filetype=4 flags=0 rights_base=0x3fffffff"
            + " rights_inheriting=0x3fffffff",
        "fd_fdstat_get no-rights: filetype=4 flags=0 rights_base=0x3fffffbf"
            + " rights_inheriting=0x3fffffbf",
        "path_open . as directory: errno 0",
        "fd_fdstat_get opened directory: filetype=3 flags=0 rights_base=0x3fb7ffbb"
            + " rights_inheriting=0x3fb7ffbb",
        "path_filestat_get input.txt: filetype=4 nlink=1 size=3716 times_nonzero=111",
        "fd_readdir: errno 0",
        "  entry . type=3 next=1 ino_nonzero=1",
        "  entry .. type=3 next=2 ino_nonzero=1",
        "  entry input.txt type=4 next=3 ino_nonzero=1");
  }

  @Test
  void preopenDirectoryCanBeStatted() throws IOException {
    // Endive 1.0.0 traps ("Unhandled descriptor") on fd_filestat_get of a preopen.
    List<String> got = probe();
    assertTrue(
        got.stream().anyMatch(l -> l.startsWith("fd_filestat_get fd 3: filetype=3 nlink=")),
        () -> String.join("\n", got));
  }

  @Test
  void clocksAndTheRestAnswerAsWasmtime() throws IOException {
    assertLines(
        probe(),
        "args_sizes_get: errno 0 argc=0 size=0",
        "environ_sizes_get: errno 0 count=0 size=0",
        "clock_res_get realtime: errno 0 res=1",
        "clock_time_get realtime: errno 0 nonzero=1",
        "clock_res_get monotonic: errno 0 res=1",
        "clock_res_get process_cputime: errno 8 res=0",
        "clock_time_get process_cputime: errno 8 nonzero=0",
        "clock_res_get thread_cputime: errno 8 res=0",
        "clock_time_get thread_cputime: errno 8 nonzero=0",
        "fd_read stdin: errno 0 n=0",
        "fd_seek stdout: errno 70",
        "fd_tell stdin: errno 70",
        "sched_yield: errno 0",
        "random_get: errno 0");
  }
}
