package dev.wizer4j.endive;

import dev.wizer4j.GlobalValue;
import dev.wizer4j.InstanceState;
import dev.wizer4j.MemoryImage;
import dev.wizer4j.Names;
import dev.wizer4j.WizerException;
import java.lang.reflect.Field;
import java.nio.ByteBuffer;
import java.util.HashMap;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.function.Function;
import run.endive.runtime.ByteArrayMemory;
import run.endive.runtime.ByteBufferMemory;
import run.endive.runtime.GlobalInstance;
import run.endive.runtime.Instance;
import run.endive.runtime.Memory;
import run.endive.wasm.types.Export;
import run.endive.wasm.types.ExternalType;
import run.endive.wasm.types.ValType;

/**
 * The state of a live Endive {@link Instance}, for {@link dev.wizer4j.Wizer#snapshot}.
 *
 * <p>Globals and memories are found by their instrumentation export names, so the instance must be
 * one of the instrumented module (an output of {@code keepInstrumentation(true)}, or {@link
 * dev.wizer4j.ModuleContext#instrumentedBytes()}).
 *
 * <p>Memory is lent without copying when it is Endive's default {@link ByteArrayMemory} (its 64 KiB
 * pages are handed to the scanner as they are); any other memory is copied page by page.
 */
public final class EndiveInstanceState implements InstanceState {
  private static final int PAGE = 65536;
  private static final Field ARRAY_PAGES = pagesField(ByteArrayMemory.class, byte[][].class);
  private static final Field BUFFER_PAGES = pagesField(ByteBufferMemory.class, ByteBuffer[].class);

  private final Instance instance;
  private final boolean byIndex;
  private Map<String, Export> exports;

  /** The instance's exports by name, built on first use: one lookup per global, not a scan. */
  private EndiveInstanceState(Instance instance, boolean byIndex) {
    this.instance = instance;
    this.byIndex = byIndex;
  }

  /** The state of {@code instance}, an instance of an instrumented module. */
  public static EndiveInstanceState of(Instance instance) {
    return new EndiveInstanceState(Objects.requireNonNull(instance, "instance"), false);
  }

  /**
   * The state of an instance of the very module a context was parsed from, instrumented or not: the
   * state is read by index (the export names passed in are used only in messages), so the module
   * never needs its instrumented copy parsed and instantiated.
   */
  public static EndiveInstanceState byIndex(Instance instance) {
    return new EndiveInstanceState(Objects.requireNonNull(instance, "instance"), true);
  }

  @Override
  public GlobalValue global(int globalIndex, String exportName, GlobalValue.Type type) {
    int index = byIndex ? globalIndex : resolve(exportName, ExternalType.GLOBAL);
    GlobalInstance g;
    try {
      g = instance.global(index);
    } catch (RuntimeException e) {
      throw new WizerException.StateMismatch(
          "the instance has no global " + index + " (" + Names.quote(exportName) + ")");
    }
    ValType vt = g.getType();
    GlobalValue.Type actual = typeOf(vt);
    if (actual != type) {
      throw new WizerException.StateMismatch(
          "global "
              + Names.quote(exportName)
              + " has type "
              + vt.toString().toLowerCase(Locale.ROOT)
              + ", expected "
              + type.name().toLowerCase(Locale.ROOT));
    }
    return switch (type) {
      case I32 -> GlobalValue.i32((int) g.getValue());
      case I64 -> GlobalValue.i64(g.getValue());
      case F32 -> GlobalValue.f32Bits((int) g.getValue());
      case F64 -> GlobalValue.f64Bits(g.getValue());
      case V128 -> GlobalValue.v128(g.getValueLow(), g.getValueHigh());
    };
  }

