package dev.wizer4j.cli;

import static dev.wizer4j.cli.Cli.assertFails;
import static dev.wizer4j.cli.Cli.assertNoTemporaries;
import static dev.wizer4j.cli.Cli.run;
import static dev.wizer4j.cli.Cli.wat;
import static dev.wizer4j.cli.Cli.write;
import static org.junit.jupiter.api.Assertions.assertFalse;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Runtime limits and traps during init reach the user as one error line and no output. */
class CliTrapTest {
  @TempDir Path dir;

  @Test
  void addressWrappingPast2To32TrapsInOneLine() {
    Path in =
        write(
            dir,
            "in.wasm",
            wat(
                """
                (module (memory 1)
                  (func (export "wizer-initialize")
                    (i32.store offset=0xffffffff (i32.const 1) (i32.const 42))))
                """));
    for (String engine : new String[] {"interpreter", "compiler"}) {
      Path out = dir.resolve("out.wasm");
      assertFails(
          run("--engine", engine, in.toString(), "-o", out.toString()),
          1,
          "`wizer-initialize` function trapped");
      assertFalse(Files.exists(out));
      assertNoTemporaries(dir);
    }
  }

  @Test
  void growPastThePageLimitIsOneLineNamingIt() {
    Path in =
        write(
            dir,
            "in.wasm",
            wat(
                """
                (module (memory 1)
                  (func (export "wizer-initialize")
                    (drop (memory.grow (i32.const 40000)))))
                """));
    Path out = dir.resolve("out.wasm");
    assertFails(
        run(in.toString(), "-o", out.toString()),
        1,
        "memory 0 grows to 40001 pages",
        "32767 pages (2 GiB) the Endive runtime can hold");
    assertFalse(Files.exists(out));
  }
}
