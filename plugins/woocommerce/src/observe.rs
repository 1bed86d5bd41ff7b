//! `observe`: the store's phase from its objects.

use storeplane_plugin_sdk::objects::{WorkloadHealth, deployment_health, stuck_container};
use storeplane_plugin_sdk::{Host, Observation, Result, Store};

use crate::{CHART, Config, Names, helm_values, release_name};
use storeplane_plugin_sdk::objects::{JobHealth, SetHealth, job_health, statefulset_health};

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

    let mut waiting = Vec::new();
    let mut job_done = false;
    match host.kube_get("batch/v1", "Job", &job_name)? {
        None => waiting.push(format!("setup Job {job_name} to be created")),
        Some(job) => match job_health(&job) {
            JobHealth::Complete => job_done = true,
            JobHealth::Failed { reason, message } => {
                return Ok(Observation::failed(
                    "SetupJobFailed",
                    format!(
                        "setup Job {job_name} failed ({reason}): {message}; \
                         its Pod logs name the step that failed"
                    ),
                ));
            }
            JobHealth::Running { active, failed } => waiting.push(format!(
                "setup Job {job_name} ({active} running, {failed} failed attempts)"
            )),
        },
    }

    let mut mysql_ready = false;
    match host.kube_get("apps/v1", "StatefulSet", &names.mysql)? {
        None => waiting.push(format!("StatefulSet {} to be created", names.mysql)),
        Some(set) => match statefulset_health(&set) {
            SetHealth::Ready => mysql_ready = true,
            SetHealth::Waiting { ready, desired } => {
                waiting.push(format!("MySQL ({ready}/{desired} ready)"));
            }
        },
    }

    let mut wordpress_available = false;
    match host.kube_get("apps/v1", "Deployment", &names.wordpress)? {
        None => waiting.push(format!("Deployment {} to be created", names.wordpress)),
        Some(deployment) => match deployment_health(&deployment) {
            WorkloadHealth::Available { .. } => wordpress_available = true,
            WorkloadHealth::Failed { reason, message } => {
                return Ok(Observation::failed(
                    reason,
                    format!("WordPress Deployment {}: {message}", names.wordpress),
                ));
            }
            WorkloadHealth::Progressing { message } => {
                waiting.push(format!("WordPress ({message})"));
            }
        },
    }

    if job_done && mysql_ready && wordpress_available {
        return Ok(
            Observation::ready("MySQL ready, WordPress available, WooCommerce set up")
                .storefront_url(store.url("/"))
                .admin_url(store.url("/wp-admin/"))
                .credentials_secret(names.admin_secret),
        );
    }

    // Workloads only give up after long deadlines; a Pod that cannot pull
    // its image or keeps crashing says so at once.
    let selector = format!("app.kubernetes.io/name={CHART},app.kubernetes.io/instance={release}");
    let pods = host.kube_list("v1", "Pod", Some(&selector))?;
    if let Some((reason, message)) = stuck_container(&pods) {
        return Ok(Observation::failed(reason, message));
    }
    Ok(Observation::provisioning(format!(
        "waiting for {}",
        waiting.join("; ")
    )))
}
