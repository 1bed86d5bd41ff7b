//! Oracle tests: this crate against real Helm (v4, Go engine through
//! `helm-python-sdk`). They need `STOREPLANE_PYTHON` and fail without it.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test fails by panicking"
)]

mod support;

use serde_json::json;
use storeplane_chart::Values;
use support::{as_json_transported, ask, check_chart_dir, product_charts, testdata_charts};

#[test]
fn every_testdata_chart_renders_exactly_like_helm() {
    let charts = testdata_charts();
    assert!(!charts.is_empty(), "no charts under testdata/");
    let mut cases = 0;
    for dir in charts {
        cases += check_chart_dir(&dir);
    }
    assert!(cases >= 10, "only {cases} cases were checked");
}

/// The engines' charts (WooCommerce, MedusaJS, the static site) with their
/// defaults, `values-local.yaml` and `values-prod.yaml`.
#[test]
fn every_engine_chart_renders_exactly_like_helm() {
    let charts = product_charts();
    let names: Vec<String> = charts
        .iter()
        .filter_map(|d| Some(d.file_name()?.to_string_lossy().into_owned()))
        .collect();
    for engine in ["woocommerce", "medusa", "static-site"] {
        assert!(
            names.iter().any(|n| n == engine),
            "no {engine} chart among {names:?}"
        );
    }
    for dir in charts {
        let cases = check_chart_dir(&dir);
        assert!(cases >= 3, "{}: only {cases} cases", dir.display());
    }
}

/// The alternative renderer, `helm template` through a binary, parses into
/// what the built-in engine renders. The binary is `tests/helm_cli.py`, a
/// `helm` command line over Helm's Go engine (no helm binary can be
/// installed here).
#[test]
fn a_helm_binary_renders_what_the_built_in_engine_renders() {
    let python = support::python();
    let dir = std::env::temp_dir().join(format!("storeplane-helm-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let helm = dir.join("helm");
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/helm_cli.py");
    std::fs::write(
        &helm,
        format!(
            "#!/bin/sh\nexec '{}' '{}' \"$@\"\n",
            python.display(),
            script.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&helm, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let binary = storeplane_chart::HelmBinary::new(&helm);
    let mut charts = testdata_charts();
    charts.extend(product_charts());
    for chart_dir in charts {
        let options = storeplane_chart::RenderOptions {
            release_name: "shop".into(),
            namespace: "store-shop".into(),
            ..Default::default()
        };
        let chart = storeplane_chart::Chart::load(&chart_dir).unwrap();
        let ours = chart.render(&options).unwrap();
        let theirs = binary
            .render(&chart, &chart_dir, &options)
            .unwrap_or_else(|e| panic!("{}: {e}", chart_dir.display()));
        let label = chart_dir.display();
        let objects = |r: &storeplane_chart::Rendered| {
            r.manifests
                .iter()
                .map(|m| (m.source.clone(), m.object.clone()))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            objects(&theirs),
            objects(&ours),
            "{label}: manifests differ"
        );
        assert!(theirs.hooks.is_empty(), "{label}: the shim prints no hooks");
        if ours.hooks.is_empty() {
            assert_eq!(theirs.digest(), ours.digest(), "{label}: digests differ");
        }
        assert_eq!(
            theirs.values, ours.values,
            "{label}: recorded values differ"
        );
    }
    let first = &testdata_charts()[0];
    let err = binary
        .render(
            &storeplane_chart::Chart::load(first).unwrap(),
            first,
            &storeplane_chart::RenderOptions {
                is_upgrade: true,
                ..Default::default()
            },
        )
        .unwrap_err();
    assert!(
        err.to_string().contains("--is-upgrade is not supported"),
        "{err}"
    );
}

/// Any chart directory can be put through the same comparison:
/// `STOREPLANE_ORACLE_CHART=/path/to/chart cargo test --test oracle`.
#[test]
fn chart_named_by_env_renders_exactly_like_helm() {
    // Asking for the interpreter first keeps the no-Python failure uniform.
    support::python();
    if let Some(dir) = std::env::var_os("STOREPLANE_ORACLE_CHART") {
        check_chart_dir(std::path::Path::new(&dir));
    }
}

#[test]
fn set_expressions_parse_like_helm_strvals() {
    let expressions = [
        "a.b=c",
        "a=1,b=2",
        "list[0]=x,list[2]=z",
        "a.b=null",
        "t=true,f=FALSE,n=Null",
        "big=9007199254740993,neg=-42,zero=0,lead=0755,plus=+5",
        "huge=99999999999999999999",
        "ports={80,443,web}",
        "name=a\\,b,key\\.with\\.dots=v",
        "quote=\"x\",single='y',sp=a b",
        "nested[0].name=n,nested[0].port=8080,nested[1].name=m",
        "empty=",
        "deep.a.b.c.d=1",
        "matrix[0][1]=x",
    ];
    let answer = ask(&json!({"op": "parse_set", "expressions": expressions}));
    let results = answer["results"].as_array().expect("results");
    for (expression, helm) in expressions.iter().zip(results) {
        let ours = Values::parse_set(expression);
        match (helm.get("value"), ours) {
            // Python keeps the exact integers Helm produced, so an int64
            // must come back exactly, not as a float.
            (Some(expected), Ok(ours)) => assert_eq!(&ours, expected, "--set {expression}"),
            (None, Err(_)) => {}
            (expected, ours) => panic!("--set {expression}: Helm {expected:?}, ours {ours:?}"),
        }
    }
    for bad in ["a", "a,b=1", "list[x]=1"] {
        let answer = ask(&json!({"op": "parse_set", "expressions": [bad]}));
        assert!(
            answer["results"][0].get("error").is_some(),
            "Helm accepted {bad}"
        );
        assert!(Values::parse_set(bad).is_err(), "we accepted {bad}");
    }
}

#[test]
fn json_transport_turns_every_number_into_a_float() {
    // The oracle sends values as JSON, which Helm decodes into float64; the
    // comparison has to feed our engine the same types.
    let v = as_json_transported(&json!({"a": 1, "b": [2, {"c": 3}]}));
    assert!(v["a"].is_f64() && v["b"][0].is_f64() && v["b"][1]["c"].is_f64());
    assert_eq!(v, json!({"a": 1.0, "b": [2.0, {"c": 3.0}]}));
}
