//! The `mchat` binary: everything lives in the library's `cli` module.

fn main() -> std::process::ExitCode {
    mchat::cli::main()
}
