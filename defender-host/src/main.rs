//! `defender-host`: runs a Defender project (see the crate's README and `defender-host --help`).

mod cli;

/// mimalloc for every allocation of the process, as for the QuickJS heaps already: the
/// monitor path allocates many small strings per alert, and with glibc's malloc the pipeline
/// bench catches up about 1.8 times slower at 126 alerts per block (`cargo bench -p
/// defender-benches --bench pipeline`, whose benches use the same allocator). Built without
/// transparent huge pages (the workspace's `no_thp` feature): with them, mimalloc's arenas
/// made an idle host hold about 15 MB more resident memory than with glibc's malloc.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    cli::main()
}
