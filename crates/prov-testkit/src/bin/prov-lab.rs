//! `prov-lab N [DIR] [--per-sshd K]`: starts N local SSH hosts (127.0.1.1..N; past 254 they
//! go on at 127.0.2.1) and keeps them up until stdin closes or Ctrl-C. Each host has its own
//! sshd unless `--per-sshd K` (K ≤ 16) lets one sshd serve K addresses; N > 254 needs it. Writes
//! DIR/hosts.ini and DIR/known_hosts for prov to use, and DIR/sshd.pids.

use std::io::Read;
use std::path::PathBuf;

fn main() {
    let usage = || -> ! {
        eprintln!(
            "usage: prov-lab N [DIR] [--per-sshd K]   (N hosts from 127.0.1.1, files under DIR, default ./lab; \
             K addresses per sshd, default 1)"
        );
        std::process::exit(2);
    };
    let mut positional = Vec::new();
    let mut per_sshd = 1;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        if a == "--per-sshd" {
            per_sshd = args.next().and_then(|k| k.parse().ok()).unwrap_or_else(|| usage());
        } else {
            positional.push(a);
        }
    }
    let n: usize = positional.first().and_then(|a| a.parse().ok()).unwrap_or_else(|| usage());
    let dir = positional.get(1).map(PathBuf::from).unwrap_or_else(|| PathBuf::from("lab"));
    let lab = match prov_testkit::Lab::start_grouped(&dir, n, per_sshd) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("prov-lab: {e}");
            std::process::exit(1);
        }
    };
    let pids: String = lab.sshd_pids().iter().map(|p| format!("{p}\n")).collect();
    if let Err(e) = std::fs::write(lab.dir().join("sshd.pids"), pids) {
        eprintln!("prov-lab: cannot write sshd.pids: {e}");
    }
    let last = lab.hosts.last().map(|h| h.addr.to_string()).unwrap_or_default();
    println!("{n} hosts up on 127.0.1.1-{last}, port {}", lab.port);
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
