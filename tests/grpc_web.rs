//! gRPC-web over HTTP/1.1 on the same port, with hand-built frames, as a
//! browser sends them; and CORS preflight for other origins.

#![allow(clippy::expect_used)] // A failed expectation is the test failing.

use anyhow::{Context, Result, bail, ensure};
use prost::Message;
use storeplane_e2e::{Backend, Server, v1 as pb};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};

/// A parsed HTTP/1.1 response.
struct Response {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Response {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Sends one HTTP/1.1 request on a fresh connection and reads the response.
async fn http1(addr: &str, head: &str, body: &[u8]) -> Result<Response> {
    let mut socket = TcpStream::connect(addr).await?;
    socket.write_all(head.as_bytes()).await?;
    socket.write_all(body).await?;
    let mut raw = Vec::new();
    socket.read_to_end(&mut raw).await?;
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .context("no end of headers")?;
    let head = String::from_utf8(raw[..split].to_vec())?;
    let mut lines = head.split("\r\n");
    let status: u16 = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .context("no status line")?
        .parse()?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_owned(), v.trim().to_owned()))
        .collect();
    let mut body = raw[split + 4..].to_vec();
    let chunked = headers
        .iter()
        .any(|(n, v)| n.eq_ignore_ascii_case("transfer-encoding") && v.contains("chunked"));
    if chunked {
        body = dechunk(&body)?;
    }
    Ok(Response {
        status,
        headers,
        body,
    })
}

fn dechunk(mut data: &[u8]) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let line_end = data
            .windows(2)
            .position(|w| w == b"\r\n")
            .context("bad chunk")?;
        let size = usize::from_str_radix(std::str::from_utf8(&data[..line_end])?.trim(), 16)?;
        data = &data[line_end + 2..];
        if size == 0 {
            return Ok(out);
        }
        out.extend_from_slice(data.get(..size).context("short chunk")?);
        data = data.get(size + 2..).context("short chunk")?;
    }
}

/// Splits a gRPC-web body into (flags, payload) frames.
fn frames(mut body: &[u8]) -> Result<Vec<(u8, Vec<u8>)>> {
    let mut out = Vec::new();
    while !body.is_empty() {
        ensure!(body.len() >= 5, "truncated frame header");
        let flags = body[0];
        let len = u32::from_be_bytes([body[1], body[2], body[3], body[4]]) as usize;
        let payload = body.get(5..5 + len).context("truncated frame")?.to_vec();
        out.push((flags, payload));
        body = &body[5 + len..];
    }
    Ok(out)
}

