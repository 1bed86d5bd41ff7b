//! `observe`: the store's phase from its objects.

use storeplane_plugin_sdk::readiness::{Readiness, Workload, observe_all, stuck_release_container};
use storeplane_plugin_sdk::{Host, Observation, Result, Store};

use crate::{CHART, Config, Names, helm_values, release_name};

/// Ready when PostgreSQL, Redis, the backend, the storefront and the init
/// Job are all done; Failed when the Job gave up, a Deployment cannot
/// progress or a container is stuck; otherwise Provisioning with what it
/// still waits for.
pub(crate) fn observe(host: &dyn Host, store: &Store<Config>) -> Result<Observation> {
    let release = release_name(store);
    if host.helm_status(&release)?.is_none() {
        return Ok(Observation::provisioning(
            "the release is not installed yet",
        ));
    }
    let names = Names::new(&release);
    let values = helm_values(store)?;
    let job_name = names.init_job(values["init"]["jobSuffix"].as_str().unwrap_or_default());
    let workloads = [
        Workload::job("init", &job_name).doing("migrations, admin user, seed, publishable key"),
        Workload::stateful_set("PostgreSQL", &names.postgres),
        Workload::deployment("Redis", &names.redis),
        Workload::deployment("backend", &names.backend),
        Workload::deployment("storefront", &names.storefront),
    ];
    let waiting = match observe_all(host, &workloads)? {
        Readiness::Ready => {
            return Ok(Observation::ready(
                "PostgreSQL, Redis, backend and storefront up; database migrated and seeded",
            )
            .storefront_url(store.url("/"))
            .admin_url(store.url("/app"))
            .credentials_secret(names.admin_secret));
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
