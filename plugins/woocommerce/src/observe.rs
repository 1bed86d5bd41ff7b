//! `observe`: the store's phase from its objects.

use storeplane_plugin_sdk::readiness::{Readiness, Workload, observe_all, stuck_release_container};
use storeplane_plugin_sdk::{Host, Observation, Result, Store};

use crate::{CHART, Config, Names, helm_values, release_name};

/// Ready when MySQL, WordPress and the setup Job are all done; Failed when
/// the Job gave up, WordPress cannot progress or a container is stuck;
/// otherwise Provisioning with what it still waits for.
pub(crate) fn observe(host: &dyn Host, store: &Store<Config>) -> Result<Observation> {
    let release = release_name(store);
    if host.helm_status(&release)?.is_none() {
        return Ok(Observation::provisioning(
            "the release is not installed yet",
        ));
    }
    let names = Names::new(&release);
    let values = helm_values(store);
    let job_name = names.setup_job(values["setup"]["jobSuffix"].as_str().unwrap_or_default());
    let workloads = [
        Workload::job("setup", &job_name),
        Workload::stateful_set("MySQL", &names.mysql),
        Workload::deployment("WordPress", &names.wordpress),
    ];
    let waiting = match observe_all(host, &workloads)? {
        Readiness::Ready => {
            return Ok(
                Observation::ready("MySQL ready, WordPress available, WooCommerce set up")
                    .storefront_url(store.url("/"))
                    .admin_url(store.url("/wp-admin/"))
                    .credentials_secret(names.admin_secret),
            );
        }
        Readiness::Failed { reason, message } => return Ok(Observation::failed(reason, message)),
        Readiness::Waiting(what) => what,
    };
    // Workloads only give up after long deadlines; a Pod that cannot pull
    // its image or keeps crashing says so at once.
    if let Some((reason, message)) = stuck_release_container(host, CHART, &release)? {
        return Ok(Observation::failed(reason, message));
    }
    Ok(Observation::provisioning(format!("waiting for {waiting}")))
}
