package dev.wizer4j;

/**
 * A section whose body is a vector: the entries are counted as they are written, and the count and
 * the section size are worked out when the section is written (wasm-encoder's sections work this
 * way), so no caller computes a count that could disagree with the entries.
 */
final class VecSection {
  private final int id;
  private final ByteSink entries;
  private int count;

  VecSection(int id, int capacity) {
    this.id = id;
    this.entries = new ByteSink(capacity);
  }

  /** The sink for one more entry, which the caller writes in full. */
  ByteSink entry() {
    count++;
    return entries;
  }

  int count() {
    return count;
  }

  /** Writes the section: id, size, count, entries. */
  void writeTo(ByteSink out) {
    out.u8(id).u32(ByteSink.sizeU32(count) + entries.size()).u32(count).bytes(entries);
  }
}
