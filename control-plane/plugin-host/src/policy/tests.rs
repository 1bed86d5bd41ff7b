use serde_json::{Value, json};

use super::*;

fn store() -> StoreContext {
    StoreContext {
        id: "0190f5d2-0000-7000-8000-000000000001".into(),
        name: "shop".into(),
        namespace: "store-shop".into(),
        tenant: "tenants/t".into(),
        config: json!({}),
        generation: 1,
        host: "shop.stores.example.com".into(),
        ingress_class: None,
        storage_class: None,
        tls: true,
        cluster_issuer: None,
        extra_hosts: Vec::new(),
        suspended: false,
    }
}

fn object(api_version: &str, kind: &str, name: &str, rest: Value) -> Value {
    let mut object = json!({"apiVersion": api_version, "kind": kind, "metadata": {"name": name}});
    if let (Some(object), Some(rest)) = (object.as_object_mut(), rest.as_object()) {
        object.extend(rest.clone());
    }
    object
}

fn denied(object: &Value) -> String {
    match check_apply(&store(), object) {
        Err(HostError::Denied(message)) => message,
        other => panic!("expected denied for {object}, got {other:?}"),
    }
}

fn allowed(object: &Value) {
    if let Err(err) = check_apply(&store(), object) {
        panic!("expected {object} to be allowed: {err}");
    }
}

#[test]
fn names_must_be_dns1123_subdomains() {
    for good in ["a", "shop-db", "a.b-c.d", "x1"] {
        assert!(is_dns1123_subdomain(good), "{good}");
    }
    let long = "a".repeat(254);
    for bad in [
        "",
        "a/b",
        "../../secrets/x",
        "..",
        "a..b",
        ".a",
        "a.",
        "A",
        "a_b",
        "a%2fb",
        "-a",
        "a-",
        long.as_str(),
    ] {
        assert!(!is_dns1123_subdomain(bad), "{bad}");
        assert!(
            matches!(
                check_get("v1", "ConfigMap", bad),
                Err(HostError::Invalid(_))
            ),
            "{bad}"
        );
        assert!(matches!(
            check_delete("v1", "ConfigMap", bad),
            Err(HostError::Invalid(_))
        ));
    }
}

#[test]
fn types_must_be_well_formed() {
    assert!(check_list("apps/v1", "Deployment").is_ok());
    assert!(check_list("v1", "ConfigMap").is_ok());
    for (api_version, kind) in [
        ("../v1", "ConfigMap"),
        ("apps/v1/x", "Deployment"),
        ("v1", "config/map"),
        ("v1", "configMap"),
        ("", "ConfigMap"),
    ] {
        assert!(
            matches!(check_list(api_version, kind), Err(HostError::Invalid(_))),
            "{api_version} {kind}"
        );
    }
}

#[test]
fn release_names_are_dns1123_labels_of_at_most_53() {
    assert!(check_release_name("shop").is_ok());
    for bad in ["a.b", "a/b", "Shop", &"a".repeat(54)] {
        assert!(
            matches!(check_release_name(bad), Err(HostError::Invalid(_))),
            "{bad}"
        );
    }
}

#[test]
fn platform_objects_cannot_be_applied_or_deleted() {
    let quota = object(
        "v1",
        "ResourceQuota",
        "storeplane-quota",
        json!({"spec": {"hard": {}}}),
    );
    assert!(denied(&quota).contains("storeplane-"));
    let netpol = object(
        "networking.k8s.io/v1",
        "NetworkPolicy",
        "storeplane-default-deny",
        json!({}),
    );
    assert!(denied(&netpol).contains("belong to the platform"));
    assert!(matches!(
        check_delete(
            "networking.k8s.io/v1",
            "NetworkPolicy",
            "storeplane-default-deny"
        ),
        Err(HostError::Denied(_))
    ));
    assert!(check_delete("networking.k8s.io/v1", "NetworkPolicy", "shop-web").is_ok());
    assert!(matches!(
        check_secret("storeplane-x", &["password".into()]),
        Err(HostError::Denied(_))
    ));
}

#[test]
fn objects_stay_in_the_stores_namespace() {
    let mut config_map = object("v1", "ConfigMap", "x", json!({}));
    allowed(&config_map);
    config_map["metadata"]["namespace"] = json!("store-shop");
    allowed(&config_map);
    config_map["metadata"]["namespace"] = json!("kube-system");
    assert!(denied(&config_map).contains("kube-system"));
}

