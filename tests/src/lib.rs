//! Black-box tests of the whole Lvyue system, through HTTP and the command line, as each role
//! would use it. The tests are in `system/` (one test binary, `system/main.rs`); this library
//! is empty, and `src/bin/lvyue-under-test.rs` is the `lvyue` program built for the CLI tests.
