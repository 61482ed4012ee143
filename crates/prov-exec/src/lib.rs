//! prov's executor: walks a bound play concurrently, one worker per host, and reports
//! [`event::Event`]s. Hosts never wait for each other except where the bound play's waits say.
#![deny(missing_docs)]

pub mod event;
pub mod facts;
pub mod runner;
mod task;

pub use event::{Event, EventSink, HostRecap};
pub use runner::{run_play, Connector, Fatal, HostPersist, Interrupt, PlayEnv, PlayResult, RunOptions};
