//! `lvyue`: see [`lvyue_api::cli`].

/// mimalloc rather than glibc's malloc: a page of orders allocates and frees thousands of small
/// values across threads, where glibc's allocator showed up as a sixth of the read path's CPU
/// (docs/benchmarks.md, "The allocator").
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    lvyue_api::cli::main()
}
