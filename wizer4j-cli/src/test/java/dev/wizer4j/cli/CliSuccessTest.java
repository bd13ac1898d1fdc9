package dev.wizer4j.cli;

import static dev.wizer4j.cli.Cli.assertNoTemporaries;
import static dev.wizer4j.cli.Cli.assertSucceeds;
import static dev.wizer4j.cli.Cli.assertValid;
import static dev.wizer4j.cli.Cli.read;
import static dev.wizer4j.cli.Cli.run;
import static dev.wizer4j.cli.Cli.runWithStdin;
import static dev.wizer4j.cli.Cli.wat;
import static dev.wizer4j.cli.Cli.write;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.wizer4j.cli.Cli.Result;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.TreeMap;
import java.util.stream.Collectors;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import run.endive.runtime.HostFunction;
import run.endive.runtime.ImportFunction;
import run.endive.runtime.ImportValues;
import run.endive.runtime.Instance;
import run.endive.wasm.Parser;
import run.endive.wasm.WasmModule;
import run.endive.wasm.types.Export;
import run.endive.wasm.types.ExternalType;
import run.endive.wasm.types.FunctionImport;
import run.endive.wasm.types.Import;

/** The command line's success paths, run in process as a user would call it. */
class CliSuccessTest {
  /**
   * Counts calls in a global and stores a marker in memory; {@code get} and {@code peek} read the
   * state back, {@code again} is a second init-shaped export for incremental runs.
   */
  static final String COUNTER =
      """
      (module
        (memory (export "memory") 1)
        (global $g (mut i32) (i32.const 0))
        (data (i32.const 16) "seed")
        (func $init (export "wizer-initialize")
          (global.set $g (i32.add (global.get $g) (i32.const 1)))
          (i32.store (i32.const 0) (i32.add (i32.load (i32.const 0)) (i32.const 41))))
        (func (export "again")
          (global.set $g (i32.add (global.get $g) (i32.const 100))))
        (func (export "get") (result i32) (global.get $g))
        (func (export "peek") (result i32) (i32.load (i32.const 0)))
        (func (export "other") (result i32) (i32.const 7)))
      """;

  static byte[] counter;

  @TempDir Path dir;

  @BeforeAll
  static void compile() {
    counter = wat(COUNTER);
  }

  /** The exports of {@code wasm}, name to kind, sorted. */
  static TreeMap<String, ExternalType> exports(byte[] wasm) {
    WasmModule m = Parser.parse(wasm);
    TreeMap<String, ExternalType> names = new TreeMap<>();
    for (int i = 0; i < m.exportSection().exportCount(); i++) {
      Export e = m.exportSection().getExport(i);
      names.put(e.name(), e.exportType());
    }
    return names;
  }

  /** Instantiates {@code wasm} (its function imports trap) and calls {@code export}. */
  static long call(byte[] wasm, String export) {
    WasmModule m = Parser.parse(wasm);
    List<ImportFunction> stubs = new ArrayList<>();
    for (int i = 0; i < m.importSection().importCount(); i++) {
      Import imp = m.importSection().getImport(i);
      if (imp instanceof FunctionImport f) {
        stubs.add(
            new HostFunction(
                imp.module(),
                imp.name(),
                m.typeSection().getType(f.typeIndex()),
                (inst, args) -> {
                  throw new AssertionError("the output called " + imp.name());
                }));
      }
    }
    Instance instance =
        Instance.builder(m)
            .withImportValues(ImportValues.builder().withFunctions(stubs).build())
            .build();
    return instance.export(export).apply()[0];
  }

  @Test
  void inputFileToOutputFile() {
    Path in = write(dir, "in.wasm", counter);
    Path out = dir.resolve("out.wasm");
    assertSucceeds(run(in.toString(), "-o", out.toString()));
    byte[] bytes = read(out);
    assertValid(bytes);
    assertFalse(java.util.Arrays.equals(counter, bytes), "the output must differ from the input");
    assertEquals(1, call(bytes, "get"), "the init function ran once");
    assertEquals(41, call(bytes, "peek"));
    assertFalse(exports(bytes).containsKey("wizer-initialize"), "init export removed");
    assertArrayEquals(counter, read(in), "the input is not modified");
    assertNoTemporaries(dir);
  }

  @Test
  void replacesAnExistingOutputAndKeepsItsMode() throws Exception {
    Path in = write(dir, "in.wasm", counter);
    Path out = write(dir, "out.wasm", new byte[] {1, 2, 3});
    if (out.getFileSystem().supportedFileAttributeViews().contains("posix")) {
      Files.setPosixFilePermissions(
          out, java.nio.file.attribute.PosixFilePermissions.fromString("rw-rw----"));
    }
    assertSucceeds(run(in.toString(), "-o", out.toString()));
    assertValid(read(out));
    if (out.getFileSystem().supportedFileAttributeViews().contains("posix")) {
      assertEquals(
          "rw-rw----",
          java.nio.file.attribute.PosixFilePermissions.toString(
              Files.getPosixFilePermissions(out)));
    }
    assertNoTemporaries(dir);
  }

