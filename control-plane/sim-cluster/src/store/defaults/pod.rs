//! The scheme defaults of pods and pod templates, as kube-apiserver 1.37
//! applies them while decoding (`pkg/apis/core/v1/defaults.go` and its
//! generated `SetObjectDefaults_*`): `SetDefaults_PodSpec`, each container's
//! pull and termination-message policies, probes, ports, volume modes, and
//! for Pods (`SetDefaults_Pod`) requests from limits and service links.

use serde_json::{Map, Value, json};

use super::canonical_list;

/// `SetDefaults_Pod` and everything under it, on a Pod.
pub(super) fn pod(pod: &mut Value) {
    let Some(spec) = pod.get_mut("spec").and_then(Value::as_object_mut) else {
        return;
    };
    if spec
        .get("terminationGracePeriodSeconds")
        .and_then(Value::as_i64)
        .is_some_and(|s| s < 0)
    {
        spec.insert("terminationGracePeriodSeconds".to_owned(), json!(1));
    }
    for field in ["containers", "initContainers"] {
        for container in items_mut(spec, field) {
            requests_from_limits(container);
        }
    }
    spec.entry("enableServiceLinks").or_insert(json!(true));
    if spec.get("hostNetwork") == Some(&json!(true)) {
        for field in ["containers", "initContainers"] {
            for container in items_mut(spec, field) {
                for port in items_mut(container, "ports") {
                    let unset = port.get("hostPort").is_none_or(|p| p == &json!(0));
                    if unset && let Some(number) = port.get("containerPort").cloned() {
                        port.insert("hostPort".to_owned(), number);
                    }
                }
            }
        }
    }
    pod_spec(spec);
    // `SetDefaults_PodStatus`: podIP and podIPs agree.
    if let Some(status) = pod.get_mut("status").and_then(Value::as_object_mut) {
        let ip = status
            .get("podIP")
            .and_then(Value::as_str)
            .map(str::to_owned);
        let first = status
            .get("podIPs")
            .and_then(|ips| ips.pointer("/0/ip"))
            .and_then(Value::as_str)
            .map(str::to_owned);
        match (ip, first) {
            (Some(ip), None) if !ip.is_empty() => {
                status.insert("podIPs".to_owned(), json!([{ "ip": ip }]));
            }
            (None, Some(first)) => {
                status.insert("podIP".to_owned(), json!(first));
            }
            (Some(ip), Some(first)) if !ip.is_empty() && ip != first => {
                status.insert("podIPs".to_owned(), json!([{ "ip": ip }]));
            }
            _ => {}
        }
    }
}

/// The defaults of a pod template (`spec.template` of the workloads): only
/// the PodSpec's, not `SetDefaults_Pod`'s.
pub(super) fn template(template: Option<&mut Value>) {
    if let Some(spec) = template
        .and_then(|t| t.get_mut("spec"))
        .and_then(Value::as_object_mut)
    {
        pod_spec(spec);
    }
}

/// `SetDefaults_PodSpec`, then containers and volumes.
fn pod_spec(spec: &mut Map<String, Value>) {
    // `serviceAccount` is the deprecated alias of `serviceAccountName`.
    let account = spec
        .get("serviceAccountName")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .or_else(|| spec.get("serviceAccount").and_then(Value::as_str))
        .unwrap_or("")
        .to_owned();
    if account.is_empty() {
        spec.remove("serviceAccount");
        spec.remove("serviceAccountName");
    } else {
        spec.insert("serviceAccountName".to_owned(), json!(account));
        spec.insert("serviceAccount".to_owned(), json!(account));
    }
    default_str(spec, "dnsPolicy", "ClusterFirst");
    default_str(spec, "restartPolicy", "Always");
    if spec.get("securityContext").is_none_or(Value::is_null) {
        spec.insert("securityContext".to_owned(), json!({}));
    }
    if spec
        .get("terminationGracePeriodSeconds")
        .is_none_or(Value::is_null)
    {
        spec.insert("terminationGracePeriodSeconds".to_owned(), json!(30));
    }
    default_str(spec, "schedulerName", "default-scheduler");
    for field in ["containers", "initContainers", "ephemeralContainers"] {
        for c in items_mut(spec, field) {
            container(c);
        }
    }
    for v in items_mut(spec, "volumes") {
        volume(v);
    }
}

