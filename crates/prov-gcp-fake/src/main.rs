//! `prov-gcp-fake [ADDR]`: serves the Compute Engine fake on ADDR (default 127.0.0.1:8087)
//! until killed, for trying prov's `gcp` provider by hand:
//!
//! ```sh
//! prov-gcp-fake 127.0.0.1:8087 &
//! PROV_GCP_ENDPOINT=http://127.0.0.1:8087 prov inventory -i inventories/gcp.yml --graph
//! curl -X POST http://127.0.0.1:8087/prov-fake/v1/faults/quota/worker3   # a fault
//! ```

fn main() {
    let arg = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:8087".into());
    let addr = match arg.parse() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("prov-gcp-fake: `{arg}` is not an address such as 127.0.0.1:8087: {e}");
            std::process::exit(5);
        }
    };
    match prov_gcp_fake::start_on(addr) {
        Ok((addr, _fake)) => {
            println!("prov-gcp-fake listening on http://{addr}");
            loop {
                std::thread::park();
            }
        }
        Err(e) => {
            eprintln!("prov-gcp-fake: cannot listen on {addr}: {e}");
            std::process::exit(1);
        }
    }
}
