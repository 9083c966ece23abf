//! `lvyue`: see [`lvyue_api::cli`].

fn main() -> std::process::ExitCode {
    lvyue_api::cli::main()
}
