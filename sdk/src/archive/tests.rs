use serde_json::{Map, Value, json};

use super::*;
use crate::JobPhase;

fn archive() -> Archive {
    Archive {
        id: "0F1E2D3C-4B5A-6978-8796-A5B4C3D2E1F0".into(),
        secret: "archive-0f1e2d3c".into(),
        transfer_image: "curlimages/curl:8.11.1".into(),
    }
}

fn part(name: &str) -> Part {
    Part {
        name: name.into(),
        image: "postgres:17".into(),
        uid: 70,
        command: vec!["sh".into(), "/scripts/backup.sh".into()],
        env: vec![json!({"name": "DB_HOST", "value": "db"})],
        volume_mounts: vec![json!({"name": "scripts", "mountPath": "/scripts", "readOnly": true})],
        resources: json!({"requests": {"cpu": "100m"}}),
    }
}

fn spec(transfer: Transfer, parts: &[&str]) -> JobSpec {
    let mut labels = Map::new();
    labels.insert(
        "app.kubernetes.io/component".into(),
        json!(transfer.operation()),
    );
    JobSpec {
        name: job_name("shop", transfer, &archive()),
        transfer,
        parts: parts.iter().map(|p| part(p)).collect(),
        volumes: vec![json!({"name": "scripts", "configMap": {"name": "shop-backup-scripts"}})],
        labels,
        fs_group: 70,
        affinity: None,
        active_deadline_seconds: 3600,
    }
}

fn names(containers: &Value) -> Vec<&str> {
    containers
        .as_array()
        .map(|cs| cs.iter().filter_map(|c| c["name"].as_str()).collect())
        .unwrap_or_default()
}

fn url_readers(pod: &Value) -> Vec<String> {
    super::url_readers(
        &json!({"spec": {"template": {"spec": pod}}}),
        "archive-0f1e2d3c",
    )
}

#[test]
fn job_names_take_eight_letters_of_the_id_and_fit_a_label() {
    assert_eq!(
        job_name("shop", Transfer::Upload, &archive()),
        "shop-backup-0f1e2d3c"
    );
    assert_eq!(
        job_name("shop", Transfer::Download, &archive()),
        "shop-restore-0f1e2d3c"
    );
    let long = job_name(&"a".repeat(40), Transfer::Download, &archive());
    assert!(long.len() <= 63, "{long}");
}

