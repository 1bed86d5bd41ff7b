//! Behaviour that needs no Helm to check: errors, limits, and the public
//! API's shape. Charts are written to Cargo's per-test scratch directory.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test fails by panicking"
)]

use std::path::PathBuf;

use serde_json::json;
use storeplane_chart::{Chart, Error, RenderOptions, Values};

fn chart(name: &str, templates: &[(&str, &str)], values: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("templates")).unwrap();
    std::fs::write(
        dir.join("Chart.yaml"),
        format!("apiVersion: v2\nname: {name}\nversion: 0.1.0\n"),
    )
    .unwrap();
    std::fs::write(dir.join("values.yaml"), values).unwrap();
    for (file, text) in templates {
        let path = dir.join("templates").join(file);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
    dir
}

fn render(dir: &PathBuf, values: serde_json::Value) -> Result<storeplane_chart::Rendered, Error> {
    Chart::load(dir)?.render(&RenderOptions {
        values,
        ..RenderOptions::default()
    })
}

#[test]
fn required_message_passes_through_with_the_helpers_line() {
    let dir = chart(
        "required",
        &[
            (
                "_helpers.tpl",
                "{{- define \"host\" -}}\n{{ required \"db.host must be set!\" .Values.db.host }}\n{{- end }}",
            ),
            (
                "cm.yaml",
                "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\ndata:\n  host: {{ include \"host\" . }}\n",
            ),
        ],
        "db: {}\n",
    );
    match render(&dir, json!({})) {
        Err(Error::Render {
            template,
            line,
            message,
            ..
        }) => {
            assert_eq!(message, "db.host must be set!");
            assert_eq!(template, "required/templates/_helpers.tpl");
            assert_eq!(line, 2);
        }
        other => panic!("expected a render error, got {other:?}"),
    }
    let rendered = render(&dir, json!({"db": {"host": "pg"}})).unwrap();
    assert_eq!(rendered.manifests[0].object["data"]["host"], "pg");
}

#[test]
fn parse_errors_name_the_file_and_line() {
    let dir = chart("parse", &[("bad.yaml", "a: 1\nb: {{ end }}\nc: 3\n")], "");
    match render(&dir, json!({})) {
        Err(Error::Parse { template, line, .. }) => {
            assert_eq!(template, "parse/templates/bad.yaml");
            assert_eq!(line, 2);
        }
        other => panic!("expected a parse error, got {other:?}"),
    }
}

#[test]
fn runaway_include_recursion_is_an_error_not_a_crash() {
    let dir = chart(
        "recursion",
        &[
            (
                "_loop.tpl",
                "{{- define \"loop\" -}}{{ include \"loop\" . }}{{- end }}",
            ),
            ("cm.yaml", "x: {{ include \"loop\" . }}\n"),
        ],
        "",
    );
    let error = render(&dir, json!({})).unwrap_err();
    assert!(error.to_string().contains("nested"), "{error}");
}

#[test]
fn schema_violations_are_reported_by_path() {
    let dir = chart("schema", &[("cm.yaml", "x: 1\n")], "replicas: 1\n");
    std::fs::write(
        dir.join("values.schema.json"),
        r#"{"type": "object", "properties": {"replicas": {"type": "integer", "minimum": 1}}}"#,
    )
    .unwrap();
    assert!(
        render(&dir, json!({})).is_ok(),
        "a whole float passes an integer schema"
    );
    let error = render(&dir, Values::parse_set("replicas=0").unwrap()).unwrap_err();
    assert!(matches!(error, Error::SchemaViolation { .. }), "{error}");
    assert!(error.to_string().contains("/replicas"), "{error}");
}

#[test]
fn manifests_come_out_in_install_order_with_source_headers() {
    let dir = chart(
        "order",
        &[
            (
                "a-deploy.yaml",
                "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: d\n",
            ),
            (
                "b-ns.yaml",
                "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: n\n---\napiVersion: v1\nkind: Service\nmetadata:\n  name: s\n",
            ),
            (
                "c-hook.yaml",
                "apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: j\n  annotations:\n    helm.sh/hook: pre-install\n",
            ),
        ],
        "",
    );
    let rendered = render(&dir, json!({})).unwrap();
    let kinds: Vec<&str> = rendered.manifests.iter().map(|m| m.kind()).collect();
    assert_eq!(kinds, ["Namespace", "Service", "Deployment"]);
    assert_eq!(rendered.hooks.len(), 1);
    assert_eq!(rendered.hooks[0].hook_events(), ["pre-install"]);
    let text = rendered.to_helm_template_output();
    assert!(
        text.starts_with(
            "---\n# Source: order/templates/b-ns.yaml\napiVersion: v1\nkind: Namespace\n"
        ),
        "{text}"
    );
    assert!(text.ends_with("---\n# Source: order/templates/c-hook.yaml\napiVersion: batch/v1\nkind: Job\nmetadata:\n  name: j\n  annotations:\n    helm.sh/hook: pre-install\n\n"), "{text}");
}

#[test]
fn digest_follows_the_rendered_text() {
    let dir = chart(
        "digest",
        &[(
            "cm.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Values.name }}\n",
        )],
        "name: a\n",
    );
    let a = render(&dir, json!({})).unwrap();
    let again = render(&dir, json!({})).unwrap();
    let b = render(&dir, json!({"name": "b"})).unwrap();
    assert_eq!(a.digest(), again.digest());
    assert_ne!(a.digest(), b.digest());
    assert_eq!(a.digest().len(), 64);
}

#[test]
fn set_integers_print_as_int64_while_file_numbers_print_as_float64() {
    // Not `n`: YAML 1.1 reads that key as the boolean false.
    let template = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: n\ndata:\n  num: \"{{ .Values.num }}\"\n";
    let dir = chart("numbers", &[("cm.yaml", template)], "num: 3000000000\n");
    let from_file = render(&dir, json!({})).unwrap();
    let printed = |r: &storeplane_chart::Rendered| r.manifests[0].object["data"]["num"].clone();
    assert_eq!(
        printed(&from_file),
        "3e+09",
        "a values-file number is a float64 in Helm"
    );
    let from_set = render(&dir, Values::parse_set("num=3000000000").unwrap()).unwrap();
    assert_eq!(
        printed(&from_set),
        "3000000000",
        "a --set integer is an int64 in Helm"
    );
}

#[test]
fn subcharts_are_refused_rather_than_ignored() {
    let dir = chart("parent", &[("cm.yaml", "x: 1\n")], "");
    std::fs::create_dir_all(dir.join("charts/child")).unwrap();
    std::fs::write(
        dir.join("charts/child/Chart.yaml"),
        "apiVersion: v2\nname: child\nversion: 1.0.0\n",
    )
    .unwrap();
    assert!(matches!(Chart::load(&dir), Err(Error::Metadata(_))));
}
