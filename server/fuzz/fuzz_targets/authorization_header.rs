#![no_main]

#[path = "../harness.rs"]
mod harness;

libfuzzer_sys::fuzz_target!(
    // Set up outside any run: the server's process-lifetime state is not a leak of one input.
    init: {
        harness::Target::for_fuzzing();
    },
    |data: &[u8]| harness::authorization_header(harness::Target::for_fuzzing(), data)
);
