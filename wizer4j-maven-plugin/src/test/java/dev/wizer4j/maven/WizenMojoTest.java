package dev.wizer4j.maven;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.wizer4j.testing.Wat;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.apache.maven.model.Resource;
import org.apache.maven.plugin.MojoFailureException;
import org.apache.maven.plugin.logging.SystemStreamLog;
import org.apache.maven.project.MavenProject;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import run.endive.runtime.HostFunction;
import run.endive.runtime.ImportFunction;
import run.endive.runtime.ImportValues;
import run.endive.runtime.Instance;
import run.endive.wasm.Parser;
import run.endive.wasm.WasmModule;
import run.endive.wasm.types.FunctionImport;

/**
 * The goal run in process, as Maven runs it (fields set, then {@code execute()}), on real files:
 * what it writes, when it skips, and how it fails.
 */
class WizenMojoTest {
  @TempDir Path dir;

  private final List<String> infos = new ArrayList<>();
  private Path in;

  /** Counts to 42 in a global and writes "hi" to memory during init. */
  static final String MODULE =
      """
      (module
        (memory 1)
        (global $g (mut i32) (i32.const 0))
        (func (export "wizer-initialize")
          (global.set $g (i32.const 42))
          (i32.store8 (i32.const 100) (i32.const 104))
          (i32.store8 (i32.const 101) (i32.const 105)))
        (func (export "other-init") (global.set $g (i32.const 7)))
        (func (export "g") (result i32) (global.get $g))
        (func (export "byte") (param i32) (result i32) (i32.load8_u (local.get 0))))
      """;

  @BeforeEach
  void input() throws IOException {
    in = dir.resolve("src/main/wasm/m.wasm");
    Files.createDirectories(in.getParent());
    Files.write(in, Wat.compile(MODULE));
  }

  private WizenMojo mojo() {
    WizenMojo m = new WizenMojo();
    m.basedir = dir.toFile();
    m.buildDirectory = dir.resolve("target").toFile();
    m.wasmFile = in.toFile();
    m.project = new MavenProject();
    m.setLog(
        new SystemStreamLog() {
          @Override
          public void info(CharSequence content) {
            infos.add(content.toString());
          }
        });
    return m;
  }

  private Path defaultOutput() {
    return dir.resolve("target/generated-resources/wizer4j/m.wasm");
  }

  /** Instantiates the output (no init runs) and calls {@code export}; imports trap. */
  private static long call(Path wasm, String export, long... args) throws IOException {
    WasmModule module = Parser.parse(Files.readAllBytes(wasm));
    List<ImportFunction> stubs = new ArrayList<>();
    var imports = module.importSection();
    for (int i = 0; i < imports.importCount(); i++) {
      var imp = (FunctionImport) imports.getImport(i);
      stubs.add(
          new HostFunction(
              imp.module(),
              imp.name(),
              module.typeSection().getType(imp.typeIndex()),
              (inst, a) -> {
                throw new AssertionError("the output called an import");
              }));
    }
    Instance i =
        Instance.builder(module)
            .withImportValues(ImportValues.builder().withFunctions(stubs).build())
            .build();
    return i.export(export).apply(args)[0];
  }

  private static boolean exports(Path wasm, String name) throws IOException {
    var exports = Parser.parse(Files.readAllBytes(wasm)).exportSection();
    for (int i = 0; i < exports.exportCount(); i++) {
      if (exports.getExport(i).name().equals(name)) {
        return true;
      }
    }
    return false;
  }

  @Test
  void writesTheDefaultOutputAndAddsItsDirectoryAsAResourceRoot() throws Exception {
    WizenMojo m = mojo();
    m.execute();
    Path out = defaultOutput();
    assertNull(Wat.validate(Files.readAllBytes(out)), "valid");
    assertEquals(42, call(out, "g"));
    assertEquals('h', call(out, "byte", 100));
    List<Resource> resources = m.project.getResources();
    assertEquals(1, resources.size());
    assertEquals(out.getParent().toString(), resources.get(0).getDirectory());
    assertEquals(List.of("m.wasm"), resources.get(0).getIncludes());
    assertTrue(infos.get(0).startsWith("wizer4j: pre-initialized src/main/wasm/m.wasm into"));
    try (Stream<Path> files = Files.list(out.getParent())) {
      assertEquals(List.of(out), files.toList(), "no stamp or temporary file in the resource root");
    }
  }

  @Test
  void secondRunWithNothingChangedSkips() throws Exception {
    mojo().execute();
    Path out = defaultOutput();
    long written = Files.getLastModifiedTime(out).toMillis();
    infos.clear();
    WizenMojo again = mojo();
    again.execute();
    assertEquals(
        List.of("wizer4j: target/generated-resources/wizer4j/m.wasm is up to date; skipping"),
        infos);
    assertEquals(written, Files.getLastModifiedTime(out).toMillis(), "the output is untouched");
    assertEquals(1, again.project.getResources().size(), "a skipped run still adds the root");
  }

