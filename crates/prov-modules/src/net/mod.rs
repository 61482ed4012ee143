//! Network modules: `wait_for` and `uri`, both run on the target with its own tools.

pub mod uri;
pub mod wait_for;
