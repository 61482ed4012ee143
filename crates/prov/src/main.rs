//! prov's binary (work in progress: cli.rs and output.rs are wired in with the executor).
fn main() {
    eprintln!("prov: the engine is not wired up yet; see README.md");
    std::process::exit(1);
}
