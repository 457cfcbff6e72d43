//! `mphub-cxx-corpus`: the C++ corpus peer (`src/corpus_peer.cpp`, on the generated C++
//! bindings of `schema/corpus`) as a program. Usage: `client --socket PATH [--scenario
//! NAME]...` or `serve --socket PATH --fixtures-from PATH`.
use std::ffi::{c_char, c_int, CString};

// Links the bindings' C++ and Rust halves into this binary.
use mphub_cxx_corpus as _;

extern "C" {
    fn mphub_cxx_corpus_main(argc: c_int, argv: *const *const c_char) -> c_int;
}

fn main() {
    let args: Vec<CString> = std::env::args_os()
        .map(|a| CString::new(a.into_encoded_bytes()).unwrap_or_default())
        .collect();
    let argv: Vec<*const c_char> = args.iter().map(|a| a.as_ptr()).collect();
    let argc = c_int::try_from(argv.len()).unwrap_or(c_int::MAX);
    // SAFETY: argv points at `argc` NUL-terminated strings that outlive the call.
    let code = unsafe { mphub_cxx_corpus_main(argc, argv.as_ptr()) };
    std::process::exit(code);
}
