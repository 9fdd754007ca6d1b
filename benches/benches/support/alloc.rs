//! The global allocator of `defender-host` (mimalloc, see its `main.rs`), so that the benches
//! measure what the host runs. Each bench that stands for the host includes this module.

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;
