package dev.wizer4j.cli;

import dev.wizer4j.endive.EndiveRuntime;
import java.nio.file.Path;
import java.util.Locale;
import picocli.CommandLine;
import picocli.CommandLine.ITypeConverter;
import picocli.CommandLine.Model.OptionSpec;

/**
 * Option values that are more than a word, converted by picocli while it reads the command line: a
 * malformed one is a usage error (status 2) before any file is read. Every converter reports in one
 * style, Wizer's (clap's): {@code invalid value 'V' for '--opt <LABEL>': reason}.
 */
final class OptionValues {
  private OptionValues() {}

  /** {@code A=B} or {@code A::B}: two non-empty parts, e.g. {@code DST=SRC}, {@code NAME=FILE}. */
  record Pair(String left, String right) {}

  /** {@code --env NAME[=VALUE]}; {@code value} is null for a bare NAME that is unset here. */
  record Env(String name, String value) {}

  /** A directory the guest sees: {@code host} under the guest path {@code guest}. */
  record Preopen(String guest, Path host) {}

  /** A malformed value and why; {@link #message} names the option it was given to. */
  static final class BadValue extends CommandLine.TypeConversionException {
    private static final long serialVersionUID = 1L;

    private final String value;

    BadValue(String value, String reason) {
      super(reason);
      this.value = value;
    }
  }

  /**
   * The error line for {@code ex} if a converter here rejected the value, else null. Like Wizer's,
   * it names the option with its label and needs no pointer to {@code --help}.
   */
  static String message(CommandLine.ParameterException ex) {
    if (ex.getCause() instanceof BadValue bad && ex.getArgSpec() instanceof OptionSpec option) {
      return "invalid value '"
          + bad.value
          + "' for '"
          + option.longestName()
          + " <"
          + option.paramLabel()
          + ">': "
          + bad.getMessage();
    }
    return null;
  }

  /** {@code A=B}, split at the first {@code =} (B may hold more). */
  static final class EqualsPair implements ITypeConverter<Pair> {
    @Override
    public Pair convert(String value) {
      int eq = value.indexOf('=');
      if (eq <= 0 || eq == value.length() - 1) {
        throw new BadValue(value, "must be two non-empty parts joined by '='");
      }
      return new Pair(value.substring(0, eq), value.substring(eq + 1));
    }
  }

  /** {@code A::B} with exactly one {@code ::}. */
  static final class ColonPair implements ITypeConverter<Pair> {
    @Override
    public Pair convert(String value) {
      Pair p = splitColons(value);
      if (p == null) {
        throw new BadValue(value, "must be two non-empty parts joined by one '::'");
      }
      return p;
    }
  }

  /** The two sides of one {@code ::}, or null if there is not exactly one or a side is empty. */
  private static Pair splitColons(String value) {
    int sep = value.indexOf("::");
    if (sep <= 0 || sep + 2 == value.length() || value.indexOf("::", sep + 2) >= 0) {
      return null;
    }
    return new Pair(value.substring(0, sep), value.substring(sep + 2));
  }

  /** {@code --mapdir GUEST::HOST}, as Wizer writes it. */
  static final class MapDir implements ITypeConverter<Preopen> {
    @Override
    public Preopen convert(String value) {
      Pair p = new ColonPair().convert(value);
      return new Preopen(p.left(), Path.of(p.right()));
    }
  }

  /** {@code --dir DIR} (the same path for the guest), or {@code HOST::GUEST} as wasmtime writes. */
  static final class Dir implements ITypeConverter<Preopen> {
    @Override
    public Preopen convert(String value) {
      if (value.isEmpty()) {
        throw new BadValue(value, "must not be empty");
      }
      if (!value.contains("::")) {
        return new Preopen(value, Path.of(value));
      }
      Pair p = splitColons(value);
      if (p == null) {
        throw new BadValue(value, "must be a directory, or two non-empty parts joined by one '::'");
      }
      return new Preopen(p.right(), Path.of(p.left()));
    }
  }

  /** {@code --env NAME=VALUE}, or {@code NAME} alone: the value this process has, if any. */
  static final class EnvEntry implements ITypeConverter<Env> {
    @Override
    public Env convert(String value) {
      int eq = value.indexOf('=');
      String name = eq < 0 ? value : value.substring(0, eq);
      if (name.isEmpty()) {
        throw new BadValue(value, "the name must not be empty");
      }
      return new Env(name, eq < 0 ? System.getenv(name) : value.substring(eq + 1));
    }
  }

  /** {@code auto}, {@code interpreter} or {@code compiler}, in any case. */
  static final class Engine implements ITypeConverter<EndiveRuntime.Engine> {
    @Override
    public EndiveRuntime.Engine convert(String value) {
      try {
        return EndiveRuntime.Engine.valueOf(value.toUpperCase(Locale.ROOT));
      } catch (IllegalArgumentException e) {
        throw new BadValue(value, "expected auto, interpreter or compiler");
      }
    }
  }

  /** Any string but the empty one. */
  static final class NonEmpty implements ITypeConverter<String> {
    @Override
    public String convert(String value) {
      if (value.isEmpty()) {
        throw new BadValue(value, "must not be empty");
      }
      return value;
    }
  }
}
