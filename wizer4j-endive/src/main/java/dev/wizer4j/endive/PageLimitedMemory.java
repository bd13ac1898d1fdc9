package dev.wizer4j.endive;

import dev.wizer4j.WizerException;
import java.util.function.Function;
import run.endive.runtime.Instance;
import run.endive.runtime.Memory;
import run.endive.wasm.types.DataSegment;
import run.endive.wasm.types.MemoryLimits;

/**
 * wizer4j's memory (a plain array, see {@link Engines#memoryFactory}), except that a {@code
 * memory.grow} the module allows but Endive cannot hold fails the run instead of returning -1.
 *
 * <p>Endive keeps a memory in int-indexed Java arrays and answers -1 to a {@code memory.grow} past
 * {@link EndiveRuntime#MAX_PAGES} pages, as if the module's own maximum had been reached. Wizer
 * (wasmtime) grows a 32-bit memory up to its declared maximum, or 65,536 pages (4 GiB) without one;
 * a guest told -1 instead takes another path (a failed {@code malloc}), and its snapshot holds a
 * state Wizer would not produce. Such a grow throws instead, naming the limit. A grow past the
 * module's own maximum still returns -1, as in wasmtime.
 *
 * <p>Only memories whose maximum is above the limit are wrapped ({@link #factory()}); the others
 * are Endive's own objects, untouched. Every method but {@link #grow} delegates.
 */
final class PageLimitedMemory implements Memory {
  private final Memory delegate;
  private final int index;
  private final int declaredMaximum;

  private PageLimitedMemory(Memory delegate, int index, int declaredMaximum) {
    this.delegate = delegate;
    this.index = index;
    this.declaredMaximum = declaredMaximum;
  }

  /**
   * A memory factory for one instance: Endive calls it once per defined memory, in index order
   * (wizer4j rejects imported memories, so defined indices are the module's indices).
   */
  static Function<MemoryLimits, Memory> factory() {
    int[] next = {0};
    return limits -> {
      int index = next[0]++;
      Memory memory = Engines.memoryFactory().apply(limits);
      return limits.maximumPages() > EndiveRuntime.MAX_PAGES
          ? new PageLimitedMemory(memory, index, limits.maximumPages())
          : memory;
    };
  }

  /** The memory Endive allocated, for readers that know its layout. */
  static Memory unwrap(Memory memory) {
    return memory instanceof PageLimitedMemory m ? m.delegate : memory;
  }

  @Override
  public int grow(int delta) {
    long target = delegate.pages() + Integer.toUnsignedLong(delta);
    if (target > EndiveRuntime.MAX_PAGES && target <= declaredMaximum) {
      throw new WizerException.Unsupported(
          String.format(
              "memory %d grows to %d pages (%d MiB), more than the %d pages (2 GiB) the Endive"
                  + " runtime can hold; Wizer would grow it (the module allows %d pages)",
              index, target, target / 16, EndiveRuntime.MAX_PAGES, declaredMaximum));
    }
    return delegate.grow(delta);
  }

  @Override
  public int pages() {
    return delegate.pages();
  }

  @Override
  public int initialPages() {
    return delegate.initialPages();
  }

  @Override
  public int maximumPages() {
    return delegate.maximumPages();
  }

  @Override
  public boolean shared() {
    return delegate.shared();
  }

  // lock, waitOn and notify are deprecated for removal in Endive but still abstract.
  @SuppressWarnings("removal")
  @Override
  public Object lock(int address) {
    return delegate.lock(address);
  }

  @SuppressWarnings("removal")
  @Override
  public int waitOn(int address, int expected, long timeout) {
    return delegate.waitOn(address, expected, timeout);
  }

  @SuppressWarnings("removal")
  @Override
  public int waitOn(int address, long expected, long timeout) {
    return delegate.waitOn(address, expected, timeout);
  }

  @SuppressWarnings("removal")
  @Override
  public int notify(int address, int maxThreads) {
    return delegate.notify(address, maxThreads);
  }

  @Override
  public void initialize(Instance instance, DataSegment[] dataSegments) {
    delegate.initialize(instance, dataSegments);
  }

  @Override
  public void initialize(Instance instance, DataSegment[] dataSegments, int memoryIndex) {
    delegate.initialize(instance, dataSegments, memoryIndex);
  }

  @Override
  public void initPassiveSegment(int segmentId, int dest, int offset, int size) {
    delegate.initPassiveSegment(segmentId, dest, offset, size);
  }

  @Override
  public void write(int addr, byte[] data, int offset, int size) {
    delegate.write(addr, data, offset, size);
  }

  @Override
  public byte read(int addr) {
    return delegate.read(addr);
  }

  @Override
  public byte[] readBytes(int addr, int len) {
    return delegate.readBytes(addr, len);
  }

  @Override
  public void writeI32(int addr, int data) {
    delegate.writeI32(addr, data);
  }

  @Override
  public int readInt(int addr) {
    return delegate.readInt(addr);
  }

  @Override
  public void writeLong(int addr, long data) {
    delegate.writeLong(addr, data);
  }

  @Override
  public long readLong(int addr) {
    return delegate.readLong(addr);
  }

  @Override
  public void writeShort(int addr, short data) {
    delegate.writeShort(addr, data);
  }

  @Override
  public short readShort(int addr) {
    return delegate.readShort(addr);
  }

  @Override
  public long readU16(int addr) {
    return delegate.readU16(addr);
  }

  @Override
  public void writeByte(int addr, byte data) {
    delegate.writeByte(addr, data);
  }

  @Override
  public void writeF32(int addr, float data) {
    delegate.writeF32(addr, data);
  }

  @Override
  public long readF32(int addr) {
    return delegate.readF32(addr);
  }

  @Override
  public float readFloat(int addr) {
    return delegate.readFloat(addr);
  }

  @Override
  public void writeF64(int addr, double data) {
    delegate.writeF64(addr, data);
  }

  @Override
  public double readDouble(int addr) {
    return delegate.readDouble(addr);
  }

  @Override
  public long readF64(int addr) {
    return delegate.readF64(addr);
  }

  @Override
  public void zero() {
    delegate.zero();
  }

  @Override
  public void fill(byte value, int fromIndex, int toIndex) {
    delegate.fill(value, fromIndex, toIndex);
  }

  @Override
  public void copy(int dest, int src, int size) {
    delegate.copy(dest, src, size);
  }

  @Override
  public void drop(int segment) {
    delegate.drop(segment);
  }
}
