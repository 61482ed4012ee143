//! `systemd`: the name ansible-core keeps for `systemd_service` (ansible.builtin.systemd): the same
//! module, with the same arguments, results and differences from Ansible; see
//! [systemd_service](systemd_service.md).
//!
//! ```yaml
//! - systemd: { name: nginx, state: reloaded }
//! ```

use super::systemd_service::{Args, SystemdPlan, SystemdService};
use async_trait::async_trait;
use prov_core::module::{Module, ModuleCtx, ModuleError, Outcome, Plan};

/// The `systemd` module: [`SystemdService`] under its older name.
#[derive(Debug, Default)]
pub struct Systemd;

#[async_trait]
impl Module for Systemd {
    const NAME: &'static str = "systemd";
    type Args = Args;
    type Plan = SystemdPlan;

    fn check_args(a: &Args) -> Result<(), String> {
        SystemdService::check_args(a)
    }

    async fn plan(&self, a: &Args, cx: &ModuleCtx<'_>) -> Result<Plan<SystemdPlan>, ModuleError> {
        SystemdService.plan(a, cx).await
    }

    async fn apply(&self, a: &Args, plan: SystemdPlan, cx: &ModuleCtx<'_>) -> Result<Outcome, ModuleError> {
        SystemdService.apply(a, plan, cx).await
    }
}
