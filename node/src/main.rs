//! The `tracenode` binary: parses the command line and hands over to the library.

use clap::Parser;

fn main() {
    tracenode_federation::pki::init_crypto();
    let cli = tracenode::cli::Cli::parse();
    std::process::exit(tracenode::cli::run(cli));
}
