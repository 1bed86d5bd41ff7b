//! The backup archive as the engines' scripts write it: a gzip'd tar whose
//! `manifest` says `format storeplane-backup/1`, the engine, when it was
//! created and `file <name> <sha256> <bytes> <time>` for each file beside
//! it. The simulated upload writes a small one; the simulated download
//! checks one as the restore scripts' `verify` does.

use std::collections::HashMap;
use std::io::{self, Read, Write};

use flate2::Compression;
use flate2::read::MultiGzDecoder;
use flate2::write::GzEncoder;
use sha2::{Digest, Sha256};

/// The manifest's `format` line.
pub(crate) const FORMAT: &str = "storeplane-backup/1";

/// The manifest's name in the archive.
const MANIFEST: &str = "manifest";

/// The data file of a simulated backup.
const DATA_FILE: &str = "simulated.txt";

/// A manifest larger than this is not one the scripts wrote.
const MANIFEST_LIMIT: u64 = 1 << 20;

/// Why a downloaded archive is not a backup the restore would accept.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ArchiveError {
    #[error("the body is not a gzip'd tar: {0}")]
    Unreadable(#[source] io::Error),
    #[error("the archive has no manifest: not a storeplane backup")]
    NoManifest,
    #[error("the manifest's format is '{0}', not {FORMAT}")]
    Format(String),
    #[error("this is a backup of a {found} store, not a {wanted} one")]
    Engine { found: String, wanted: String },
    #[error("{0} is in the manifest but not in the archive: the backup is incomplete")]
    Missing(String),
    #[error(
        "{name} does not match the manifest (sha256 {actual}, expected {expected}): the backup is damaged"
    )]
    Damaged {
        name: String,
        actual: String,
        expected: String,
    },
}

/// What a checked archive holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Checked {
    /// The files the manifest lists (all present and matching).
    pub files: usize,
}

/// A simulated backup of `namespace` by `engine`, made at `now` (UTC,
/// `2006-01-02T15:04:05Z`): the manifest and one small data file.
pub(crate) fn build(engine: &str, namespace: &str, now: &str) -> io::Result<Vec<u8>> {
    let data = format!(
        "A backup of namespace {namespace} made by storeplane's simulated cluster.\n\
         No store ran there, so it holds no store data.\n"
    );
    let manifest = format!(
        "format {FORMAT}\nengine {engine}\ncreated {now}\nsimulated true\nfile {DATA_FILE} {} {} {now}\n",
        sha256_hex(data.as_bytes()),
        data.len(),
    );
    let mtime = jiff::Timestamp::now().as_second().max(0).unsigned_abs();
    let mut tar = tar::Builder::new(GzEncoder::new(Vec::new(), Compression::default()));
    for (name, content) in [(MANIFEST, manifest), (DATA_FILE, data)] {
        let mut header = tar::Header::new_ustar();
        header.set_size(content.len() as u64);
        header.set_mode(0o644);
        header.set_mtime(mtime);
        header.set_entry_type(tar::EntryType::Regular);
        tar.append_data(&mut header, name, content.as_bytes())?;
    }
    tar.into_inner()?.finish()
}

/// Reads a downloaded archive to its end, as the restore would: a
/// `manifest` of [`FORMAT`] naming `engine`, and every file it lists
/// present with its sha256. Entries may be named `x` or `./x` (`tar -C dir
/// -czf - .` writes the latter).
pub(crate) fn check(reader: impl Read, engine: &str) -> Result<Checked, ArchiveError> {
    let mut archive = tar::Archive::new(MultiGzDecoder::new(reader));
    let mut manifest = None;
    let mut hashes = HashMap::new();
    for entry in archive.entries().map_err(ArchiveError::Unreadable)? {
        let mut entry = entry.map_err(ArchiveError::Unreadable)?;
        if !entry.header().entry_type().is_file() {
            continue;
        }
        let path = entry.path().map_err(ArchiveError::Unreadable)?;
        let name = path.to_string_lossy();
        let name = name.strip_prefix("./").unwrap_or(&name).to_owned();
        if name == MANIFEST {
            let mut text = String::new();
            (&mut entry)
                .take(MANIFEST_LIMIT)
                .read_to_string(&mut text)
                .map_err(ArchiveError::Unreadable)?;
            manifest = Some(text);
        } else {
            let mut hasher = HashWriter(Sha256::new());
            io::copy(&mut entry, &mut hasher).map_err(ArchiveError::Unreadable)?;
            hashes.insert(name, hex(&hasher.0.finalize()));
        }
    }
    let manifest = manifest.ok_or(ArchiveError::NoManifest)?;
    verify(&manifest, engine, &hashes)
}

