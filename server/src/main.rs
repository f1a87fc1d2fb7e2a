//! The `aiex` binary: everything lives in the library; this only hands over to the CLI.

fn main() -> std::process::ExitCode {
    aiex_engine::memory::use_one_allocator_arena();
    aiex::cli::main()
}