#[test]
fn kinds_that_reach_beyond_the_store_are_denied() {
    let refused = [
        object(
            "rbac.authorization.k8s.io/v1",
            "Role",
            "r",
            json!({"rules": []}),
        ),
        object(
            "rbac.authorization.k8s.io/v1",
            "RoleBinding",
            "rb",
            json!({}),
        ),
        object(
            "v1",
            "Endpoints",
            "web",
            json!({"subsets": [{"addresses": [{"ip": "10.0.0.9"}]}]}),
        ),
        object("discovery.k8s.io/v1", "EndpointSlice", "web", json!({})),
        object(
            "v1",
            "Secret",
            "t",
            json!({"type": "kubernetes.io/service-account-token"}),
        ),
        object(
            "v1",
            "Service",
            "s",
            json!({"spec": {"externalIPs": ["1.2.3.4"]}}),
        ),
        object(
            "v1",
            "Service",
            "s",
            json!({"spec": {"type": "ExternalName", "externalName": "web.store-victim.svc"}}),
        ),
        object("v1", "Service", "s", json!({"spec": {"type": "NodePort"}})),
        object(
            "v1",
            "Service",
            "s",
            json!({"spec": {"type": "LoadBalancer"}}),
        ),
        object("v1", "LimitRange", "l", json!({})),
        object("policy/v1", "PodDisruptionBudget", "p", json!({})),
        object("gateway.networking.k8s.io/v1", "Gateway", "g", json!({})),
        object(
            "gateway.networking.k8s.io/v1alpha2",
            "TCPRoute",
            "t",
            json!({}),
        ),
        object("v1", "ConfigMapList", "l", json!({"items": []})),
    ];
    for object in &refused {
        denied(object);
    }
    allowed(&object(
        "v1",
        "Service",
        "s",
        json!({"spec": {"type": "ClusterIP", "ports": [{"port": 80}]}}),
    ));
    allowed(&object("v1", "Secret", "s", json!({"type": "Opaque"})));
    allowed(&object(
        "networking.k8s.io/v1",
        "NetworkPolicy",
        "shop-web",
        json!({"spec": {}}),
    ));
    allowed(&object("v1", "ServiceAccount", "shop", json!({})));
}

fn ingress(rules: Value, tls: Value) -> Value {
    object(
        "networking.k8s.io/v1",
        "Ingress",
        "web",
        json!({"spec": {"rules": rules, "tls": tls}}),
    )
}

#[test]
fn ingresses_may_route_only_the_stores_hosts() {
    allowed(&ingress(
        json!([{"host": "shop.stores.example.com"}]),
        json!([{"hosts": ["shop.stores.example.com"], "secretName": "web-tls"}]),
    ));
    let foreign = denied(&ingress(
        json!([{"host": "victim.stores.example.com"}]),
        json!([]),
    ));
    assert!(
        foreign.contains("victim.stores.example.com")
            && foreign.contains("shop.stores.example.com"),
        "{foreign}"
    );
    assert!(denied(&ingress(json!([{"http": {}}]), json!([]))).contains("without host"));
    denied(&ingress(
        json!([{"host": "shop.stores.example.com"}]),
        json!([{"hosts": ["victim.stores.example.com"]}]),
    ));
    denied(&ingress(
        json!([{"host": "shop.stores.example.com"}]),
        json!([{"secretName": "x"}]),
    ));
    let catch_all = object(
        "networking.k8s.io/v1",
        "Ingress",
        "web",
        json!({"spec": {"defaultBackend": {"service": {"name": "web", "port": {"number": 80}}}}}),
    );
    assert!(denied(&catch_all).contains("default backend"));
}

#[test]
fn a_stores_custom_domains_are_its_hosts_too() {
    let with_domains = StoreContext {
        extra_hosts: vec!["shop.my-brand.com".into()],
        ..store()
    };
    let both = ingress(
        json!([{"host": "shop.stores.example.com"}, {"host": "shop.my-brand.com"}]),
        json!([{"hosts": ["shop.stores.example.com", "shop.my-brand.com"], "secretName": "web-tls"}]),
    );
    check_apply(&with_domains, &both).unwrap_or_else(|e| panic!("{e}"));
    // Another store's custom domain is still refused, and without the
    // domain on record this store may not route it.
    let message = denied(&both);
    assert!(
        message.contains("shop.my-brand.com is not the store's"),
        "{message}"
    );
    let other = ingress(json!([{"host": "www.my-brand.com"}]), json!([]));
    assert!(matches!(
        check_apply(&with_domains, &other),
        Err(HostError::Denied(_))
    ));
}

