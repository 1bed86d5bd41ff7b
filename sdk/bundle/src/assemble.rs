//! Copying a plugin's files into the bundle layout.

use std::fs;
use std::path::{Path, PathBuf};

use crate::{Error, MANIFEST_FILE, Manifest, Result};

/// The first 8 bytes of a WebAssembly component: `\0asm`, then the component
/// encoding's version and layer (`0d 00 01 00`). A core module has
/// `01 00 00 00` there instead.
const COMPONENT_HEADER: [u8; 8] = [0x00, 0x61, 0x73, 0x6d, 0x0d, 0x00, 0x01, 0x00];

/// Whether `bytes` start like a WebAssembly component (not a core module).
pub fn is_component(bytes: &[u8]) -> bool {
    bytes.starts_with(&COMPONENT_HEADER)
}

/// Assembles the bundle of the plugin whose sources are in `plugin_dir`.
///
/// Reads `plugin_dir/plugin.toml`, then writes `out_root/<id>/` afresh with
/// the manifest, `component` copied to the manifest's `component` name, the
/// `config-schema` file and every chart directory, all at the same relative
/// paths as in `plugin_dir`. Returns the bundle directory.
pub fn assemble(plugin_dir: &Path, component: &Path, out_root: &Path) -> Result<PathBuf> {
    let manifest_path = plugin_dir.join(MANIFEST_FILE);
    let manifest_text = fs::read_to_string(&manifest_path).map_err(Error::io(&manifest_path))?;
    let manifest = Manifest::parse(&manifest_text)?;

    let wasm = fs::read(component).map_err(Error::io(component))?;
    if !is_component(&wasm) {
        return Err(Error::NotAComponent {
            path: component.to_path_buf(),
        });
    }
    let schema = plugin_dir.join(&manifest.config_schema);
    refuse_symlink(&schema)?;
    if !schema.is_file() {
        return Err(Error::Field {
            field: "config-schema",
            message: format!("{} does not exist", schema.display()),
        });
    }
    for chart in &manifest.charts {
        refuse_symlink(&plugin_dir.join(chart))?;
        let chart_yaml = plugin_dir.join(chart).join("Chart.yaml");
        if !chart_yaml.is_file() {
            return Err(Error::Field {
                field: "charts",
                message: format!("{} does not exist", chart_yaml.display()),
            });
        }
    }

    let out = out_root.join(&manifest.id);
    // Start from an empty directory so files a previous build had do not linger.
    if out.exists() {
        fs::remove_dir_all(&out).map_err(Error::io(&out))?;
    }
    fs::create_dir_all(&out).map_err(Error::io(&out))?;
    write(&out.join(MANIFEST_FILE), manifest_text.as_bytes())?;
    write(&out.join(&manifest.component), &wasm)?;
    copy_file(&schema, &out.join(&manifest.config_schema))?;
    for chart in &manifest.charts {
        copy_dir(&plugin_dir.join(chart), &out.join(chart))?;
    }
    Ok(out)
}

/// Fails if `path` is a symbolic link (a missing path is left to the
/// caller's own check).
fn refuse_symlink(path: &Path) -> Result<()> {
    match fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_symlink() => Err(Error::Symlink {
            path: path.to_path_buf(),
        }),
        _ => Ok(()),
    }
}

fn write(path: &Path, bytes: &[u8]) -> Result<()> {
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).map_err(Error::io(parent))?;
    }
    fs::write(path, bytes).map_err(Error::io(path))
}

fn copy_file(from: &Path, to: &Path) -> Result<()> {
    let bytes = fs::read(from).map_err(Error::io(from))?;
    write(to, &bytes)
}

