package dev.wizer4j;

import static dev.wizer4j.testing.Binary.cat;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.wizer4j.testing.Binary;
import dev.wizer4j.testing.Wat;
import java.io.ByteArrayOutputStream;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Checks wizer4j adds on top of the runtime's validator, each against the spec's rule, and each
 * cross-checked with wabt's independent validator: what wizer4j refuses, wabt refuses too, and what
 * wabt accepts, wizer4j accepts.
 */
class ValidationGapsTest {

  private static WizerException.InvalidModule assertInvalid(String part, byte[] wasm) {
    assertNotNull(Wat.validate(wasm), "wabt must refuse this module too");
    WizerException.InvalidModule e =
        assertThrows(WizerException.InvalidModule.class, () -> Parse.parse(wasm, false));
    assertTrue(e.getMessage().contains(part), e.getMessage());
    return e;
  }

  private static void assertValid(byte[] wasm, String... wabtFeatures) {
    assertEquals(
        null,
        wabtFeatures.length == 0 ? Wat.validate(wasm) : Wat.validate(wasm, wabtFeatures),
        "wabt must accept this module");
    Parse.parse(wasm, false);
  }

  // C.refs (spec 3.4.10, "Modules"): a `ref.func x` in a function body is valid only if x occurs
  // somewhere in the module outside function bodies and the start section.

  @Test
  void refFuncOfAnUndeclaredFunctionIsRefused() {
    WizerException.InvalidModule e =
        assertInvalid(
            "undeclared function reference: `ref.func 0` in function 1",
            Wat.compile("(module (func $f) (func (drop (ref.func $f))))"));
    assertTrue(e.offset() > 0, "the offset of the instruction is given");
  }

  @Test
  void refFuncOfAFunctionDeclaredByAnExportIsAccepted() {
    assertValid(Wat.compile("(module (func $f (export \"f\")) (func (drop (ref.func $f))))"));
  }

  @Test
  void refFuncOfAFunctionDeclaredByAnElementSegmentIsAccepted() {
    assertValid(
        Wat.compile("(module (func $f) (elem declare func $f) (func (drop (ref.func $f))))"));
    assertValid(
        Wat.compile(
            "(module (table 1 funcref) (func $f) (elem (i32.const 0) $f)"
                + " (func (drop (ref.func $f))))"));
  }

  /**
   * wabt is asked with its default features here: with function references enabled, it wrongly
   * refuses {@code (ref.func $f)} as the initializer of a {@code funcref} global (wabt 1.0.x).
   */
  @Test
  void refFuncOfAFunctionDeclaredByAGlobalInitializerIsAccepted() {
    assertValid(
        Wat.compile(
            "(module (func $f) (global funcref (ref.func $f)) (func (drop (ref.func $f))))"),
        "--enable-exceptions");
  }

  @Test
  void refFuncDeclaredForOneFunctionDoesNotDeclareAnother() {
    assertInvalid(
        "undeclared function reference: `ref.func 1`",
        Wat.compile(
            "(module (func $a (export \"a\")) (func $b) (func (drop (ref.func $a))"
                + " (drop (ref.func $b))))"));
  }

  // Tag section (exception handling, binary format): after the memory section, before the global
  // section, at most once.

  private static final String TAGGED =
      "(module (tag $t (param i32)) (memory 1) (global (mut i32) (i32.const 0))"
          + " (func (export \"f\") (throw $t (i32.const 1))))";

  @Test
  void tagSectionInItsPlaceIsAccepted() {
    assertValid(Wat.compile(TAGGED));
  }

  @Test
  void tagSectionAfterTheExportSectionIsRefused() {
    byte[] wasm = Wat.compile(TAGGED);
    byte[] moved = moveSection(wasm, 13, 7);
    WizerException.InvalidModule e =
        assertInvalid("tag section out of order: it must come before the export section", moved);
    assertTrue(e.offset() > 8);
  }

  @Test
  void tagSectionTwiceIsRefused() {
    byte[] wasm = Wat.compile(TAGGED);
    assertInvalid("duplicate tag section", duplicateSection(wasm, 13));
  }

