//! `observe`: the store's phase from its objects.

use storeplane_plugin_sdk::readiness::{
    Readiness, Workload, observe_all, observe_paused as observe_paused_store,
    stuck_release_container,
};
use storeplane_plugin_sdk::{Host, Observation, Phase, Result, Store};

use crate::{CHART, Config, Names, helm_values, release_name, site_url};

/// Ready when MySQL, WordPress and the setup Job are all done; Failed when
/// the Job gave up, WordPress cannot progress or a container is stuck;
/// otherwise Provisioning with what it still waits for. A suspended store
/// is observed by [`observe_paused`] instead.
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
    if store.suspended {
        return observe_paused(host, store, &names, &job_name);
    }
    let workloads = [
        Workload::job("setup", &job_name),
        Workload::stateful_set("MySQL", &names.mysql),
        Workload::deployment("WordPress", &names.wordpress),
    ];
    let waiting = match observe_all(host, &workloads)? {
        Readiness::Ready => {
            return Ok(with_urls(
                Observation::ready("MySQL ready, WordPress available, WooCommerce set up"),
                store,
                &names,
            ));
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

/// A suspended store: Suspended once MySQL and WordPress run no replica, no
/// setup Pod runs and the paused page is available; Failed when the paused
/// page cannot come up; otherwise Provisioning with what the pause waits
/// for. The URLs stay reported: they answer with the paused page.
fn observe_paused(
    host: &dyn Host,
    store: &Store<Config>,
    names: &Names,
    job_name: &str,
) -> Result<Observation> {
    let page_pods = format!(
        "app.kubernetes.io/name={CHART},app.kubernetes.io/instance={},app.kubernetes.io/component=paused",
        release_name(store)
    );
    let observed = observe_paused_store(
        host,
        &[
            Workload::stateful_set("MySQL", &names.mysql),
            Workload::deployment("WordPress", &names.wordpress),
            Workload::job("setup", job_name),
        ],
        &Workload::deployment("the paused page", &names.paused),
        &page_pods,
    )?;
    Ok(if observed.phase == Phase::Failed {
        observed
    } else {
        with_urls(observed, store, names)
    })
}

/// The shop's addresses (on its canonical host) and the admin credentials.
fn with_urls(observation: Observation, store: &Store<Config>, names: &Names) -> Observation {
    let url = site_url(store);
    observation
        .storefront_url(format!("{url}/"))
        .admin_url(format!("{url}/wp-admin/"))
        .credentials_secret(names.admin_secret.clone())
}