  @Test
  void anyChangeRunsAgain() throws Exception {
    mojo().execute();
    Path out = defaultOutput();

    infos.clear();
    WizenMojo changedParameter = mojo();
    changedParameter.initFunc = "other-init";
    changedParameter.execute();
    assertTrue(infos.get(0).startsWith("wizer4j: pre-initialized"), infos::toString);
    assertEquals(7, call(out, "g"));

    infos.clear();
    Files.write(in, Wat.compile(MODULE.replace("i32.const 42", "i32.const 43")));
    mojo().execute();
    assertTrue(infos.get(0).startsWith("wizer4j: pre-initialized"), "changed input: " + infos);
    assertEquals(43, call(out, "g"));

    infos.clear();
    Files.write(out, new byte[] {0, 'a', 's', 'm'}); // someone edited the output
    mojo().execute();
    assertTrue(infos.get(0).startsWith("wizer4j: pre-initialized"), "edited output: " + infos);
    assertEquals(43, call(out, "g"));

    infos.clear();
    Files.delete(out);
    mojo().execute();
    assertTrue(infos.get(0).startsWith("wizer4j: pre-initialized"), "deleted output: " + infos);

    infos.clear();
    WizenMojo changedEnv = mojo();
    changedEnv.env.put("LANG", "C");
    changedEnv.execute();
    assertTrue(infos.get(0).startsWith("wizer4j: pre-initialized"), "changed env: " + infos);
  }

  @Test
  void parametersMapOntoTheBuilders() throws Exception {
    WizenMojo m = mojo();
    m.outputFile = dir.resolve("out/custom.wasm").toFile();
    m.keepInitFunc = true;
    m.renames = List.of("answer=g");
    m.engine = "INTERPRETER";
    m.execute();
    Path out = dir.resolve("out/custom.wasm");
    assertEquals(42, call(out, "answer"));
    assertTrue(exports(out, "wizer-initialize"), "the init export is kept");
    assertFalse(exports(out, "g"), "renamed away");
  }

  @Test
  void envReachesTheGuestAndNothingOfMavensLeaks() throws Exception {
    // environ_sizes_get stores the number of variables the guest sees.
    Files.write(
        in,
        Wat.compile(
            """
            (module
              (import "wasi_snapshot_preview1" "environ_sizes_get"
                (func $sizes (param i32 i32) (result i32)))
              (memory 1)
              (global $count (mut i32) (i32.const -1))
              (func (export "wizer-initialize")
                (drop (call $sizes (i32.const 0) (i32.const 4)))
                (global.set $count (i32.load (i32.const 0))))
              (func (export "count") (result i32) (global.get $count)))
            """));
    assertFalse(System.getenv().isEmpty(), "the test needs an environment to not leak");
    WizenMojo m = mojo();
    m.allowWasi = true;
    m.execute();
    assertEquals(0, call(defaultOutput(), "count"), "no variable of Maven's own");

    WizenMojo two = mojo();
    two.allowWasi = true;
    two.env.put("A", "1");
    two.env.put("B", null); // <B/> in a POM
    two.execute();
    assertEquals(2, call(defaultOutput(), "count"));

    WizenMojo inherit = mojo();
    inherit.allowWasi = true;
    inherit.inheritEnv = true;
    inherit.execute();
    assertEquals(System.getenv().size(), call(defaultOutput(), "count"));
  }

  @Test
  void failuresAreTheCommandLinesOneLineMessages() throws Exception {
    WizenMojo missing = mojo();
    missing.wasmFile = dir.resolve("nope.wasm").toFile();
    MojoFailureException e = assertThrows(MojoFailureException.class, missing::execute);
    assertEquals(
        "cannot read input " + dir.resolve("nope.wasm") + ": no such file", e.getMessage());

    WizenMojo noInit = mojo();
    noInit.initFunc = "absent";
    e = assertThrows(MojoFailureException.class, noInit::execute);
    assertTrue(e.getMessage().contains("`absent`"), e.getMessage());
    assertFalse(e.getMessage().contains("\n"), "one line");

    WizenMojo badRename = mojo();
    badRename.renames = List.of("nonsense");
    e = assertThrows(MojoFailureException.class, badRename::execute);
    assertTrue(e.getMessage().contains("'nonsense'"), e.getMessage());

    WizenMojo badEngine = mojo();
    badEngine.engine = "jit";
    e = assertThrows(MojoFailureException.class, badEngine::execute);
    assertTrue(e.getMessage().contains("'jit'"), e.getMessage());

    WizenMojo badMapDir = mojo();
    badMapDir.mapDirs = List.of("/guest");
    e = assertThrows(MojoFailureException.class, badMapDir::execute);
    assertTrue(e.getMessage().contains("GUEST::HOST"), e.getMessage());

    assertFalse(Files.exists(defaultOutput()), "nothing written by a failed run");
  }

  @Test
  void failedRunLeavesThePreviousOutputWhole() throws Exception {
    mojo().execute();
    byte[] good = Files.readAllBytes(defaultOutput());
    Files.write(in, Wat.compile("(module (func (export \"wizer-initialize\") unreachable))"));
    assertThrows(MojoFailureException.class, () -> mojo().execute());
    assertArrayEquals(good, Files.readAllBytes(defaultOutput()));
    try (Stream<Path> files = Files.list(defaultOutput().getParent())) {
      assertEquals(1, files.count(), "no temporary file left");
    }
  }

  @Test
  void skipDoesNothing() throws Exception {
    WizenMojo m = mojo();
    m.skip = true;
    m.execute();
    assertFalse(Files.exists(defaultOutput()));
    assertTrue(m.project.getResources().isEmpty());
  }
}
