//! `observe`: the store's phase from its objects.

use storeplane_plugin_sdk::objects::{WorkloadHealth, deployment_health, stuck_container};
use storeplane_plugin_sdk::{Host, Observation, Result, Store};

use crate::{CHART, Config, Names, helm_values, release_name};
use storeplane_plugin_sdk::objects::{JobHealth, SetHealth, job_health, statefulset_health};

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

    let mut waiting = Vec::new();
    let mut done = 0;
    match host.kube_get("batch/v1", "Job", &job_name)? {
        None => waiting.push(format!("init Job {job_name} to be created")),
        Some(job) => match job_health(&job) {
            JobHealth::Complete => done += 1,
            JobHealth::Failed { reason, message } => {
                return Ok(Observation::failed(
                    "SetupJobFailed",
                    format!(
                        "init Job {job_name} failed ({reason}): {message}; \
                         its Pod logs name the step that failed"
                    ),
                ));
            }
            JobHealth::Running { active, failed } => waiting.push(format!(
                "init Job {job_name} (migrations, admin user, seed, publishable key; \
                 {active} running, {failed} failed attempts)"
            )),
        },
    }

    match host.kube_get("apps/v1", "StatefulSet", &names.postgres)? {
        None => waiting.push(format!("StatefulSet {} to be created", names.postgres)),
        Some(set) => match statefulset_health(&set) {
            SetHealth::Ready => done += 1,
            SetHealth::Waiting { ready, desired } => {
                waiting.push(format!("PostgreSQL ({ready}/{desired} ready)"));
            }
        },
    }

    for (label, name) in [
        ("Redis", &names.redis),
        ("backend", &names.backend),
        ("storefront", &names.storefront),
    ] {
        match host.kube_get("apps/v1", "Deployment", name)? {
            None => waiting.push(format!("Deployment {name} to be created")),
            Some(deployment) => match deployment_health(&deployment) {
                WorkloadHealth::Available { .. } => done += 1,
                WorkloadHealth::Failed { reason, message } => {
                    return Ok(Observation::failed(
                        reason,
                        format!("{label} Deployment {name}: {message}"),
                    ));
                }
                WorkloadHealth::Progressing { message } => {
                    waiting.push(format!("{label} ({message})"));
                }
            },
        }
    }

    if done == 5 {
        return Ok(Observation::ready(
            "PostgreSQL, Redis, backend and storefront up; database migrated and seeded",
        )
        .storefront_url(store.url("/"))
        .admin_url(store.url("/app"))
        .credentials_secret(names.admin_secret));
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
