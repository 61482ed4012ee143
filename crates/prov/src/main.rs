//! `prov`: Ansible-syntax playbooks compiled to a task DAG and run in parallel over SSH.
//!
//! Exit codes (as ansible-playbook where it has one): 0 success, 2 a host failed, 3 a host was
//! unreachable, 4 bad input (nothing was run), 99 interrupted.

mod cli;
mod connect;
mod diagnostics;
mod driver;
mod extra_vars;
mod output;
mod scale;

use clap::Parser;

fn main() {
    let cli = cli::Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("prov: cannot start the async runtime: {e}");
            std::process::exit(1);
        }
    };
    let code = runtime.block_on(driver::main(cli));
    std::process::exit(code);
}
