fn main() -> std::process::ExitCode {
    vbda::cli::main()
}
