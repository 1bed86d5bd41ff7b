//! Every common kubectl verb, in one namespace, compared by exit code and
//! normalised output. Tables are compared cell by cell with the AGE values
//! replaced (column widths follow the widest cell, an age among them);
//! `describe` with alignment dropped; `rollout status` by its last line
//! (the progress lines before it depend on timing).

use anyhow::Result;
use serde_json::{Value, json};

use crate::{Steps, cluster::Target, normalize};

/// How a command's output is compared.
#[derive(Clone, Copy)]
enum Compare {
    /// Exit code, stdout and stderr as text.
    Text,
    /// stdout as a table (rows of cells).
    Table,
    /// stdout as JSON.
    Json,
    /// stdout as `describe` output.
    Describe,
    /// Only the last line of stdout.
    LastLine,
    /// Only the exit code and stderr.
    Fails,
}

/// Runs one command and records it.
async fn step(
    t: &Target,
    steps: &mut Steps,
    name: &str,
    args: &[&str],
    compare: Compare,
    env: &[(&str, &str)],
) -> Result<String> {
    let run = t.kubectl(args, env, None).await?;
    let outcome = match compare {
        Compare::Text => normalize::kubectl(&run),
        Compare::Table => {
            json!({"exit": run.code, "rows": normalize::table(&run.stdout), "stderr": normalize::text(&run.stderr)})
        }
        Compare::Json => json!({
            "exit": run.code,
            "json": serde_json::from_str::<Value>(&run.stdout).map(|v| normalize::value(&v)).unwrap_or_else(|_| json!(run.stdout)),
            "stderr": normalize::text(&run.stderr),
        }),
        Compare::Describe => {
            json!({"exit": run.code, "lines": normalize::describe(&run.stdout), "stderr": normalize::text(&run.stderr)})
        }
        Compare::LastLine => json!({
            "exit": run.code,
            "last": normalize::text(run.stdout.lines().last().unwrap_or_default()),
            "stderr": normalize::text(&run.stderr),
        }),
        Compare::Fails => json!({"exit": run.code, "stderr": normalize::text(&run.stderr)}),
    };
    steps.record(name, json!({"args": args, "outcome": outcome}));
    Ok(run.stdout)
}

/// `kubectl version`: the server's version fields. The build identity
/// (commit, date, Go version, compiler) differs by nature, and the
/// simulator marks its gitVersion with build metadata
/// (`v1.37.2+storeplane-sim`): the release it models is compared.
fn server_version(run: &crate::cluster::KubectlRun) -> Value {
    let parsed: Value = serde_json::from_str(&run.stdout).unwrap_or_default();
    let mut server = parsed["serverVersion"].clone();
    if let Some(fields) = server.as_object_mut() {
        for build in ["gitCommit", "buildDate", "goVersion", "compiler"] {
            if fields.contains_key(build) {
                fields.insert(build.to_owned(), json!("<build>"));
            }
        }
        if let Some(Value::String(version)) = fields.get_mut("gitVersion") {
            *version = version.split('+').next().unwrap_or_default().to_owned();
        }
    }
    json!({"exit": run.code, "serverVersion": server, "stderr": normalize::text(&run.stderr)})
}

/// `kubectl api-resources` as a table. A real cluster also lists
/// `bindings` (the scheduler's) and `tokenreviews` (authentication), which
/// the simulator deliberately does not serve (no scheduler, no
/// authentication; see its README): those rows are left out.
fn api_resources(run: &crate::cluster::KubectlRun) -> Value {
    let rows = normalize::table(&run.stdout);
    let rows: Vec<Value> = rows
        .as_array()
        .into_iter()
        .flatten()
        .filter(|row| !matches!(row[0].as_str(), Some("bindings" | "tokenreviews")))
        .cloned()
        .collect();
    json!({"exit": run.code, "rows": rows, "stderr": normalize::text(&run.stderr)})
}

/// `kubectl diff` prints the temporary directories it compared.
fn diff_output(text: &str) -> String {
    regex::Regex::new(r"/tmp/(LIVE|MERGED)-\d+")
        .map(|r| r.replace_all(text, "/tmp/$1-<n>").into_owned())
        .unwrap_or_else(|_| text.to_owned())
}

