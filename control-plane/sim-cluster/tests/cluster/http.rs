//! The HTTP server as a browser or `curl` reaches it: raw HTTP/1.1 requests
//! with exactly the headers under test (review finding 8: `Host` check,
//! body content types, body size limit).

use std::net::SocketAddr;

use serde_json::Value;
use storeplane_sim_cluster::{SimCluster, SimConfig};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A cluster served on a free loopback port.
pub async fn served() -> (SimCluster, SocketAddr) {
    let cluster = SimCluster::new(SimConfig::instant());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(cluster.serve(listener));
    (cluster, addr)
}

/// A response: status code, headers (lower-case names) and body.
pub struct Answer {
    pub code: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Answer {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&self.body)))
    }

    pub fn header(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }
}

/// Sends one request with exactly `headers` (plus Content-Length and
/// `Connection: close`) and reads the whole answer. The body is written
/// while the answer is read, so a server that answers early is heard.
pub async fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Answer {
    let stream = TcpStream::connect(addr).await.unwrap();
    let (mut reader, mut writer) = stream.into_split();
    let mut head = format!("{method} {path} HTTP/1.1\r\n");
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str(&format!(
        "Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    ));
    let body = body.to_vec();
    let write = tokio::spawn(async move {
        // A server that refuses the body may stop reading it: ignore errors.
        let _ = writer.write_all(head.as_bytes()).await;
        let _ = writer.write_all(&body).await;
        writer
    });
    let mut raw = Vec::new();
    reader.read_to_end(&mut raw).await.unwrap();
    drop(write.await);
    parse(&raw)
}

fn parse(raw: &[u8]) -> Answer {
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a complete response head");
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut lines = head.split("\r\n");
    let status = lines.next().unwrap();
    let code = status.split(' ').nth(1).unwrap().parse().unwrap();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let mut body = raw[split + 4..].to_vec();
    if headers
        .iter()
        .any(|(n, v)| n == "transfer-encoding" && v.contains("chunked"))
    {
        body = dechunk(&body);
    }
    Answer {
        code,
        headers,
        body,
    }
}

fn dechunk(mut raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let line_end = raw.windows(2).position(|w| w == b"\r\n").unwrap();
        let size =
            usize::from_str_radix(std::str::from_utf8(&raw[..line_end]).unwrap(), 16).unwrap();
        if size == 0 {
            return out;
        }
        out.extend_from_slice(&raw[line_end + 2..line_end + 2 + size]);
        raw = &raw[line_end + 4 + size..];
    }
}

const CONFIG_MAP: &str = r#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"x"}}"#;

/// Review finding 8: `curl -H 'Host: evil.example' 127.0.0.1:6443/api/v1/secrets`
/// returned every Secret.
#[tokio::test]
async fn a_request_for_another_host_is_forbidden() {
    let (_cluster, addr) = served().await;
    let refused = request(
        addr,
        "GET",
        "/api/v1/secrets",
        &[("Host", "evil.example")],
        b"",
    )
    .await;
    assert_eq!(refused.code, 403);
    let status = refused.json();
    assert_eq!(status["kind"], "Status");
    assert_eq!(status["reason"], "Forbidden");
    assert!(status.get("items").is_none(), "{status}");
    let with_port = request(
        addr,
        "GET",
        "/api/v1/secrets",
        &[("Host", "evil.example:6443")],
        b"",
    )
    .await;
    assert_eq!(with_port.code, 403);
    let rebound = request(
        addr,
        "GET",
        "/api/v1/secrets",
        &[("Host", "127.0.0.1.evil.example")],
        b"",
    )
    .await;
    assert_eq!(rebound.code, 403);

    for host in [
        addr.to_string(),
        "localhost".to_owned(),
        "[::1]:6443".to_owned(),
    ] {
        let allowed = request(addr, "GET", "/api/v1/secrets", &[("Host", &host)], b"").await;
        assert_eq!(allowed.code, 200, "{host}");
        assert_eq!(allowed.json()["kind"], "SecretList");
    }
}

/// Review finding 8: `curl -X POST -H 'Content-Type: text/plain' -d '{...}'`
/// created a ConfigMap: a cross-site "simple" request a browser sends
/// without a preflight.
#[tokio::test]
async fn a_text_plain_body_is_an_unknown_format_and_creates_nothing() {
    let (cluster, addr) = served().await;
    let host = addr.to_string();
    let refused = request(
        addr,
        "POST",
        "/api/v1/namespaces/default/configmaps",
        &[("Host", &host), ("Content-Type", "text/plain")],
        CONFIG_MAP.as_bytes(),
    )
    .await;
    assert_eq!(refused.code, 415);
    let status = refused.json();
    assert_eq!(status["reason"], "UnsupportedMediaType");
    assert_eq!(
        status["message"],
        "the body of the request was in an unknown format - accepted media types include: \
         application/json, application/yaml, application/vnd.kubernetes.protobuf"
    );
    // A form post (what `curl -d` sends by default) is refused the same way.
    let form = request(
        addr,
        "POST",
        "/api/v1/namespaces/default/configmaps",
        &[
            ("Host", &host),
            ("Content-Type", "application/x-www-form-urlencoded"),
        ],
        CONFIG_MAP.as_bytes(),
    )
    .await;
    assert_eq!(form.code, 415);
    let maps = cluster.client();
    let maps: kube::Api<k8s_openapi::api::core::v1::ConfigMap> =
        kube::Api::namespaced(maps, "default");
    assert!(maps.get_opt("x").await.unwrap().is_none());

    // Like the apiserver, a body with no Content-Type at all is JSON.
    let plain = request(
        addr,
        "POST",
        "/api/v1/namespaces/default/configmaps",
        &[("Host", &host)],
        CONFIG_MAP.as_bytes(),
    )
    .await;
    assert_eq!(plain.code, 201);
}

#[tokio::test]
async fn updates_and_deletes_check_the_body_format_and_patches_the_patch_type() {
    let (_cluster, addr) = served().await;
    let host = addr.to_string();
    let path = "/api/v1/namespaces/default/configmaps/x";
    let json = [
        ("Host", host.as_str()),
        ("Content-Type", "application/json"),
    ];
    let created = request(
        addr,
        "POST",
        "/api/v1/namespaces/default/configmaps",
        &json,
        CONFIG_MAP.as_bytes(),
    )
    .await;
    assert_eq!(created.code, 201);
    let text = [("Host", host.as_str()), ("Content-Type", "text/plain")];
    let put = request(addr, "PUT", path, &text, CONFIG_MAP.as_bytes()).await;
    assert_eq!(put.code, 415);
    let delete = request(addr, "DELETE", path, &text, b"{}").await;
    assert_eq!(delete.code, 415);
    // The router refuses a PATCH that is not a patch type, with its own words.
    let patch = request(addr, "PATCH", path, &json, b"{}").await;
    assert_eq!(patch.code, 415);
    let status = patch.json();
    assert_eq!(status["message"], "415: Unsupported Media Type");
    assert_eq!(status["details"], serde_json::json!({}));
    let merge = request(
        addr,
        "PATCH",
        path,
        &[
            ("Host", host.as_str()),
            ("Content-Type", "application/merge-patch+json"),
        ],
        br#"{"data":{"a":"b"}}"#,
    )
    .await;
    assert_eq!(merge.code, 200);
    assert_eq!(merge.json()["data"]["a"], "b");
}

#[tokio::test]
async fn a_body_over_three_mebibytes_is_too_large() {
    let (_cluster, addr) = served().await;
    let host = addr.to_string();
    let filler = "x".repeat(3 * 1024 * 1024);
    let body = format!(
        r#"{{"apiVersion":"v1","kind":"ConfigMap","metadata":{{"name":"big"}},"data":{{"a":"{filler}"}}}}"#
    );
    let refused = request(
        addr,
        "POST",
        "/api/v1/namespaces/default/configmaps",
        &[("Host", &host), ("Content-Type", "application/json")],
        body.as_bytes(),
    )
    .await;
    assert_eq!(refused.code, 413);
    let status = refused.json();
    assert_eq!(status["reason"], "RequestEntityTooLarge");
    assert_eq!(
        status["message"],
        "Request entity too large: limit is 3145728"
    );

    // Just under the limit is read and decoded.
    let fits = format!(
        r#"{{"apiVersion":"v1","kind":"ConfigMap","metadata":{{"name":"fits"}},"data":{{"a":"{}"}}}}"#,
        "x".repeat(3 * 1024 * 1024 - 200)
    );
    let created = request(
        addr,
        "POST",
        "/api/v1/namespaces/default/configmaps",
        &[("Host", &host), ("Content-Type", "application/json")],
        fits.as_bytes(),
    )
    .await;
    assert_eq!(created.code, 201);
}
