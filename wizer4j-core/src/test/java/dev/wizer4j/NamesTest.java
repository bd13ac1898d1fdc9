package dev.wizer4j;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class NamesTest {

  @Test
  void plainNamesAreQuotedAsTheyAre() {
    assertEquals("`wizer-initialize`", Names.quote("wizer-initialize"));
    assertEquals("`héllo wörld 名前`", Names.quote("héllo wörld 名前"));
  }

  @Test
  void controlCharactersAreEscaped() {
    assertEquals("`a\\nb\\rc\\td`", Names.quote("a\nb\rc\td"));
    assertEquals("`\\u{1b}[2J\\u{0}\\u{7f}\\u{85}`", Names.quote("\u001b[2J\0\u007f\u0085"));
    // Bidirectional overrides and line separators could reorder or break a terminal line.
    assertEquals("`\\u{202e}x\\u{2028}`", Names.quote("\u202ex\u2028"));
    // A lone surrogate (from malformed input) is not printed as is.
    assertEquals("`\\u{d800}`", Names.quote("\ud800"));
  }

  @Test
  void quotingIsUnambiguous() {
    assertEquals("`a\\`b\\\\n`", Names.quote("a`b\\n"));
  }

  @Test
  void longNamesAreCut() {
    String q = Names.quote("y".repeat(10_000));
    assertTrue(q.length() < Names.MAX_NAME + 30, q);
    assertTrue(q.endsWith("...(9880 more)`"), q);
  }

  @Test
  void everyExceptionMessageIsOneLine() {
    WizerException e = new WizerException.InitFailed("trap: \n error: forged \u001b[0m");
    assertFalse(e.getMessage().contains("\n"));
    assertFalse(e.getMessage().contains("\u001b"));
    assertEquals("trap: \\n error: forged \\u{1b}[0m", e.getMessage());
  }

  @Test
  void javaInternalsAreNotShown() {
    String fallback = "internal error";
    assertEquals(fallback, Names.message(new NullPointerException("Cannot invoke x"), fallback));
    assertEquals(fallback, Names.message(new ArrayIndexOutOfBoundsException(5), fallback));
    assertEquals(fallback, Names.message(new RuntimeException(), fallback));
    assertEquals("unknown type 3", Names.message(new RuntimeException("unknown type 3"), fallback));
  }

  @Test
  void environmentVariableNamesAreCheckedAndQuotedInTheRefusal() {
    assertEquals("HOME", Names.checkEnvName("HOME"));
    for (String bad : new String[] {"", "A=B", "A\0B", "=\nforged"}) {
      IllegalArgumentException e =
          assertThrows(IllegalArgumentException.class, () -> Names.checkEnvName(bad));
      assertTrue(e.getMessage().startsWith("environment variable name `"), e.getMessage());
      assertFalse(e.getMessage().contains("\n"), e.getMessage());
    }
  }
}