/// The kubectl steps.
pub async fn run(t: &Target, steps: &mut Steps) -> Result<()> {
    use Compare::*;
    let ns = t.ns("kubectl");
    let n = ns.as_str();
    std::fs::write(
        t.work.join("manifest.yaml"),
        format!(
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: cm2, namespace: {n}}}\ndata: {{k: v}}\n\
             ---\napiVersion: v1\nkind: Service\nmetadata: {{name: svc, namespace: {n}}}\n\
             spec: {{selector: {{app: web}}, ports: [{{port: 80}}]}}\n"
        ),
    )?;
    std::fs::write(
        t.work.join("server-side.yaml"),
        format!(
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: cm3, namespace: {n}}}\ndata: {{k: v}}\n"
        ),
    )?;
    std::fs::write(
        t.work.join("changed.yaml"),
        format!(
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: cm2, namespace: {n}}}\ndata: {{k: changed}}\n"
        ),
    )?;
    let (manifest, server_side, changed) = ("manifest.yaml", "server-side.yaml", "changed.yaml");

    let version = t.kubectl(&["version", "-o", "json"], &[], None).await?;
    steps.record("version", server_version(&version));
    step(t, steps, "api-versions", &["api-versions"], Text, &[]).await?;
    let resources = t.kubectl(&["api-resources"], &[], None).await?;
    steps.record("api-resources", api_resources(&resources));
    step(
        t,
        steps,
        "create-namespace",
        &["create", "namespace", n],
        Text,
        &[],
    )
    .await?;
    // Pods wait for the namespace's `default` ServiceAccount on a real
    // cluster; the Deployment's rollout below absorbs that.
    step(
        t,
        steps,
        "create-configmap",
        &["create", "configmap", "cm1", "--from-literal=a=1", "-n", n],
        Text,
        &[],
    )
    .await?;
    step(
        t,
        steps,
        "create-secret",
        &[
            "create",
            "secret",
            "generic",
            "s1",
            "--from-literal=p=x",
            "-n",
            n,
        ],
        Text,
        &[],
    )
    .await?;
    step(
        t,
        steps,
        "create-deployment",
        &["create", "deployment", "web", "--image=nginx:1.27", "-n", n],
        Text,
        &[],
    )
    .await?;
    step(t, steps, "apply", &["apply", "-f", manifest], Text, &[]).await?;
    step(
        t,
        steps,
        "apply-again",
        &["apply", "-f", manifest],
        Text,
        &[],
    )
    .await?;
    step(
        t,
        steps,
        "apply-server-side",
        &["apply", "--server-side", "-f", server_side],
        Text,
        &[],
    )
    .await?;
    step(
        t,
        steps,
        "get-yaml",
        &["get", "configmap", "cm1", "-n", n, "-o", "yaml"],
        Text,
        &[],
    )
    .await?;
    step(
        t,
        steps,
        "get-json",
        &["get", "configmap", "cm2", "-n", n, "-o", "json"],
        Json,
        &[],
    )
    .await?;
    step(
        t,
        steps,
        "get-table",
        &["get", "configmaps", "-n", n],
        Table,
        &[],
    )
    .await?;
    step(
        t,
        steps,
        "get-secrets-table",
        &["get", "secrets", "-n", n],
        Table,
        &[],
    )
    .await?;
    step(
        t,
        steps,
        "get-service-wide",
        &["get", "service", "svc", "-n", n, "-o", "wide"],
        Table,
        &[],
    )
    .await?;
    step(
        t,
        steps,
        "get-jsonpath",
        &[
            "get",
            "configmap",
            "cm1",
            "-n",
            n,
            "-o",
            "jsonpath={.data.a}",
        ],
        Text,
        &[],
    )
    .await?;
    step(
        t,
        steps,
        "get-missing",
        &["get", "configmap", "nope", "-n", n],
        Text,
        &[],
    )
    .await?;
    step(
        t,
        steps,
        "describe-configmap",
        &["describe", "configmap", "cm1", "-n", n],
        Describe,
        &[],
    )
    .await?;
    step(
        t,
        steps,
        "describe-namespace",
        &["describe", "namespace", n],
        Describe,
        &[],
    )
    .await?;
    step(
        t,
        steps,
        "patch-strategic",
        &[
            "patch",
            "configmap",
            "cm1",
            "-n",
            n,
            "-p",
            r#"{"data":{"b":"2"}}"#,
        ],
        Text,
        &[],
    )
    .await?;
    step(
        t,
        steps,
        "patch-no-change",
        &[
            "patch",
            "configmap",
            "cm1",
            "-n",
            n,
            "-p",
            r#"{"data":{"b":"2"}}"#,
        ],
        Text,
        &[],
    )
    .await?;
    step(
        t,
        steps,
        "patch-merge",
        &[
            "patch",
            "configmap",
            "cm1",
            "-n",
            n,
            "--type=merge",
            "-p",
            r#"{"data":{"c":"3"}}"#,
        ],
        Text,
        &[],
    )
    .await?;
    step(
        t,
        steps,
        "patch-json",
        &[
            "patch",
            "configmap",
            "cm1",
            "-n",
            n,
            "--type=json",
            "-p",
            r#"[{"op":"remove","path":"/data/c"}]"#,
        ],
        Text,
        &[],
    )
    .await?;
    step(
        t,
        steps,
        "label",
        &["label", "configmap", "cm1", "-n", n, "tier=x"],
        Text,
        &[],
    )
    .await?;
    step(
        t,
        steps,
        "label-remove",
        &["label", "configmap", "cm1", "-n", n, "tier-"],
        Text,
        &[],
    )
    .await?;
    step(
        t,
        steps,
        "annotate",
        &["annotate", "configmap", "cm1", "-n", n, "note=y"],
        Text,
        &[],
    )
    .await?;
    step(
        t,
        steps,
        "get-after-edits",
        &[
            "get",
            "configmap",
            "cm1",
            "-n",
            n,
            "-o",
            "jsonpath={.data} {.metadata.labels} {.metadata.annotations}",
        ],
        Text,
        &[],
    )
    .await?;
    step(
        t,
        steps,
        "edit-unchanged",
        &["edit", "configmap", "cm1", "-n", n],
        Text,
        &[("KUBE_EDITOR", "true"), ("EDITOR", "true")],
    )
    .await?;
    step(
        t,
        steps,
        "scale",
        &["scale", "deployment", "web", "-n", n, "--replicas=2"],
        Text,
        &[],
    )
    .await?;
    step(
        t,
        steps,
        "rollout-status",
        &[
            "rollout",
            "status",
            "deployment/web",
            "-n",
            n,
            "--timeout=90s",
        ],
        LastLine,
        &[],
    )
    .await?;
    step(
        t,
        steps,
        "wait-available",
        &[
            "wait",
            "--for=condition=Available",
            "deployment/web",
            "-n",
            n,
            "--timeout=90s",
        ],
        Text,
        &[],
    )
    .await?;
    step(
        t,
        steps,
        "get-deployment-wide",
        &["get", "deployment", "web", "-n", n, "-o", "wide"],
        Table,
        &[],
    )
    .await?;
    step(
        t,
        steps,
        "get-pods-phase",
        &[
            "get",
            "pods",
            "-n",
            n,
            "-l",
            "app=web",
            "-o",
            "jsonpath={range .items[*]}{.status.phase}{\"\\n\"}{end}",
        ],
        Text,
        &[],
    )
    .await?;
    step(
        t,
        steps,
        "diff-unchanged",
        &["diff", "-f", manifest],
        Text,
        &[],
    )
    .await?;
    let diffed = t.kubectl(&["diff", "-f", changed], &[], None).await?;
    steps.record(
        "diff-changed",
        json!({"exit": diffed.code, "stdout": normalize::text(&diff_output(&diffed.stdout)), "stderr": normalize::text(&diffed.stderr)}),
    );
    step(
        t,
        steps,
        "explain-field",
        &["explain", "deployment.spec.replicas"],
        Text,
        &[],
    )
    .await?;
    step(
        t,
        steps,
        "explain-kind",
        &["explain", "configmap"],
        Text,
        &[],
    )
    .await?;
    step(
        t,
        steps,
        "auth-can-i",
        &["auth", "can-i", "create", "pods", "-n", n],
        Text,
        &[],
    )
    .await?;
    step(
        t,
        steps,
        "auth-can-i-everything",
        &["auth", "can-i", "*", "*"],
        Text,
        &[],
    )
    .await?;
    step(
        t,
        steps,
        "get-watch-with-timeout",
        &["get", "configmaps", "-n", n, "-w", "--request-timeout=2s"],
        Table,
        &[],
    )
    .await?;
    step(t, steps, "top-fails", &["top", "pod", "-n", n], Fails, &[]).await?;
    step(
        t,
        steps,
        "delete-configmap",
        &["delete", "configmap", "cm1", "-n", n],
        Text,
        &[],
    )
    .await?;
    step(
        t,
        steps,
        "delete-deployment",
        &["delete", "deployment", "web", "-n", n],
        Text,
        &[],
    )
    .await?;
    step(
        t,
        steps,
        "delete-namespace",
        &["delete", "namespace", n, "--wait=false"],
        Text,
        &[],
    )
    .await?;
    Ok(())
}
