//! A fake of Google Compute Engine's REST API (`/compute/v1`), implementing only what prov
//! calls, with the request and response shapes of Google's REST reference, and faults to
//! inject. Tests start it in-process with [`start`]; `prov-gcp-fake` runs it as a program.
//!
//! Point google-cloud-compute-v1 at it with `with_endpoint("http://ADDR")` and anonymous
//! credentials. It keeps everything in memory; any project name works.
//!
//! # What it implements
//!
//! Paths under `/compute/v1/projects/{project}`:
//!
//! | method | path | notes |
//! |---|---|---|
//! | POST | `zones/{zone}/instances` | insert → Operation; 409 `alreadyExists`; 400 for a bad name, unknown machine type, no boot disk or no network interface; 404 for a malformed image reference; `networkIP` (from a reserved INTERNAL address or free) and `accessConfigs[].natIP` (a reserved EXTERNAL address, or an ephemeral one) |
//! | GET | `zones/{zone}/instances` | list with `filter`, `maxResults` (≤ 500), `pageToken` |
//! | GET | `aggregated/instances` | the same over all zones: `items["zones/Z"]` holds `instances` or a `NO_RESULTS_ON_PAGE` warning |
//! | GET | `zones/{zone}/instances/{name}` | 404 `notFound` |
//! | DELETE | `zones/{zone}/instances/{name}` | → Operation; frees the reserved addresses it used |
//! | POST | `zones/{zone}/instances/{name}/start`, `/stop` | → Operation; RUNNING/TERMINATED already: no-op; an ephemeral external address is released on stop and a new one given on start |
//! | POST | `zones/{zone}/instances/{name}/setLabels`, `/setTags` | 412 `conditionNotMet` on a stale fingerprint |
//! | GET | `zones/{zone}/instances/{name}/getGuestAttributes?queryPath=hostkeys/` | an `ssh-ed25519` key, once the instance runs, when its metadata has `enable-guest-attributes=TRUE`; else 404 |
//! | GET, POST | `zones/{zone}/operations/{op}`, `.../wait` | |
//! | POST | `regions/{region}/addresses` | insert → Operation; EXTERNAL (from 203.0.113.0/24) or INTERNAL (from the region's subnet) with or without `address`; 409 |
//! | GET | `regions/{region}/addresses`, `.../{name}` | list with `filter`, `maxResults`, `pageToken`; get |
//! | DELETE | `regions/{region}/addresses/{name}` | → Operation; 400 `resourceInUseByAnotherResource` while an instance uses it |
//! | GET, POST | `regions/{region}/operations/{op}`, `.../wait` | |
//! | POST | `zones/{zone}/disks` | insert → Operation; blank disk, `sizeGb` default 500, `type` default pd-standard; 409; 400 for a bad name, size or type |
//! | GET | `zones/{zone}/disks`, `.../{name}` | list with `filter`, `maxResults`, `pageToken`; get (`users`: the instances it is attached to) |
//! | DELETE | `zones/{zone}/disks/{name}` | → Operation; 400 `resourceInUseByAnotherResource` while attached |
//! | POST, GET, PATCH, DELETE | `global/firewalls`, `.../{name}` | insert, list (`filter`, paging), get, patch (the fields sent replace the rule's), delete → Operation; defaults as the API's (`direction` INGRESS, `priority` 1000, `sourceRanges` 0.0.0.0/0 for an ingress rule without sources, `logConfig.enable` false); 409; 400 for a bad name, a network not in `global/networks/`, both or neither of `allowed`/`denied` |
//! | GET, POST | `global/operations/{op}`, `.../wait` | |
//! | POST | `zones/{zone}/disks/{name}/setLabels`, `/resize` | → Operation; 412 `conditionNotMet` on a stale label fingerprint; a size must grow (400) |
//! | POST | `zones/{zone}/instances/{name}/attachDisk`, `/detachDisk?deviceName=D` | → Operation; a READ_WRITE disk attached elsewhere is `resourceInUseByAnotherResource`; deleting an instance detaches its disks |
//!
//! Anything else is a 404 that names the method and path.
//!
//! Behaviour worth knowing:
//!
//! * Operations go PENDING → RUNNING → DONE, one step per `get` or `wait` of the operation
//!   (a real `wait` may also return before DONE: loop until DONE). A `get` of an instance or
//!   address moves the operation changing it one step too. Instances go PROVISIONING →
//!   STAGING → RUNNING while their insert runs, STOPPING → TERMINATED on stop, STAGING →
//!   RUNNING on start, STOPPING → gone on delete; addresses RESERVING → RESERVED (IN_USE
//!   while an instance uses them).
//! * Ids are numbers sent as strings; `selfLink`, `zone`, `region`, `machineType`,
//!   `targetLink` are full URLs (`https://www.googleapis.com/compute/v1/...`);
//!   fingerprints are URL-safe base64.
//! * Errors: `{"error":{"code","message","status","errors":[{"message","domain","reason"}]}}`.
//!   A failed operation has `error.errors[{code,message,errorDetails}]`,
//!   `httpErrorStatusCode` and `httpErrorMessage`.
//! * A mutation repeated with the same `requestId` query parameter gets the operation of
//!   the first one (as the API does), so a retried insert makes one instance.
//! * Filters: see [`filter`]. `$alt`, `$apiVersion` and other unknown query parameters are
//!   ignored.
//! * Zones: [`state::ZONES`]; regions are these without the last `-x`; the default
//!   subnetwork of region number *i* is 10.(128+*i*).0.0/20. Machine types:
//!   [`state::MACHINE_TYPES`]. Boot images are checked for their shape only.
//! * Authorization headers are not checked.
//!
//! # Faults (admin endpoints under `/prov-fake/v1/`, or the [`Fake`] methods)
//!
//! | request | effect |
//! |---|---|
//! | `POST faults/quota/{instance}` | the next insert of that instance name is accepted, then its operation ends with a `QUOTA_EXCEEDED` error (HTTP 403 in the operation) and no instance |
//! | `DELETE faults/quota/{instance}` | clears that |
//! | `POST faults/throttle` `{"status":429\|503,"count":N}` | the next N API requests get 429 `rateLimitExceeded` (or 503 `backendError`) |
//! | `POST faults/no-hostkeys/{instance}` | that instance's guest agent publishes no host keys |
//! | `DELETE faults` | clears every fault |
//! | `GET stats` | `{"requests","throttled","inserts"}` |
//! | `POST reset` | forgets everything |
#![deny(missing_docs)]