fn grpc_web_request(
    addr: &str,
    token: &str,
    path: &str,
    message: &impl Message,
) -> (String, Vec<u8>) {
    let payload = message.encode_to_vec();
    let mut body = vec![0u8];
    body.extend_from_slice(&(payload.len() as u32).to_be_bytes());
    body.extend_from_slice(&payload);
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/grpc-web+proto\r\n\
         X-Grpc-Web: 1\r\nOrigin: http://dashboard.example\r\nContent-Length: {}\r\n\
         Authorization: Bearer {token}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    (head, body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpc_web_call_over_http1_gets_a_grpc_web_response() -> Result<()> {
    let db = storeplane_e2e::fresh_database(Backend::Sqlite).await?;
    let server =
        Server::start_on(&db, &["--cors-allow-origins", "http://dashboard.example"]).await?;
    let (head, body) = grpc_web_request(
        &server.addr,
        &server.admin_token,
        "/storeplane.v1.EngineService/ListEngines",
        &pb::ListEnginesRequest {},
    );
    let response = http1(&server.addr, &head, &body).await?;
    assert_eq!(response.status, 200);
    ensure!(
        response
            .header("content-type")
            .is_some_and(|c| c.starts_with("application/grpc-web")),
        "content-type {:?}",
        response.header("content-type")
    );
    assert_eq!(
        response.header("access-control-allow-origin"),
        Some("http://dashboard.example"),
        "CORS header for a configured origin"
    );
    let frames = frames(&response.body)?;
    let [(0, data), (0x80, trailers)] = frames.as_slice() else {
        bail!("expected a data frame then a trailer frame, got {frames:?}");
    };
    let engines = pb::ListEnginesResponse::decode(data.as_slice())?;
    ensure!(engines.engines.iter().any(|e| e.id == "woocommerce"));
    let trailers = String::from_utf8(trailers.clone())?.to_ascii_lowercase();
    ensure!(trailers.contains("grpc-status:0"), "trailers: {trailers}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpc_web_errors_carry_status_and_details_in_trailers() -> Result<()> {
    let server = Server::start(Backend::Sqlite).await?;
    let (head, body) = grpc_web_request(
        &server.addr,
        &server.admin_token,
        "/storeplane.v1.StoreService/CreateStore",
        &pb::CreateStoreRequest {
            name: "NO".into(),
            engine: "woocommerce".into(),
            ..Default::default()
        },
    );
    let response = http1(&server.addr, &head, &body).await?;
    assert_eq!(response.status, 200);
    // A trailers-only response puts grpc-status in the HTTP headers.
    let in_headers = response.header("grpc-status").map(str::to_owned);
    let in_trailers = frames(&response.body)?
        .into_iter()
        .find(|(flags, _)| flags & 0x80 != 0)
        .map(|(_, t)| String::from_utf8_lossy(&t).to_ascii_lowercase());
    let invalid_argument = in_headers.as_deref() == Some("3")
        || in_trailers
            .as_deref()
            .is_some_and(|t| t.contains("grpc-status:3"));
    ensure!(
        invalid_argument,
        "no INVALID_ARGUMENT status: headers {:?}, trailers {in_trailers:?}",
        response.headers
    );
    let details = response.header("grpc-status-details-bin").is_some()
        || in_trailers
            .as_deref()
            .is_some_and(|t| t.contains("grpc-status-details-bin"));
    ensure!(details, "error details missing");
    Ok(())
}

fn preflight(addr: &str) -> String {
    format!(
        "OPTIONS /storeplane.v1.StoreService/ListStores HTTP/1.1\r\nHost: {addr}\r\n\
         Origin: http://dashboard.example\r\nAccess-Control-Request-Method: POST\r\n\
         Access-Control-Request-Headers: content-type,x-grpc-web,authorization\r\n\
         Connection: close\r\n\r\n"
    )
}

/// Review finding 8: by default the API is same-origin only (the dashboard
/// is served from it): a page on another origin gets no CORS permission.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cors_is_same_origin_only_by_default() -> Result<()> {
    let server = Server::start(Backend::Sqlite).await?;
    let response = http1(&server.addr, &preflight(&server.addr), &[]).await?;
    assert_eq!(response.header("access-control-allow-origin"), None);
    Ok(())
}

/// Review finding 8: `*` with authentication disabled would let any web
/// page act as an administrator; `serve` refuses to start.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn any_origin_with_auth_disabled_is_refused_at_start() -> Result<()> {
    let db = storeplane_e2e::fresh_database(Backend::Sqlite).await?;
    let out = tokio::process::Command::new(storeplane_e2e::binary()?)
        .args(["serve", "--listen", "127.0.0.1:0", "--cluster", "none"])
        .args(["--database-url", &db, "--auth", "disabled"])
        .args(["--cors-allow-origins", "*"])
        .output()
        .await?;
    ensure!(!out.status.success(), "serve started");
    let stderr = String::from_utf8_lossy(&out.stderr);
    ensure!(stderr.contains("--auth disabled"), "{stderr}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cors_preflight_allows_grpc_web_from_configured_origins() -> Result<()> {
    let db = storeplane_e2e::fresh_database(Backend::Sqlite).await?;
    let server =
        Server::start_on(&db, &["--cors-allow-origins", "http://dashboard.example"]).await?;
    let head = format!(
        "OPTIONS /storeplane.v1.StoreService/ListStores HTTP/1.1\r\nHost: {}\r\n\
         Origin: http://dashboard.example\r\nAccess-Control-Request-Method: POST\r\n\
         Access-Control-Request-Headers: content-type,x-grpc-web,authorization\r\n\
         Connection: close\r\n\r\n",
        server.addr
    );
    let response = http1(&server.addr, &head, &[]).await?;
    ensure!(
        response.status < 300,
        "preflight status {}",
        response.status
    );
    assert_eq!(
        response.header("access-control-allow-origin"),
        Some("http://dashboard.example")
    );
    let allowed = response
        .header("access-control-allow-headers")
        .unwrap_or_default()
        .to_ascii_lowercase();
    for header in ["x-grpc-web", "authorization", "content-type"] {
        ensure!(allowed.contains(header), "{header} not allowed: {allowed}");
    }
    Ok(())
}
