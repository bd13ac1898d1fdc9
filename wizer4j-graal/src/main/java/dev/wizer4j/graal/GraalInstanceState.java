package dev.wizer4j.graal;

import dev.wizer4j.GlobalValue;
import dev.wizer4j.InstanceState;
import dev.wizer4j.MemoryImage;
import dev.wizer4j.WizerException;
import java.lang.ref.Cleaner;
import java.nio.ByteOrder;
import java.util.function.Function;
import org.graalvm.polyglot.Context;
import org.graalvm.polyglot.PolyglotException;
import org.graalvm.polyglot.Value;

/**
 * The state of a live GraalWasm instance of an instrumented module, read through its exports. It
 * holds the instance's GraalWasm context: {@link #close()} it when done.
 *
 * <p>Globals keep their exact bits: GraalWasm hands an f32 to Java as a {@code float} and an f64 as
 * a {@code double} without arithmetic, so NaN payloads (signalling ones included) and {@code -0.0}
 * survive; a v128 is read as its 16 little-endian bytes.
 *
 * <p>Memory is copied out: GraalWasm does not lend its backing store through its public API.
 */
public final class GraalInstanceState implements InstanceState, AutoCloseable {
  static final int CHUNK = 1 << 20;
  static final int PAGE = 1 << 16;

  private final Value webAssembly;
  private final Value exports;

  private final Cleaner.Cleanable cleanable;

  GraalInstanceState(Context context, Value webAssembly, Value exports) {
    this.webAssembly = webAssembly;
    this.exports = exports;
    // Wizer.run does not close the state it snapshots; the context (and the memory it holds)
    // goes when the state does.
    this.cleanable = CLEANER.register(this, () -> context.close(true));
  }

  private static final Cleaner CLEANER = Cleaner.create();

  /** The instance's exports, e.g. to call a function between snapshots. */
  public Value exports() {
    return exports;
  }

  @Override
  public GlobalValue global(int index, String exportName, GlobalValue.Type type) {
    Value g = export(exportName, "global");
    try {
      if (type == GlobalValue.Type.V128) {
        Value v = g.getMember("value");
        if (v == null || !v.hasBufferElements() || v.getBufferSize() != 16) {
          throw typeMismatch(exportName, type);
        }
        return GlobalValue.v128(
            v.readBufferLong(ByteOrder.LITTLE_ENDIAN, 0),
            v.readBufferLong(ByteOrder.LITTLE_ENDIAN, 8));
      }
      Object boxed = webAssembly.getMember("global_read").execute(g).as(Object.class);
      GlobalValue value =
          switch (type) {
            case I32 -> boxed instanceof Integer i ? GlobalValue.i32(i) : null;
            case I64 -> boxed instanceof Long l ? GlobalValue.i64(l) : null;
            case F32 ->
                boxed instanceof Float f ? GlobalValue.f32Bits(Float.floatToRawIntBits(f)) : null;
            case F64 ->
                boxed instanceof Double d
                    ? GlobalValue.f64Bits(Double.doubleToRawLongBits(d))
                    : null;
            case V128 -> null;
          };
      if (value == null) {
        throw typeMismatch(exportName, type);
      }
      return value;
    } catch (PolyglotException | UnsupportedOperationException | ClassCastException e) {
      throw new WizerException.InitFailed(
          "cannot read the global exported as `" + exportName + "`: " + e.getMessage(), e);
    }
  }

  @Override
  public <R> R memory(int index, String exportName, Function<MemoryImage, R> reader) {
    Value m = export(exportName, "memory");
    if (!m.hasBufferElements()) {
      throw new WizerException.InitFailed("the export `" + exportName + "` is not a memory");
    }
    long size = m.getBufferSize();
    // Memories are whole pages (64 KiB), so a memory is lent as 1 MiB chunks when it can be
    // and as pages otherwise; a 4 GiB memory never needs one Java array.
    int chunk = size % CHUNK == 0 ? CHUNK : PAGE;
    if (size % chunk != 0) {
      throw new WizerException.Unsupported(
          "memory `" + exportName + "` is " + size + " bytes, not a whole number of 64 KiB pages");
    }
    int count = (int) (size / chunk);
    byte[][] chunks = new byte[count][];
    for (int i = 0; i < count; i++) {
      chunks[i] = new byte[chunk];
      m.readBuffer((long) i * chunk, chunks[i], 0, chunk);
    }
    return reader.apply(MemoryImage.ofChunks(chunks, count, chunk));
  }

  private Value export(String name, String kind) {
    if (!exports.hasMember(name)) {
      throw new WizerException.InitFailed(
          "the instance has no " + kind + " exported as `" + name + "`");
    }
    return exports.getMember(name);
  }

  private static WizerException typeMismatch(String exportName, GlobalValue.Type type) {
    return new WizerException.InitFailed(
        "the global exported as `" + exportName + "` is not of type " + type);
  }

  /** Closes the instance's GraalWasm context. */
  @Override
  public void close() {
    cleanable.clean();
  }
}
