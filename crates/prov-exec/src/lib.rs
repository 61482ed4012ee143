//! prov's executor (work in progress: event.rs, facts.rs, runner.rs and task.rs are written
//! against prov-core's compiler and are wired in once the inventory model lands).
#![deny(missing_docs)]