#[test]
fn backup_runs_the_parts_first_and_uploads_last() {
    let job = job(&archive(), &spec(Transfer::Upload, &["db", "files"]));
    let pod = &job["spec"]["template"]["spec"];
    assert_eq!(names(&pod["initContainers"]), ["db", "files"]);
    assert_eq!(names(&pod["containers"]), ["upload"]);
    assert_eq!(url_readers(pod), ["upload"]);
    let upload = &pod["containers"][0];
    assert_eq!(upload["image"], "curlimages/curl:8.11.1");
    assert_eq!(upload["env"][4]["name"], URL_ENV);
    assert_eq!(
        upload["env"][4]["valueFrom"]["secretKeyRef"]["name"],
        "archive-0f1e2d3c"
    );
    let script = upload["command"][2].as_str().unwrap();
    assert!(
        script.contains("curl -fsS --retry 3 -T \"$OUTGOING/archive.tar.gz\" \"$ARCHIVE_URL\""),
        "{script}"
    );
    assert!(
        pod["volumes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|v| v["name"] == OUT_VOLUME),
        "the upload packs into a volume of its own"
    );
    // The parts write the directory; the upload only reads it.
    assert_eq!(
        pod["initContainers"][0]["volumeMounts"][0]["readOnly"],
        false
    );
    assert_eq!(upload["volumeMounts"][0]["readOnly"], true);
    assert_eq!(job["spec"]["template"]["spec"]["restartPolicy"], "Never");
    assert_eq!(
        job["spec"]["ttlSecondsAfterFinished"],
        TTL_SECONDS_AFTER_FINISHED
    );
}

#[test]
fn restore_downloads_first_and_ends_with_the_last_part() {
    let job = job(
        &archive(),
        &spec(Transfer::Download, &["db", "files", "clone"]),
    );
    let pod = &job["spec"]["template"]["spec"];
    assert_eq!(names(&pod["initContainers"]), ["download", "db", "files"]);
    assert_eq!(names(&pod["containers"]), ["clone"]);
    assert_eq!(url_readers(pod), ["download"]);
    let script = pod["initContainers"][0]["command"][2].as_str().unwrap();
    assert!(
        script.contains("curl -fsS --retry 3 \"$ARCHIVE_URL\"")
            && script.contains("tar -C \"$BACKUP_DIR\" -xzf -"),
        "{script}"
    );
    assert_eq!(
        pod["initContainers"][0]["volumeMounts"][0]["readOnly"],
        false
    );
    assert_eq!(pod["containers"][0]["volumeMounts"][0]["readOnly"], true);
}

#[test]
fn every_container_is_hardened_and_knows_the_backup_dir() {
    let job = job(&archive(), &spec(Transfer::Upload, &["db"]));
    let pod = &job["spec"]["template"]["spec"];
    assert_eq!(pod["securityContext"]["runAsNonRoot"], true);
    assert_eq!(
        pod["securityContext"]["seccompProfile"]["type"],
        "RuntimeDefault"
    );
    for key in ["initContainers", "containers"] {
        for c in pod[key].as_array().unwrap() {
            let sc = &c["securityContext"];
            assert_eq!(sc["allowPrivilegeEscalation"], false, "{c}");
            assert_eq!(sc["capabilities"]["drop"], json!(["ALL"]), "{c}");
            assert_eq!(sc["runAsNonRoot"], true, "{c}");
            assert!(sc["runAsUser"].as_i64().unwrap() > 0, "{c}");
            assert!(
                c["env"]
                    .as_array()
                    .unwrap()
                    .contains(&json!({"name": "BACKUP_DIR", "value": DIR}))
            );
        }
    }
    assert_eq!(
        pod["containers"][0]["securityContext"]["runAsUser"],
        TRANSFER_UID
    );
    assert_eq!(pod["initContainers"][0]["securityContext"]["runAsUser"], 70);
}

#[test]
fn job_status_follows_the_job_conditions() {
    let none = job_status(None, Transfer::Upload);
    assert_eq!(none.phase, JobPhase::Running);

    let name = json!({"name": "shop-backup-0f1e2d3c"});
    let running = json!({"metadata": name, "status": {"active": 1}});
    let status = job_status(Some(&running), Transfer::Upload);
    assert_eq!(status.phase, JobPhase::Running);
    assert!(
        status.message.contains("shop-backup-0f1e2d3c"),
        "{}",
        status.message
    );

    let done = json!({"metadata": name, "status": {"conditions": [{"type": "Complete", "status": "True"}]}});
    let status = job_status(Some(&done), Transfer::Upload);
    assert_eq!(status.phase, JobPhase::Succeeded);
    assert_eq!((status.size_bytes, status.sha256), (None, None));

    let failed = json!({"metadata": name, "status": {"conditions": [{
        "type": "Failed", "status": "True", "reason": "BackoffLimitExceeded",
        "message": "Job has reached the specified backoff limit"
    }]}});
    let status = job_status(Some(&failed), Transfer::Download);
    assert_eq!(status.phase, JobPhase::Failed);
    assert_eq!(status.reason, "RestoreJobFailed");
    assert!(
        status.message.contains("backoff limit"),
        "{}",
        status.message
    );
}

#[test]
fn egress_policy_selects_the_given_pods() {
    let policy = egress_policy("shop-archive-egress", json!({"matchLabels": {"a": "b"}}));
    assert_eq!(policy["kind"], "NetworkPolicy");
    assert_eq!(policy["spec"]["podSelector"]["matchLabels"]["a"], "b");
    assert_eq!(policy["spec"]["policyTypes"], json!(["Egress"]));
}

/// The upload script, run for real (sh, tar, curl) against a local HTTP
/// server: the archive is sent with a `Content-Length` (S3's presigned PUT
/// needs one) and is the gzip'd tar of the backup directory.
#[test]
fn the_upload_script_sends_the_packed_directory_with_its_length() {
    use std::io::{BufRead as _, BufReader, Read as _, Write as _};
    let work = std::env::temp_dir().join(format!("sp-upload-{}", std::process::id()));
    let (dir, out) = (work.join("backup"), work.join("outgoing"));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::create_dir_all(&out).unwrap();
    std::fs::write(dir.join("manifest"), "format storeplane-backup/1\n").unwrap();
    std::fs::write(dir.join("database.dump"), vec![7_u8; 70_000]).unwrap();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = std::thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        let mut head = Vec::new();
        loop {
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            if line == "\r\n" || line.is_empty() {
                break;
            }
            head.push(line.trim_end().to_owned());
        }
        let length: usize = head
            .iter()
            .find_map(|h| {
                let (k, v) = h.split_once(':')?;
                k.eq_ignore_ascii_case("content-length")
                    .then(|| v.trim().parse().ok())?
            })
            .expect("a Content-Length header");
        let mut body = vec![0_u8; length];
        reader.read_exact(&mut body).unwrap();
        let mut stream = stream;
        stream
            .write_all(b"HTTP/1.1 201 Created\r\ncontent-length: 0\r\n\r\n")
            .unwrap();
        (head, body)
    });
    let archive = Archive {
        id: "0f1e2d3c".into(),
        secret: "archive-0f1e2d3c".into(),
        transfer_image: "curl".into(),
    };
    let container = transfer_container(&archive, Transfer::Upload);
    let status = std::process::Command::new("sh")
        .args(["-c", container["command"][2].as_str().unwrap()])
        .env("BACKUP_DIR", &dir)
        .env("OUTGOING", &out)
        .env(
            URL_ENV,
            format!("http://127.0.0.1:{port}/v1/archives/x?signature=s"),
        )
        .status()
        .expect("sh runs");
    assert!(status.success());
    let (head, body) = server.join().unwrap();
    assert!(
        head[0].starts_with("PUT /v1/archives/x?signature=s "),
        "{head:?}"
    );
    // The body is the directory, packed: unpack it and compare.
    let unpacked = work.join("unpacked");
    std::fs::create_dir_all(&unpacked).unwrap();
    std::fs::write(work.join("got.tar.gz"), &body).unwrap();
    let untar = std::process::Command::new("tar")
        .arg("-C")
        .arg(&unpacked)
        .arg("-xzf")
        .arg(work.join("got.tar.gz"))
        .status()
        .unwrap();
    assert!(untar.success());
    assert_eq!(
        std::fs::read(unpacked.join("database.dump")).unwrap().len(),
        70_000
    );
    let _ = std::fs::remove_dir_all(&work);
}