  @Override
  public <R> R memory(int memoryIndex, String exportName, Function<MemoryImage, R> reader) {
    int index = byIndex ? memoryIndex : resolve(exportName, ExternalType.MEMORY);
    Memory memory;
    try {
      memory = instance.memory(index);
    } catch (RuntimeException e) {
      memory = null;
    }
    if (memory == null) {
      throw new WizerException.StateMismatch(
          "the instance has no memory " + index + " (" + Names.quote(exportName) + ")");
    }
    int pages = memory.pages();
    byte[][] chunks = lend(PageLimitedMemory.unwrap(memory), pages);
    if (chunks == null) {
      chunks = new byte[pages][];
      for (int p = 0; p < pages; p++) {
        chunks[p] = memory.readBytes(p * PAGE, PAGE);
      }
    }
    return reader.apply(MemoryImage.ofChunks(chunks, pages, PAGE));
  }

  /**
   * The pages of Endive's two memory implementations, lent as they are: both keep one heap array
   * per 64 KiB page ({@link ByteArrayMemory} directly, {@link ByteBufferMemory} behind heap
   * buffers). Returns null for any other memory, or if this Endive keeps its pages elsewhere.
   */
  private static byte[][] lend(Memory memory, int pages) {
    try {
      if (memory.getClass() == ByteArrayMemory.class && ARRAY_PAGES != null) {
        byte[][] all = (byte[][]) ARRAY_PAGES.get(memory);
        return all != null && all.length >= pages && whole(all, pages) ? all : null;
      }
      if (memory.getClass() == ByteBufferMemory.class && BUFFER_PAGES != null) {
        ByteBuffer[] all = (ByteBuffer[]) BUFFER_PAGES.get(memory);
        if (all == null || all.length < pages) {
          return null;
        }
        byte[][] arrays = new byte[pages][];
        for (int p = 0; p < pages; p++) {
          ByteBuffer b = all[p];
          if (b == null || !b.hasArray() || b.arrayOffset() != 0) {
            return null;
          }
          arrays[p] = b.array();
        }
        return whole(arrays, pages) ? arrays : null;
      }
    } catch (IllegalAccessException | RuntimeException e) {
      return null;
    }
    return null;
  }

  private static boolean whole(byte[][] pages, int count) {
    for (int p = 0; p < count; p++) {
      if (pages[p] == null || pages[p].length < PAGE) {
        return false;
      }
    }
    return true;
  }

  private static Field pagesField(Class<?> memoryClass, Class<?> type) {
    try {
      Field f = memoryClass.getDeclaredField("pages");
      if (f.getType() != type) {
        return null;
      }
      f.setAccessible(true);
      return f;
    } catch (ReflectiveOperationException | RuntimeException e) {
      // Another Endive layout, or a module path that does not open the package: copy instead.
      return null;
    }
  }

  private int resolve(String exportName, ExternalType kind) {
    if (exports == null) {
      // One map for all lookups: a module may export a hundred thousand globals.
      var section = instance.module().exportSection();
      Map<String, Export> byName = new HashMap<>(section.exportCount() * 2);
      for (int i = 0; i < section.exportCount(); i++) {
        Export e = section.getExport(i);
        byName.putIfAbsent(e.name(), e);
      }
      exports = byName;
    }
    Export e = exports.get(exportName);
    if (e == null) {
      throw new WizerException.StateMismatch(
          "the instance has no "
              + kind.name().toLowerCase(Locale.ROOT)
              + " export "
              + Names.quote(exportName)
              + ": snapshot an instance of the instrumented module");
    }
    if (e.exportType() != kind) {
      throw new WizerException.StateMismatch(
          "export "
              + Names.quote(exportName)
              + " is a "
              + e.exportType().name().toLowerCase(Locale.ROOT)
              + ", expected a "
              + kind.name().toLowerCase(Locale.ROOT));
    }
    return e.index();
  }

  private static GlobalValue.Type typeOf(ValType vt) {
    if (vt.equals(ValType.I32)) {
      return GlobalValue.Type.I32;
    } else if (vt.equals(ValType.I64)) {
      return GlobalValue.Type.I64;
    } else if (vt.equals(ValType.F32)) {
      return GlobalValue.Type.F32;
    } else if (vt.equals(ValType.F64)) {
      return GlobalValue.Type.F64;
    } else if (vt.equals(ValType.V128)) {
      return GlobalValue.Type.V128;
    }
    return null;
  }
}
