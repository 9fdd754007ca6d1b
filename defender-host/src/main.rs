//! `defender-host`: runs a Defender project (see the crate's README and `defender-host --help`).

mod cli;

fn main() -> std::process::ExitCode {
    cli::main()
}
