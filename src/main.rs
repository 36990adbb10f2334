fn main() -> std::process::ExitCode {
    sanhu::cli::main()
}
