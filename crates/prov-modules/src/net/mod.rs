//! Network modules: `wait_for`, `uri` and `get_url`, all run on the target with its own tools.

pub mod get_url;
pub mod uri;
pub mod wait_for;