  @Test
  void sectionOrderAndUniquenessHoldForEverySection() {
    byte[] wasm = Wat.compile(TAGGED);
    assertInvalid("duplicate memory section", duplicateSection(wasm, 5));
    assertInvalid("out of order", moveSection(wasm, 5, 6));
  }

  /** The runtime's validator lets an import name a type index the module does not have. */
  @Test
  void importOfAnUnknownTypeIsRefused() {
    byte[] wasm =
        new Binary().section(1, cat(1, 0x60, 0, 0)).section(2, cat(1, "env", "f", 0, 5)).build();
    assertInvalid("imported function `env.f` uses type 5, but the module has 1 types", wasm);
  }

  // Names from the input appear escaped and cut, so no name can forge a line of output.

  @Test
  void namesInMessagesAreEscaped() {
    byte[] wasm =
        new Binary()
            .section(1, cat(1, 0x60, 0, 0))
            .section(3, cat(1, 0))
            .section(7, cat(1, "run\nerror: forged\r\u001b[31m", 0, 9))
            .section(10, cat(1, 2, 0, 0x0b))
            .build();
    WizerException.InvalidModule e =
        assertThrows(WizerException.InvalidModule.class, () -> Parse.parse(wasm, false));
    assertEquals(
        "export `run\\nerror: forged\\r\\u{1b}[31m` refers to function 9, but the module has 1"
            + " (at offset 0x15)",
        e.getMessage());
  }

  @Test
  void longNamesAreCut() {
    String name = "x".repeat(100_000);
    byte[] wasm = new Binary().section(2, cat(1, "env", name, 2, 0, 1)).build(); // imported memory
    WizerException e = assertThrows(WizerException.class, () -> Parse.parse(wasm, false));
    assertTrue(e.getMessage().length() < 500, e.getMessage());
    assertTrue(e.getMessage().contains("more)"), e.getMessage());
  }

  /** Types in messages are written as the text format writes them, not as Java objects. */
  @Test
  void initFunctionTypesAreShownInTextFormat() {
    ModuleContext cx =
        Parse.parse(
            Wat.compile(
                "(module (type $t (func)) (func (export \"wizer-initialize\")"
                    + " (param funcref externref f32) (result i64 v128)"
                    + " (i64.const 0) (v128.const i64x2 0 0)))"),
            false);
    WizerException e =
        assertThrows(WizerException.class, () -> Check.initFunc(cx, "wizer-initialize"));
    assertEquals(
        "the Wasm module's `wizer-initialize` function export does not have type `[] -> []` but"
            + " `[funcref externref f32] -> [i64 v128]`",
        e.getMessage());
  }

  @Test
  void referenceTypesAreShownInTextFormat() {
    assertEquals("funcref", Check.valType(ref(0x63, -16)));
    assertEquals("externref", Check.valType(ref(0x63, -17)));
    assertEquals("(ref func)", Check.valType(ref(0x64, -16)));
    assertEquals("(ref null 3)", Check.valType(ref(0x63, 3)));
    assertEquals("(ref 3)", Check.valType(ref(0x64, 3)));
  }

  private static run.endive.wasm.types.ValType ref(int opcode, int heapType) {
    return run.endive.wasm.types.ValType.builder().withOpcode(opcode).withTypeIdx(heapType).build();
  }

  // Helpers that rearrange the sections of a valid module.

  private static byte[] moveSection(byte[] wasm, int id, int afterId) {
    List<Binary.Section> sections = Binary.sections(wasm);
    Binary.Section moved = sections.stream().filter(s -> s.id() == id).findFirst().orElseThrow();
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    out.write(wasm, 0, 8);
    for (Binary.Section s : sections) {
      if (s != moved) {
        out.write(wasm, s.start(), s.end() - s.start());
      }
      if (s.id() == afterId) {
        out.write(wasm, moved.start(), moved.end() - moved.start());
      }
    }
    return out.toByteArray();
  }

  private static byte[] duplicateSection(byte[] wasm, int id) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    out.write(wasm, 0, 8);
    for (Binary.Section s : Binary.sections(wasm)) {
      out.write(wasm, s.start(), s.end() - s.start());
      if (s.id() == id) {
        out.write(wasm, s.start(), s.end() - s.start());
      }
    }
    return out.toByteArray();
  }
}
