//! The `kairan` binary: everything lives in the library; see `cli.rs`.

fn main() -> std::process::ExitCode {
    kairan::cli::main()
}
