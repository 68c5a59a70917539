// A build script makes cargo honour this crate's [build-dependencies] (the shared build-time crates).
fn main() {}
