//! Container modules: docker swarm services and stacks, driven through the docker CLI on the target.

pub mod cli;
pub mod docker_service;
pub mod docker_stack;
#[cfg(test)]
mod testconn;
