//! The `liverec` binary: see [`liverec::cli`].

fn main() -> std::process::ExitCode {
    liverec::cli::main()
}