#[test]
fn ingress_annotations_that_escape_the_host_are_denied() {
    for (key, value) in [
        (
            "nginx.ingress.kubernetes.io/configuration-snippet",
            "more_set_headers x;",
        ),
        (
            "nginx.ingress.kubernetes.io/server-snippet",
            "location / {}",
        ),
        (
            "nginx.ingress.kubernetes.io/server-alias",
            "victim.stores.example.com",
        ),
        (
            "nginx.ingress.kubernetes.io/auth-tls-secret",
            "store-victim/tls",
        ),
    ] {
        let mut object = ingress(json!([{"host": "shop.stores.example.com"}]), json!([]));
        object["metadata"]["annotations"] = json!({key: value});
        assert!(denied(&object).contains(key));
    }
    let mut object = ingress(json!([{"host": "shop.stores.example.com"}]), json!([]));
    object["metadata"]["annotations"] = json!({
        "cert-manager.io/cluster-issuer": "letsencrypt",
        "nginx.ingress.kubernetes.io/auth-tls-secret": "own-ca"
    });
    allowed(&object);
}

#[test]
fn gateway_routes_and_certificates_need_the_stores_hosts() {
    let route = |hostnames: Value| {
        object(
            "gateway.networking.k8s.io/v1",
            "HTTPRoute",
            "web",
            json!({"spec": {"hostnames": hostnames}}),
        )
    };
    allowed(&route(json!(["shop.stores.example.com"])));
    denied(&route(json!(["victim.stores.example.com"])));
    assert!(denied(&route(json!([]))).contains("every host"));
    let certificate = |names: Value| {
        object(
            "cert-manager.io/v1",
            "Certificate",
            "c",
            json!({"spec": {"dnsNames": names, "secretName": "c"}}),
        )
    };
    allowed(&certificate(json!(["shop.stores.example.com"])));
    denied(&certificate(json!(["victim.stores.example.com"])));
}

fn deployment(pod_spec: Value) -> Value {
    object(
        "apps/v1",
        "Deployment",
        "web",
        json!({"spec": {"template": {"spec": pod_spec}}}),
    )
}

fn hardened_container() -> Value {
    json!({"name": "web", "image": "nginx", "securityContext": {
        "allowPrivilegeEscalation": false, "capabilities": {"drop": ["ALL"]},
        "runAsNonRoot": true, "seccompProfile": {"type": "RuntimeDefault"}}})
}

#[test]
fn pods_must_pass_restricted() {
    allowed(&deployment(json!({"containers": [hardened_container()]})));
    let mut privileged = hardened_container();
    privileged["securityContext"]["privileged"] = json!(true);
    let message = denied(&deployment(json!({"containers": [privileged]})));
    assert!(
        message.contains(r#"restricted:latest"#)
            && message.contains(
                r#"privileged (container "web" must not set securityContext.privileged=true)"#
            ),
        "{message}"
    );
    let host_path = denied(&deployment(json!({
        "containers": [hardened_container()],
        "volumes": [{"name": "root", "hostPath": {"path": "/"}}]
    })));
    assert!(
        host_path.contains(r#"volume "root" uses restricted volume type "hostPath""#),
        "{host_path}"
    );
    let pod = object(
        "v1",
        "Pod",
        "p",
        json!({"spec": {"hostNetwork": true, "containers": [hardened_container()]}}),
    );
    assert!(denied(&pod).contains("hostNetwork=true"));
}

#[test]
fn secret_keys_follow_the_api_servers_rule() {
    assert!(check_secret("shop-admin", &["password".into(), "user.name".into()]).is_ok());
    for bad in ["", "a/b", "..", "x y"] {
        assert!(
            matches!(
                check_secret("s", &[bad.to_owned()]),
                Err(HostError::Invalid(_))
            ),
            "{bad}"
        );
    }
    assert!(matches!(check_secret("s", &[]), Err(HostError::Invalid(_))));
    assert!(matches!(
        check_secret("../x", &["k".into()]),
        Err(HostError::Invalid(_))
    ));
}
