# Packed into ruby.wasm by bench/run.sh (the way `wasi-vfs pack` does) and run from the
# pre-initialized module to check that the packed file system survived the snapshot.
puts "hello from #{RUBY_ENGINE} #{RUBY_VERSION} (#{RUBY_PLATFORM}), packed at /app/hello.rb"
