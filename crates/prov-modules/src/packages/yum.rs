//! `yum`: ansible-core 2.19 redirects `yum` to `dnf`; so does prov: the same module, with the
//! same arguments, results and differences from Ansible; see [dnf](dnf.md).
//!
//! ```yaml
//! - yum: { name: httpd, state: latest }
//! ```

use super::dnf::{Args, Dnf};
use async_trait::async_trait;
use prov_core::module::{Module, ModuleCtx, ModuleError, Outcome, Plan};

/// The `yum` module: [`Dnf`] under the name ansible-core redirects.
#[derive(Debug, Default)]
pub struct Yum;

#[async_trait]
impl Module for Yum {
    const NAME: &'static str = "yum";
    type Args = Args;
    type Plan = ();

    fn check_args(a: &Args) -> Result<(), String> {
        Dnf::check_args(a)
    }

    async fn plan(&self, a: &Args, cx: &ModuleCtx<'_>) -> Result<Plan<()>, ModuleError> {
        Dnf.plan(a, cx).await
    }

    async fn apply(&self, a: &Args, p: (), cx: &ModuleCtx<'_>) -> Result<Outcome, ModuleError> {
        Dnf.apply(a, p, cx).await
    }
}