fn copy_dir(from: &Path, to: &Path) -> Result<()> {
    fs::create_dir_all(to).map_err(Error::io(to))?;
    for entry in fs::read_dir(from).map_err(Error::io(from))? {
        let entry = entry.map_err(Error::io(from))?;
        let path = entry.path();
        let kind = entry.file_type().map_err(Error::io(&path))?;
        let target = to.join(entry.file_name());
        if kind.is_symlink() {
            // A bundle is self-contained and must not point outside itself;
            // the host refuses bundles with links, so say so now.
            return Err(Error::Symlink { path });
        } else if kind.is_dir() {
            copy_dir(&path, &target)?;
        } else if kind.is_file() {
            copy_file(&path, &target)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn temp_dir() -> PathBuf {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "storeplane-bundle-test-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn plugin_source(dir: &Path) {
        let manifest = Manifest {
            id: "demo".into(),
            version: "0.1.0".into(),
            wit: "0.1.0".into(),
            component: "plugin.wasm".into(),
            capabilities: vec!["helm".into()],
            config_schema: "config.schema.json".into(),
            charts: vec!["charts/demo".into()],
        };
        fs::write(dir.join(MANIFEST_FILE), manifest.to_toml()).unwrap();
        fs::write(dir.join("config.schema.json"), "{}").unwrap();
        fs::create_dir_all(dir.join("charts/demo/templates")).unwrap();
        fs::write(dir.join("charts/demo/Chart.yaml"), "name: demo\n").unwrap();
        fs::write(
            dir.join("charts/demo/templates/cm.yaml"),
            "kind: ConfigMap\n",
        )
        .unwrap();
    }

    #[test]
    fn assembles_manifest_component_schema_and_charts() {
        let dir = temp_dir();
        let source = dir.join("src");
        fs::create_dir_all(&source).unwrap();
        plugin_source(&source);
        let wasm = dir.join("demo.wasm");
        fs::write(&wasm, [&COMPONENT_HEADER[..], b"rest"].concat()).unwrap();
        // A stale file from an earlier build must not survive.
        fs::create_dir_all(dir.join("out/demo")).unwrap();
        fs::write(dir.join("out/demo/stale"), "x").unwrap();

        let bundle = assemble(&source, &wasm, &dir.join("out")).unwrap();

        assert_eq!(bundle, dir.join("out/demo"));
        for file in [
            "plugin.toml",
            "plugin.wasm",
            "config.schema.json",
            "charts/demo/Chart.yaml",
            "charts/demo/templates/cm.yaml",
        ] {
            assert!(bundle.join(file).is_file(), "{file} missing");
        }
        assert!(!bundle.join("stale").exists());
        fs::remove_dir_all(dir).unwrap();
    }

    #[cfg(unix)]
    #[test]
    fn refuses_a_chart_holding_a_symlink() {
        let dir = temp_dir();
        plugin_source(&dir);
        std::os::unix::fs::symlink("/etc/hostname", dir.join("charts/demo/host.txt")).unwrap();
        let wasm = dir.join("p.wasm");
        fs::write(&wasm, COMPONENT_HEADER).unwrap();
        let err = assemble(&dir, &wasm, &dir.join("out")).unwrap_err();
        assert!(
            matches!(&err, Error::Symlink { path } if path.ends_with("charts/demo/host.txt")),
            "{err}"
        );
        assert!(err.to_string().contains("symbolic link"), "{err}");
        fs::remove_dir_all(dir).unwrap();
    }

    #[cfg(unix)]
    #[test]
    fn refuses_a_symlinked_schema() {
        let dir = temp_dir();
        plugin_source(&dir);
        fs::rename(dir.join("config.schema.json"), dir.join("real.json")).unwrap();
        std::os::unix::fs::symlink(dir.join("real.json"), dir.join("config.schema.json")).unwrap();
        let wasm = dir.join("p.wasm");
        fs::write(&wasm, COMPONENT_HEADER).unwrap();
        let err = assemble(&dir, &wasm, &dir.join("out")).unwrap_err();
        assert!(matches!(err, Error::Symlink { .. }), "{err}");
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn refuses_a_core_module_as_component() {
        let dir = temp_dir();
        plugin_source(&dir);
        let module = dir.join("core.wasm");
        fs::write(&module, [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00]).unwrap();
        let err = assemble(&dir, &module, &dir.join("out")).unwrap_err();
        assert!(matches!(err, Error::NotAComponent { .. }), "{err}");
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn refuses_a_manifest_naming_a_missing_chart() {
        let dir = temp_dir();
        plugin_source(&dir);
        fs::remove_dir_all(dir.join("charts")).unwrap();
        let wasm = dir.join("p.wasm");
        fs::write(&wasm, COMPONENT_HEADER).unwrap();
        let err = assemble(&dir, &wasm, &dir.join("out")).unwrap_err();
        assert!(
            matches!(
                err,
                Error::Field {
                    field: "charts",
                    ..
                }
            ),
            "{err}"
        );
        fs::remove_dir_all(dir).unwrap();
    }
}