  @Test
  void outputMayReplaceTheInput() {
    Path in = write(dir, "in.wasm", counter);
    byte[] expected = assertSucceeds(run(in.toString())).stdout();
    assertSucceeds(run(in.toString(), "-o", in.toString()));
    assertArrayEquals(expected, read(in));
    assertNoTemporaries(dir);
  }

  @Test
  void stdinToStdoutWithDash() {
    Result r = assertSucceeds(runWithStdin(counter, "-"));
    assertValid(r.stdout());
    assertEquals(1, call(r.stdout(), "get"));
    assertEquals("", r.stderr(), "nothing but the module is printed");
  }

  @Test
  void stdinToStdoutWithInputOmitted() {
    Result r = assertSucceeds(runWithStdin(counter));
    assertValid(r.stdout());
    assertEquals(41, call(r.stdout(), "peek"));
    assertArrayEquals(r.stdout(), assertSucceeds(runWithStdin(counter, "-", "-o", "-")).stdout());
  }

  @Test
  void fileToStdoutAndStdinToFile() {
    Path in = write(dir, "in.wasm", counter);
    byte[] viaStdout = assertSucceeds(run(in.toString())).stdout();
    Path out = dir.resolve("o.wasm");
    assertSucceeds(runWithStdin(counter, "-o", out.toString()));
    assertArrayEquals(viaStdout, read(out), "where input and output go must not change the bytes");
  }

  @Test
  void initFuncOption() {
    Path in = write(dir, "in.wasm", counter);
    for (String[] opt : List.of(new String[] {"-f", "again"}, new String[] {"--init-func=again"})) {
      List<String> args = new ArrayList<>(List.of(opt));
      args.add(in.toString());
      Result r = assertSucceeds(run(args.toArray(String[]::new)));
      assertValid(r.stdout());
      assertEquals(100, call(r.stdout(), "get"), "only `again` ran");
      assertEquals(0, call(r.stdout(), "peek"));
      TreeMap<String, ExternalType> ex = exports(r.stdout());
      assertFalse(ex.containsKey("again"), "the init export named by -f is removed");
      assertTrue(ex.containsKey("wizer-initialize"), "the default one is an ordinary export now");
    }
  }

  @Test
  void renameFuncRepeated() {
    Path in = write(dir, "in.wasm", counter);
    Result r =
        assertSucceeds(
            run(in.toString(), "-r", "value=get", "--rename-func", "peek=other", "-r", "x=again"));
    byte[] out = r.stdout();
    assertValid(out);
    TreeMap<String, ExternalType> ex = exports(out);
    assertEquals(List.of("memory", "peek", "value", "x"), new ArrayList<>(ex.keySet()));
    assertEquals(1, call(out, "value"), "value is the old get");
    assertEquals(7, call(out, "peek"), "peek is replaced by other");
  }

  @Test
  void renameOfAMissingExportIsIgnoredLikeWizer() {
    Path in = write(dir, "in.wasm", counter);
    byte[] plain = assertSucceeds(run(in.toString())).stdout();
    assertArrayEquals(plain, assertSucceeds(run("-r", "x=missing", in.toString())).stdout());
  }

  @Test
  void keepInitFunc() {
    Path in = write(dir, "in.wasm", counter);
    for (String flag : List.of("--keep-init-func", "--keep-init-func=true")) {
      byte[] out = assertSucceeds(run(flag, in.toString())).stdout();
      assertValid(out);
      assertTrue(exports(out).containsKey("wizer-initialize"), flag);
      assertEquals(1, call(out, "get"), flag);
    }
    byte[] out = assertSucceeds(run("--keep-init-func=false", in.toString())).stdout();
    assertFalse(exports(out).containsKey("wizer-initialize"));
    assertArrayEquals(out, assertSucceeds(run(in.toString())).stdout(), "false is the default");
  }