/// `SetDefaults_Container` and the defaults of what a container holds.
fn container(c: &mut Map<String, Value>) {
    if c.get("imagePullPolicy")
        .and_then(Value::as_str)
        .is_none_or(str::is_empty)
    {
        let image = c.get("image").and_then(Value::as_str).unwrap_or("");
        let policy = if image_tag(image).as_deref() == Some("latest") {
            "Always"
        } else {
            "IfNotPresent"
        };
        c.insert("imagePullPolicy".to_owned(), json!(policy));
    }
    default_str(c, "terminationMessagePath", "/dev/termination-log");
    default_str(c, "terminationMessagePolicy", "File");
    for port in items_mut(c, "ports") {
        default_str(port, "protocol", "TCP");
    }
    for env in items_mut(c, "env") {
        if let Some(field_ref) = env
            .get_mut("valueFrom")
            .and_then(|v| v.get_mut("fieldRef"))
            .and_then(Value::as_object_mut)
        {
            default_str(field_ref, "apiVersion", "v1");
        }
        if let Some(file_ref) = env
            .get_mut("valueFrom")
            .and_then(|v| v.get_mut("fileKeyRef"))
            .and_then(Value::as_object_mut)
        {
            file_ref.entry("optional").or_insert(json!(false));
        }
    }
    if let Some(resources) = c.get_mut("resources") {
        canonical_list(resources.get_mut("limits"));
        canonical_list(resources.get_mut("requests"));
    }
    for probe in ["livenessProbe", "readinessProbe", "startupProbe"] {
        if let Some(p) = c.get_mut(probe).and_then(Value::as_object_mut) {
            probe_defaults(p);
        }
    }
    if let Some(lifecycle) = c.get_mut("lifecycle").and_then(Value::as_object_mut) {
        for hook in ["postStart", "preStop"] {
            if let Some(get) = lifecycle
                .get_mut(hook)
                .and_then(|h| h.get_mut("httpGet"))
                .and_then(Value::as_object_mut)
            {
                http_get(get);
            }
        }
    }
}

/// `SetDefaults_Probe` and its handler's.
fn probe_defaults(probe: &mut Map<String, Value>) {
    for (field, default) in [
        ("timeoutSeconds", 1),
        ("periodSeconds", 10),
        ("successThreshold", 1),
        ("failureThreshold", 3),
    ] {
        let unset = probe
            .get(field)
            .is_none_or(|v| v.is_null() || v == &json!(0));
        if unset {
            probe.insert(field.to_owned(), json!(default));
        }
    }
    if let Some(get) = probe.get_mut("httpGet").and_then(Value::as_object_mut) {
        http_get(get);
    }
    if let Some(grpc) = probe.get_mut("grpc").and_then(Value::as_object_mut) {
        grpc.entry("service").or_insert(json!(""));
    }
}

/// `SetDefaults_HTTPGetAction`.
fn http_get(get: &mut Map<String, Value>) {
    default_str(get, "path", "/");
    default_str(get, "scheme", "HTTP");
}

/// The volume sources a Volume may name (`VolumeSource`'s fields): with
/// none of them, `SetDefaults_Volume` makes it an `emptyDir`.
const VOLUME_SOURCES: [&str; 30] = [
    "hostPath",
    "emptyDir",
    "gcePersistentDisk",
    "awsElasticBlockStore",
    "gitRepo",
    "secret",
    "nfs",
    "iscsi",
    "glusterfs",
    "persistentVolumeClaim",
    "rbd",
    "flexVolume",
    "cinder",
    "cephfs",
    "flocker",
    "downwardAPI",
    "fc",
    "azureFile",
    "configMap",
    "vsphereVolume",
    "quobyte",
    "azureDisk",
    "photonPersistentDisk",
    "projected",
    "portworxVolume",
    "scaleIO",
    "storageos",
    "csi",
    "ephemeral",
    "image",
];

