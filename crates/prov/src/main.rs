//! `prov`: Ansible-syntax playbooks compiled to a task DAG and run in parallel over SSH.
//!
//! Exit codes (as ansible-playbook where it has one): 0 success, 2 a host failed, 3 a host was
//! unreachable, 4 bad input (nothing was run), 99 interrupted.

/// `println!` that does not panic when stdout is closed (`prov graph | head -1`): the rest of
/// the output is dropped, and the run goes on to its end and its exit code.
macro_rules! say {
    ($($t:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout(), $($t)*);
    }};
}

/// `print!` that does not panic when stdout is closed.
macro_rules! say_raw {
    ($($t:tt)*) => {{
        use std::io::Write as _;
        let _ = write!(std::io::stdout(), $($t)*);
    }};
}

/// `eprintln!` that does not panic when stderr is closed.
macro_rules! say_err {
    ($($t:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), $($t)*);
    }};
}

/// `eprint!` that does not panic when stderr is closed.
macro_rules! say_err_raw {
    ($($t:tt)*) => {{
        use std::io::Write as _;
        let _ = write!(std::io::stderr(), $($t)*);
    }};
}

mod cli;
mod config;
mod connect;
mod diagnostics;
mod driver;
mod extra_vars;
mod lock;
mod output;
mod plan;
mod scale;

use clap::Parser;

fn main() {
    // rsync's remote shell for `synchronize` (see prov_modules::files::rsync_bridge): not a
    // command for people, so not in the CLI's help.
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    if args.get(1).is_some_and(|a| a == prov_modules::files::rsync_bridge::RSH_ARG) {
        std::process::exit(prov_modules::files::rsync_bridge::rsh_main(&args[2..]));
    }
    let cli = match cli::Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            // Help and --version go to stdout with 0; a bad command line is bad input, exit 4
            // (clap's own 2 means "a host failed" here).
            let code = if e.use_stderr() { driver::EXIT_BAD_INPUT } else { 0 };
            let _ = e.print();
            std::process::exit(code);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            say_err!("prov: cannot start the async runtime: {e}");
            std::process::exit(1);
        }
    };
    let code = runtime.block_on(driver::main(cli));
    std::process::exit(code);
}