  @Test
  void wasmFeatureFlagsAreAccepted() {
    Path in = write(dir, "in.wasm", counter);
    byte[] plain = assertSucceeds(run(in.toString())).stdout();
    List<String> flags =
        List.of(
            "--wasm-simd=false",
            "--wasm-simd",
            "--wasm-simd=true",
            "--wasm-multi-memory",
            "--wasm-multi-memory=false",
            "--wasm-multi-value=false",
            "--wasm-bulk-memory=true",
            "--wasm-relaxed-simd",
            "--wasm-relaxed-simd=false",
            "--wasm-reference-types=false",
            "--relaxed-simd-deterministic",
            "--relaxed-simd-deterministic=true");
    for (String flag : flags) {
      Result r = assertSucceeds(run(flag, in.toString()));
      assertArrayEquals(plain, r.stdout(), flag + " must not change the result");
    }
    // Each once, all together (Wizer, like picocli, rejects a repeated flag).
    String[] all = {
      "--wasm-simd=false",
      "--wasm-multi-memory=true",
      "--wasm-multi-value",
      "--wasm-bulk-memory=false",
      "--wasm-relaxed-simd=true",
      "--wasm-reference-types",
      "--relaxed-simd-deterministic=false",
      in.toString()
    };
    assertArrayEquals(plain, assertSucceeds(run(all)).stdout());
  }

  @Test
  void booleanFlagDoesNotSwallowTheInput() {
    // `--wasm-simd in.wasm`: the optional value of a boolean flag is only true or false.
    Path in = write(dir, "in.wasm", counter);
    Result r = assertSucceeds(run("--wasm-simd", in.toString(), "--keep-init-func"));
    assertTrue(exports(r.stdout()).containsKey("wizer-initialize"));
  }

  @Test
  void wasiOptions() {
    // Init writes "hi\n" to fd 1 through WASI. With --inherit-stdio=false it goes nowhere.
    byte[] wasm =
        wat(
            """
            (module
              (import "wasi_snapshot_preview1" "fd_write"
                (func $fd_write (param i32 i32 i32 i32) (result i32)))
              (memory 1)
              (data (i32.const 8) "hi\\n")
              (global $r (mut i32) (i32.const -1))
              (func (export "wizer-initialize")
                (i32.store (i32.const 0) (i32.const 8))
                (i32.store (i32.const 4) (i32.const 3))
                (global.set $r (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1)
                                               (i32.const 16))))
              (func (export "result") (result i32) (global.get $r))
              (func (export "written") (result i32) (i32.load (i32.const 16))))
            """);
    Path in = write(dir, "wasi.wasm", wasm);
    Path mapped = dir.resolve("mapped");
    try {
      Files.createDirectory(mapped);
    } catch (java.io.IOException e) {
      throw new java.io.UncheckedIOException(e);
    }
    Result r =
        assertSucceeds(
            run(
                "--allow-wasi",
                "--inherit-stdio=false",
                "--inherit-env=false",
                "--dir",
                dir.toString(),
                "--mapdir",
                "/guest::" + mapped,
                in.toString()));
    assertEquals("", r.stderr());
    assertValid(r.stdout());
    assertEquals(0, call(r.stdout(), "result"), "fd_write succeeded");
    assertEquals(3, call(r.stdout(), "written"), "three bytes written");
  }

  @Test
  void preloadProvidesImports() {
    byte[] lib = wat("(module (func (export \"seven\") (result i32) (i32.const 7)))");
    byte[] main =
        wat(
            """
            (module
              (import "lib" "seven" (func $seven (result i32)))
              (global $g (mut i32) (i32.const 0))
              (func (export "wizer-initialize") (global.set $g (call $seven)))
              (func (export "get") (result i32) (global.get $g)))
            """);
    Path libFile = write(dir, "lib.wasm", lib);
    Path in = write(dir, "main.wasm", main);
    Path out = dir.resolve("out.wasm");
    assertSucceeds(run("--preload", "lib=" + libFile, in.toString(), "-o", out.toString()));
    byte[] bytes = read(out);
    assertValid(bytes);
    WasmModule m = Parser.parse(bytes);
    assertEquals(1, m.importSection().importCount(), "the import stays for the real host");
    assertNoTemporaries(dir);
  }

  @Test
  void watInputIsConverted() {
    Path in = dir.resolve("in.wat");
    try {
      Files.writeString(in, COUNTER);
    } catch (java.io.IOException e) {
      throw new java.io.UncheckedIOException(e);
    }
    Result r = assertSucceeds(run(in.toString()));
    assertArrayEquals(assertSucceeds(runWithStdin(counter)).stdout(), r.stdout());
  }