/// `SetDefaults_Volume` and the defaults of its source.
fn volume(v: &mut Map<String, Value>) {
    if !VOLUME_SOURCES
        .iter()
        .any(|s| v.get(*s).is_some_and(|x| !x.is_null()))
    {
        v.insert("emptyDir".to_owned(), json!({}));
    }
    for source in ["secret", "configMap", "downwardAPI", "projected"] {
        if let Some(s) = v.get_mut(source).and_then(Value::as_object_mut) {
            s.entry("defaultMode").or_insert(json!(420));
        }
    }
    if let Some(host_path) = v.get_mut("hostPath").and_then(Value::as_object_mut) {
        host_path.entry("type").or_insert(json!(""));
    }
    if let Some(items) = v
        .get_mut("downwardAPI")
        .and_then(Value::as_object_mut)
        .map(|d| items_mut(d, "items"))
    {
        for item in items {
            field_ref_version(item);
        }
    }
    if let Some(projected) = v.get_mut("projected").and_then(Value::as_object_mut) {
        for source in items_mut(projected, "sources") {
            if let Some(token) = source
                .get_mut("serviceAccountToken")
                .and_then(Value::as_object_mut)
            {
                token.entry("expirationSeconds").or_insert(json!(3600));
            }
            if let Some(downward) = source.get_mut("downwardAPI").and_then(Value::as_object_mut) {
                for item in items_mut(downward, "items") {
                    field_ref_version(item);
                }
            }
        }
    }
    if let Some(spec) = v
        .get_mut("ephemeral")
        .and_then(|e| e.get_mut("volumeClaimTemplate"))
        .and_then(|t| t.get_mut("spec"))
        .and_then(Value::as_object_mut)
    {
        spec.entry("volumeMode").or_insert(json!("Filesystem"));
    }
    if let Some(image) = v.get_mut("image").and_then(Value::as_object_mut) {
        let reference = image.get("reference").and_then(Value::as_str).unwrap_or("");
        let policy = if image_tag(reference).as_deref() == Some("latest") {
            "Always"
        } else {
            "IfNotPresent"
        };
        if image
            .get("pullPolicy")
            .and_then(Value::as_str)
            .is_none_or(str::is_empty)
        {
            image.insert("pullPolicy".to_owned(), json!(policy));
        }
    }
}

fn field_ref_version(item: &mut Map<String, Value>) {
    if let Some(field_ref) = item.get_mut("fieldRef").and_then(Value::as_object_mut) {
        default_str(field_ref, "apiVersion", "v1");
    }
}

/// `SetDefaults_Pod`'s request for each resource that only has a limit.
fn requests_from_limits(container: &mut Map<String, Value>) {
    let Some(resources) = container.get_mut("resources") else {
        return;
    };
    let Some(limits) = resources.get("limits").and_then(Value::as_object).cloned() else {
        return;
    };
    let Value::Object(resources) = resources else {
        return;
    };
    let requests = resources.entry("requests").or_insert_with(|| json!({}));
    if let Value::Object(requests) = requests {
        for (name, value) in limits {
            requests.entry(name).or_insert(value);
        }
    }
}

/// The tag the kubelet would pull (`ParseImageName`): the reference's tag,
/// `latest` when it has neither tag nor digest, `None` with only a digest.
pub(crate) fn image_tag(image: &str) -> Option<String> {
    let (name, digest) = match image.split_once('@') {
        Some((name, _)) => (name, true),
        None => (image, false),
    };
    let last = name.rsplit('/').next().unwrap_or(name);
    match last.split_once(':') {
        Some((_, tag)) => Some(tag.to_owned()),
        None if digest => None,
        None => Some("latest".to_owned()),
    }
}

