//! The `tracenode` binary: parses the command line and hands over to the library.

use clap::Parser;

/// mimalloc: the ingestion pipeline allocates a record's strings on one thread and frees
/// them on another, which glibc's allocator handles poorly.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    tracenode_federation::pki::init_crypto();
    let cli = tracenode::cli::Cli::parse();
    std::process::exit(tracenode::cli::run(cli));
}
