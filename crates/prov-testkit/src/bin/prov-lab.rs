//! `prov-lab N [DIR]`: starts N local SSH hosts (127.0.1.1..N) and keeps them up until
//! stdin closes or Ctrl-C. Writes DIR/hosts.ini and DIR/known_hosts for prov to use.

use std::io::Read;
use std::path::PathBuf;

fn main() {
    let mut args = std::env::args().skip(1);
    let n: usize = match args.next().map(|a| a.parse()) {
        Some(Ok(n)) => n,
        _ => {
            eprintln!("usage: prov-lab N [DIR]   (N hosts on 127.0.1.1..N, files under DIR, default ./lab)");
            std::process::exit(2);
        }
    };
    let dir = args.next().map(PathBuf::from).unwrap_or_else(|| PathBuf::from("lab"));
    let lab = match prov_testkit::Lab::start_in(&dir, n) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("prov-lab: {e}");
            std::process::exit(1);
        }
    };
    println!("{n} hosts up on 127.0.1.1-{n}, port {}", lab.port);
    println!("  inventory:   {}", lab.inventory().display());
    println!("  known_hosts: {}", lab.known_hosts().display());
    println!(
        "try: prov run all -i {} --known-hosts {} -- uname -n",
        lab.inventory().display(),
        lab.known_hosts().display()
    );
    println!("(close stdin or press Ctrl-D to stop)");
    let mut sink = Vec::new();
    let _ = std::io::stdin().read_to_end(&mut sink);
    drop(lab);
}