fn default_str(map: &mut Map<String, Value>, field: &str, value: &str) {
    if map
        .get(field)
        .is_none_or(|v| v.is_null() || v.as_str() == Some(""))
    {
        map.insert(field.to_owned(), json!(value));
    }
}

/// The object items of the list at `map[field]`.
fn items_mut<'a>(
    map: &'a mut Map<String, Value>,
    field: &str,
) -> impl Iterator<Item = &'a mut Map<String, Value>> {
    map.get_mut(field)
        .and_then(Value::as_array_mut)
        .into_iter()
        .flatten()
        .filter_map(Value::as_object_mut)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_tags_follow_parse_image_name() {
        assert_eq!(image_tag("nginx").as_deref(), Some("latest"));
        assert_eq!(image_tag("nginx:1.27").as_deref(), Some("1.27"));
        assert_eq!(image_tag("localhost:5000/shop").as_deref(), Some("latest"));
        assert_eq!(image_tag("localhost:5000/shop:2").as_deref(), Some("2"));
        assert_eq!(image_tag("nginx@sha256:abc"), None);
        assert_eq!(image_tag("busybox:latest").as_deref(), Some("latest"));
    }

    #[test]
    fn templates_get_the_pod_spec_defaults_as_upstream() {
        let mut t = json!({"spec": {
            "initContainers": [{"name": "init", "image": "busybox"}],
            "containers": [{
                "name": "web", "image": "nginx:1.27",
                "ports": [{"containerPort": 80}],
                "readinessProbe": {"httpGet": {"port": 80}},
                "livenessProbe": {"tcpSocket": {"port": 80}, "periodSeconds": 5},
            }],
            "volumes": [
                {"name": "cfg", "configMap": {"name": "c"}},
                {"name": "sec", "secret": {"secretName": "s"}},
                {"name": "scratch"},
            ],
        }});
        template(Some(&mut t));
        let spec = &t["spec"];
        assert_eq!(spec["dnsPolicy"], "ClusterFirst");
        assert_eq!(spec["restartPolicy"], "Always");
        assert_eq!(spec["schedulerName"], "default-scheduler");
        assert_eq!(spec["terminationGracePeriodSeconds"], 30);
        assert_eq!(spec["securityContext"], json!({}));
        assert!(spec.get("enableServiceLinks").is_none(), "pods only");
        let web = &spec["containers"][0];
        assert_eq!(web["imagePullPolicy"], "IfNotPresent");
        assert_eq!(spec["initContainers"][0]["imagePullPolicy"], "Always");
        assert_eq!(web["terminationMessagePath"], "/dev/termination-log");
        assert_eq!(web["terminationMessagePolicy"], "File");
        assert_eq!(web["ports"][0]["protocol"], "TCP");
        assert_eq!(
            web["readinessProbe"],
            json!({"httpGet": {"port": 80, "path": "/", "scheme": "HTTP"},
                   "timeoutSeconds": 1, "periodSeconds": 10, "successThreshold": 1, "failureThreshold": 3})
        );
        assert_eq!(web["livenessProbe"]["periodSeconds"], 5);
        assert_eq!(spec["volumes"][0]["configMap"]["defaultMode"], 420);
        assert_eq!(spec["volumes"][1]["secret"]["defaultMode"], 420);
        assert_eq!(spec["volumes"][2]["emptyDir"], json!({}));
    }

    #[test]
    fn pods_also_get_service_links_and_requests_from_limits() {
        let mut p = json!({"spec": {"serviceAccount": "robot", "containers": [
            {"name": "a", "image": "x", "resources": {"limits": {"cpu": "1", "memory": "1Gi"}, "requests": {"cpu": "0.5"}}},
        ]}});
        pod(&mut p);
        assert_eq!(p["spec"]["enableServiceLinks"], true);
        assert_eq!(p["spec"]["serviceAccountName"], "robot");
        assert_eq!(
            p["spec"]["containers"][0]["resources"]["requests"],
            json!({"cpu": "500m", "memory": "1Gi"})
        );
    }
}
