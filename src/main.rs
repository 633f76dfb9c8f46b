//! The `cdnsync` command: parse the arguments, run the library, exit with its code.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let args = cdnsync::cli::Args::parse();
    ExitCode::from(cdnsync::cli::run(args))
}