pub mod addresses;
pub mod disks;
pub mod error;
pub mod filter;
pub mod firewalls;
pub mod http;
pub mod instances;
pub mod state;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

pub use state::Stats;

/// A running fake; stops when dropped.
#[derive(Debug)]
pub struct Fake {
    addr: SocketAddr,
    state: http::Shared,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

/// Starts a fake on 127.0.0.1 (a free port) in a thread of its own, so sync and async
/// callers alike can use it.
pub fn start() -> std::io::Result<(SocketAddr, Fake)> {
    start_on("127.0.0.1:0".parse().expect("a literal socket address"))
}

/// Starts a fake on `addr`.
pub fn start_on(addr: SocketAddr) -> std::io::Result<(SocketAddr, Fake)> {
    let listener = std::net::TcpListener::bind(addr)?;
    listener.set_nonblocking(true)?;
    let addr = listener.local_addr()?;
    let state: http::Shared = Arc::new(Mutex::new(state::State::default()));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let app = axum::Router::new().fallback(http::handle).with_state(state.clone());
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let thread = std::thread::Builder::new().name("prov-gcp-fake".into()).spawn(move || {
        runtime.block_on(async move {
            let Ok(listener) = tokio::net::TcpListener::from_std(listener) else { return };
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    let _ = stopped.await;
                })
                .await;
        })
    })?;
    Ok((addr, Fake { addr, state, stop: Some(stop), thread: Some(thread) }))
}

impl Fake {
    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The endpoint to give the client (`http://127.0.0.1:PORT`).
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    fn with<T>(&self, f: impl FnOnce(&mut state::State) -> T) -> T {
        let mut st = self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        f(&mut st)
    }

    /// The next insert of instance `name` fails with QUOTA_EXCEEDED.
    pub fn fail_insert_with_quota(&self, name: &str) {
        self.with(|st| st.faults.quota.insert(name.to_string()));
    }

    /// The next `count` requests get HTTP `status` (429 or 503).
    pub fn throttle(&self, status: u16, count: u32) {
        self.with(|st| st.faults.throttle = (count > 0).then_some((status, count)));
    }

    /// Instance `name` publishes no host keys.
    pub fn hide_host_keys(&self, name: &str) {
        self.with(|st| st.faults.no_hostkeys.insert(name.to_string()));
    }

    /// Clears every fault.
    pub fn clear_faults(&self) {
        self.with(|st| st.faults = Default::default());
    }

    /// Counters.
    pub fn stats(&self) -> Stats {
        self.with(|st| st.stats)
    }

    /// Every instance of `project` as the API shows it, by name.
    pub fn instances(&self, project: &str) -> Vec<serde_json::Value> {
        self.with(|st| st.instances.iter().filter(|((p, _, _), _)| p == project).map(|(_, i)| i.json.clone()).collect())
    }

    /// Every disk of `project`, by zone then name.
    pub fn disks(&self, project: &str) -> Vec<serde_json::Value> {
        self.with(|st| st.disks.iter().filter(|((p, _, _), _)| p == project).map(|(_, d)| d.json.clone()).collect())
    }

    /// Every address of `project`, by region then name.
    pub fn addresses(&self, project: &str) -> Vec<serde_json::Value> {
        self.with(|st| st.addresses.iter().filter(|((p, _, _), _)| p == project).map(|(_, a)| a.json.clone()).collect())
    }
}

impl Drop for Fake {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
