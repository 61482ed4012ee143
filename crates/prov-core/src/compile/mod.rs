//! The compiler: playbook files → [`model::CompiledPlaybook`] (pass 1, host-independent) →
//! [`bind::BoundPlay`] per play (pass 2, hosts and cross-host edges).

pub mod bind;
pub mod keywords;
pub mod kv;
pub mod load;
pub mod model;
pub mod scan;
#[cfg(test)]
mod tests;

pub use bind::{bind, bind_sitting_out, BoundPlay, GraphEdge, GraphNode, Wait, WaitCycle, WaitReason};
pub use load::{
    compile_playbook, is_identifier, is_python_name, CompileOptions, PlayDefaults, PromptRequest, Prompter,
};
pub use model::*;
