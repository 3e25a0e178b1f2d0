//! `rampart`: the command line of the Rampart API (see `cli`).
#![forbid(unsafe_code)]

use std::process::ExitCode;

use clap::Parser as _;
use rampart_server::{cli::Cli, telemetry};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let _log_guard = telemetry::init();
    cli.run()
}
