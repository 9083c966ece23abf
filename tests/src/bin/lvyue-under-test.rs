//! The `lvyue` program, built inside this package so that the system tests can run it:
//! cargo exposes `CARGO_BIN_EXE_<name>` only for binaries of the test's own package. Its main
//! is exactly the real one (`api/src/main.rs` calls the same function).

fn main() -> std::process::ExitCode {
    lvyue_api::cli::main()
}