/// The restore scripts' `verify`: format, engine, then each listed file.
fn verify(
    manifest: &str,
    engine: &str,
    hashes: &HashMap<String, String>,
) -> Result<Checked, ArchiveError> {
    let value = |key: &str| {
        manifest
            .lines()
            .filter_map(|line| line.split_once(' '))
            .filter(|(k, _)| *k == key)
            .map(|(_, v)| v.split_whitespace().next().unwrap_or("").to_owned())
            .next_back()
            .unwrap_or_default()
    };
    let format = value("format");
    if format != FORMAT {
        return Err(ArchiveError::Format(format));
    }
    let found = value("engine");
    if found != engine {
        return Err(ArchiveError::Engine {
            found: if found.is_empty() {
                "unknown".to_owned()
            } else {
                found
            },
            wanted: engine.to_owned(),
        });
    }
    let mut files = 0;
    for line in manifest.lines() {
        let mut words = line.split_whitespace();
        if words.next() != Some("file") {
            continue;
        }
        let name = words.next().unwrap_or("").to_owned();
        let expected = words.next().unwrap_or("").to_owned();
        let actual = hashes
            .get(&name)
            .ok_or_else(|| ArchiveError::Missing(name.clone()))?;
        if *actual != expected {
            return Err(ArchiveError::Damaged {
                name,
                actual: actual.clone(),
                expected,
            });
        }
        files += 1;
    }
    Ok(Checked { files })
}

fn sha256_hex(data: &[u8]) -> String {
    hex(&Sha256::digest(data))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Hashes what is written to it.
struct HashWriter(Sha256);

impl Write for HashWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.update(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_simulated_backup_passes_its_own_check() {
        let archive = build("woocommerce", "store-1", "2026-01-01T00:00:00Z").unwrap();
        let checked = check(archive.as_slice(), "woocommerce").unwrap();
        assert_eq!(checked, Checked { files: 1 });
    }

    #[test]
    fn another_engines_backup_is_refused() {
        let archive = build("medusa", "store-1", "2026-01-01T00:00:00Z").unwrap();
        let error = check(archive.as_slice(), "woocommerce").unwrap_err();
        assert_eq!(
            error.to_string(),
            "this is a backup of a medusa store, not a woocommerce one"
        );
    }

    #[test]
    fn a_file_that_does_not_match_the_manifest_is_damage() {
        let hashes = HashMap::from([("db.sql.gz".to_owned(), "00".to_owned())]);
        let manifest =
            "format storeplane-backup/1\nengine medusa\ncreated x\nfile db.sql.gz ff 1 x\n";
        assert!(matches!(
            verify(manifest, "medusa", &hashes),
            Err(ArchiveError::Damaged { .. })
        ));
        let manifest = "format storeplane-backup/1\nengine medusa\nfile gone.tar.gz ff 1 x\n";
        assert!(matches!(
            verify(manifest, "medusa", &hashes),
            Err(ArchiveError::Missing(name)) if name == "gone.tar.gz"
        ));
    }

    #[test]
    fn a_body_that_is_not_gzip_is_unreadable() {
        let error = check(&b"<html>not found</html>"[..], "medusa").unwrap_err();
        assert!(matches!(error, ArchiveError::Unreadable(_)), "{error}");
    }
}
