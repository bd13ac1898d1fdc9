package dev.wizer4j;

/**
 * An instrumented module and the context to snapshot its instances with.
 *
 * @param context the validated input, for {@link Wizer#snapshot(ModuleContext, InstanceState)}
 * @param wasm the instrumented module's bytes, to instantiate with any runtime
 */
public record Instrumented(ModuleContext context, byte[] wasm) {}
