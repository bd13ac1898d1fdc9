package dev.wizer4j;

import java.util.Objects;

/**
 * The one formatter for text from the input that appears in messages: names of imports, exports,
 * sections and guest paths, and the messages of the runtime's own exceptions (which may quote such
 * names). A module must not be able to forge message lines or terminal escapes through its names,
 * so every character that is not printable is escaped, and a name is cut at {@link #MAX_NAME}
 * characters.
 */
public final class Names {
  /** Longer names are cut: enough to recognize any real name, and a message stays one line. */
  public static final int MAX_NAME = 120;

  /** Foreign messages (the runtime's) are cut at this length for the same reason. */
  static final int MAX_TEXT = 1000;

  private Names() {}

  /**
   * A name from the input, in backquotes, with non-printable characters, backslashes and backquotes
   * escaped, and cut after {@link #MAX_NAME} characters: {@code quote("a\nb")} is {@code `a\nb`}.
   */
  public static String quote(String name) {
    if (name == null) {
      return "`<null>`";
    }
    StringBuilder b = new StringBuilder(Math.min(name.length(), MAX_NAME) + 8).append('`');
    appendEscaped(b, name, MAX_NAME, true);
    return b.append('`').toString();
  }

  /**
   * Checks the name of an environment variable a runtime is asked to give its guest: not empty, no
   * {@code =} (it separates name from value) and no NUL (it ends the string the guest reads).
   *
   * @return {@code name}
   * @throws IllegalArgumentException naming it, quoted
   */
  public static String checkEnvName(String name) {
    Objects.requireNonNull(name, "name");
    if (name.isEmpty() || name.indexOf('=') >= 0 || name.indexOf('\0') >= 0) {
      throw new IllegalArgumentException(
          "environment variable name " + quote(name) + " must be non-empty, without '=' or NUL");
    }
    return name;
  }

  /**
   * Text from elsewhere (a runtime's exception message) made safe for a one-line message:
   * non-printable characters escaped, cut after {@value #MAX_TEXT} characters. Backslashes are
   * kept, so escaping twice changes nothing.
   */
  public static String oneLine(String text) {
    if (text == null) {
      return "";
    }
    if (isPlain(text, MAX_TEXT)) {
      return text;
    }
    StringBuilder b = new StringBuilder(Math.min(text.length(), MAX_TEXT) + 16);
    appendEscaped(b, text, MAX_TEXT, false);
    return b.toString();
  }

  /**
   * The message of a runtime's exception, for a one-line error; {@code whenInternal} if it has none
   * that a user could act on: no message, or a Java exception raised inside the runtime (a null
   * pointer, an index out of bounds, a failed cast), whose text names Java internals rather than
   * anything in the module. A plain {@link RuntimeException} keeps its message: runtimes use it for
   * their own texts.
   */
  public static String message(Throwable e, String whenInternal) {
    String msg = e.getMessage();
    boolean javaInternal =
        e.getClass() != RuntimeException.class
            && (e.getClass().getName().startsWith("java.")
                || e.getClass().getName().startsWith("jdk."));
    if (msg == null || msg.isBlank() || javaInternal || e instanceof StackOverflowError) {
      return whenInternal;
    }
    return oneLine(msg);
  }

  private static boolean isPlain(String s, int max) {
    if (s.length() > max) {
      return false;
    }
    for (int i = 0; i < s.length(); ) {
      int c = s.codePointAt(i);
      if (!printable(c)) {
        return false;
      }
      i += Character.charCount(c);
    }
    return true;
  }

  private static void appendEscaped(StringBuilder b, String s, int max, boolean quoting) {
    int shown = 0;
    int i = 0;
    while (i < s.length()) {
      if (shown == max) {
        b.append("...(").append(s.codePointCount(i, s.length())).append(" more)");
        return;
      }
      int c = s.codePointAt(i);
      i += Character.charCount(c);
      shown++;
      if (quoting && (c == '\\' || c == '`')) {
        b.append('\\').append((char) c);
      } else if (c == '\n') {
        b.append("\\n");
      } else if (c == '\r') {
        b.append("\\r");
      } else if (c == '\t') {
        b.append("\\t");
      } else if (!printable(c)) {
        b.append("\\u{").append(Integer.toHexString(c)).append('}');
      } else {
        b.appendCodePoint(c);
      }
    }
  }

  /**
   * Letters, marks, numbers, punctuation, symbols and the plain space. Not: controls (C0, DEL, C1,
   * so no ESC), format characters (bidirectional overrides), line and paragraph separators, other
   * spaces, private-use, unassigned code points and lone surrogates.
   */
  private static boolean printable(int c) {
    if (c == ' ') {
      return true;
    }
    return switch (Character.getType(c)) {
      case Character.CONTROL,
              Character.FORMAT,
              Character.LINE_SEPARATOR,
              Character.PARAGRAPH_SEPARATOR,
              Character.SPACE_SEPARATOR,
              Character.PRIVATE_USE,
              Character.UNASSIGNED,
              Character.SURROGATE ->
          false;
      default -> true;
    };
  }
}