  @Test
  void keepInstrumentationThenInstrumentedRoundTrip() {
    Path in = write(dir, "in.wasm", counter);
    Path first = dir.resolve("first.wasm");
    assertSucceeds(
        run("--keep-instrumentation", "--keep-init-func", in.toString(), "-o", first.toString()));
    byte[] inst = read(first);
    assertValid(inst);
    TreeMap<String, ExternalType> ex = exports(inst);
    assertEquals(ExternalType.GLOBAL, ex.get("__wizer_global_0"));
    assertEquals(ExternalType.MEMORY, ex.get("__wizer_memory_0"));
    assertEquals(1, call(inst, "get"));

    // Snapshot the snapshot: init runs again on the saved state, and the result is smaller or
    // equal (the earlier snapshot's segments are replaced, not kept).
    Path second = dir.resolve("second.wasm");
    assertSucceeds(
        run(
            "--instrumented",
            "--keep-instrumentation",
            "--keep-init-func",
            first.toString(),
            "-o",
            second.toString()));
    byte[] again = read(second);
    assertValid(again);
    assertEquals(2, call(again, "get"), "the init function advanced the saved state");
    assertEquals(82, call(again, "peek"));
    assertTrue(exports(again).containsKey("__wizer_memory_0"));
    assertTrue(again.length <= inst.length, "re-snapshots do not grow the module");

    // The last step drops the instrumentation; -f picks a different advance function.
    Result last = assertSucceeds(run("--instrumented", "-f", "again", second.toString()));
    byte[] fin = last.stdout();
    assertValid(fin);
    assertEquals(102, call(fin, "get"));
    assertTrue(
        exports(fin).keySet().stream().noneMatch(n -> n.startsWith("__wizer_")),
        () -> "instrumentation removed: " + exports(fin).keySet());
    assertNoTemporaries(dir);
  }

  @Test
  void verbosePrintsStageTimings() {
    Path in = write(dir, "in.wasm", counter);
    Path out = dir.resolve("out.wasm");
    Result r = assertSucceeds(run("-v", in.toString(), "-o", out.toString()));
    List<String> lines = r.stderr().lines().collect(Collectors.toList());
    for (String stage :
        List.of(
            "read",
            "parse and validate",
            "instantiate",
            "call wizer-initialize",
            "snapshot",
            "rewrite",
            "wrote")) {
      assertTrue(
          lines.stream().anyMatch(l -> l.startsWith("wizer4j: " + stage)),
          () -> "no line for stage «" + stage + "» in:\n" + r.stderr());
    }
    long timed = lines.stream().filter(l -> l.matches("wizer4j: .*\\d+\\.\\d ms")).count();
    assertTrue(timed >= 5, () -> "expected timings in ms:\n" + r.stderr());
    assertValid(read(out));

    Result quiet = assertSucceeds(run(in.toString(), "-o", out.toString()));
    assertEquals("", quiet.stderr(), "without -v nothing is printed");
  }

  @Test
  void helpAndVersion() {
    for (String flag : List.of("--help", "-h")) {
      Result r = run(flag);
      assertEquals(0, r.exit(), r::describe);
      String text = new String(r.stdout(), java.nio.charset.StandardCharsets.UTF_8);
      for (String option :
          List.of(
              "-o",
              "--init-func",
              "--rename-func",
              "--keep-init-func",
              "--allow-wasi",
              "--inherit-stdio",
              "--inherit-env",
              "--dir",
              "--mapdir",
              "--preload",
              "--keep-instrumentation",
              "--instrumented")) {
        assertTrue(text.contains(option), () -> "help does not mention " + option + ":\n" + text);
      }
    }
    for (String flag : List.of("--version", "-V")) {
      Result r = run(flag);
      assertEquals(0, r.exit(), r::describe);
      String text = new String(r.stdout(), java.nio.charset.StandardCharsets.UTF_8);
      assertTrue(text.startsWith("wizer4j "), text);
    }
  }

  @Test
  void engines() {
    Path in = write(dir, "in.wasm", counter);
    byte[] auto = assertSucceeds(run(in.toString())).stdout();
    for (String engine : List.of("interpreter", "compiler", "AUTO")) {
      byte[] out = assertSucceeds(run("--engine", engine, in.toString())).stdout();
      assertArrayEquals(auto, out, "engine " + engine + " gives the same bytes");
    }
  }

  @Test
  void deterministicInProcess() {
    byte[] hello = read(examplesDir().resolve("hello.wasm"));
    Path in = write(dir, "hello.wasm", hello);
    Path a = dir.resolve("a.wasm");
    Path b = dir.resolve("b.wasm");
    assertSucceeds(run(in.toString(), "-o", a.toString()));
    assertSucceeds(run(in.toString(), "-o", b.toString()));
    assertArrayEquals(read(a), read(b));
    assertValid(read(a));
  }

  static Path examplesDir() {
    Path p = Path.of("").toAbsolutePath();
    while (p != null && !Files.isDirectory(p.resolve("examples"))) {
      p = p.getParent();
    }
    assertNotNull(p, "cannot find the examples directory above " + Path.of("").toAbsolutePath());
    return p.resolve("examples");
  }
}
