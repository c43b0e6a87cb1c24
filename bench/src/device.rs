//! Device profiles (`--device FILE[:NAME]`): a TOML file of named tables,
//!
//! ```toml
//! [edge-small]
//! cpus = 1
//! memory_mib = 512
//! ```
//!
//! each giving the CPUs and memory every instance of a run gets. NAME picks
//! a table; without it the file must hold exactly one.

use std::collections::BTreeMap;
use std::path::Path;

use lumos_model::Device;

use crate::error::bail;

/// Reads `spec` (`FILE` or `FILE:NAME`) into the device it names.
pub fn load(spec: &str) -> crate::Result<Device> {
    // FILE:NAME, unless the whole of it is a file (a path with a colon).
    let (file, name) = match spec.rsplit_once(':') {
        Some((f, n)) if !Path::new(spec).exists() && !n.contains('/') => (f, Some(n)),
        _ => (spec, None),
    };
    let text = std::fs::read_to_string(file).map_err(|source| crate::Error::Io {
        context: format!("--device: reading {file}"),
        source,
    })?;
    let mut table: BTreeMap<String, Device> =
        toml::from_str(&text).map_err(|source| crate::Error::Device {
            path: file.into(),
            source,
        })?;
    let (name, mut device) = match name {
        Some(n) => match table.remove_entry(n) {
            Some(found) => found,
            None => bail!(
                "--device: {file} has no profile {n:?} (it has: {})",
                names(&table)
            ),
        },
        None if table.len() == 1 => table.pop_first().expect("one entry"),
        None => bail!(
            "--device: {file} holds {} profiles; name one as {file}:NAME ({})",
            table.len(),
            names(&table)
        ),
    };
    if let Some(c) = device.cpus {
        if let Err(e) = lumos_runtimes::bounds::cpus_value(c) {
            bail!("--device: {file}: [{name}] cpus: {e}");
        }
    }
    if let Some(m) = device.memory_mib {
        if !lumos_runtimes::bounds::MEMORY_MIB.contains(&m) {
            bail!("--device: {file}: [{name}] memory_mib: {m} is outside 0..=1048576");
        }
    }
    device.name = name;
    Ok(device)
}

fn names(table: &BTreeMap<String, Device>) -> String {
    let v: Vec<&str> = table.keys().map(String::as_str).collect();
    if v.is_empty() {
        "none".into()
    } else {
        v.join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(text: &str) -> tempfile::NamedTempFile {
        let f = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(f.path(), text).unwrap();
        f
    }

    #[test]
    fn a_named_profile_or_the_only_one() {
        let f = file("[edge-small]\ncpus = 0.5\nmemory_mib = 256\n[cloud]\ncpus = 2\n");
        let p = f.path().display().to_string();
        let d = load(&format!("{p}:edge-small")).unwrap();
        assert_eq!(
            d,
            Device {
                name: "edge-small".into(),
                cpus: Some(0.5),
                memory_mib: Some(256)
            }
        );
        let e = load(&p).unwrap_err().to_string();
        assert!(
            e.contains("holds 2 profiles") && e.contains("cloud, edge-small"),
            "{e}"
        );
        let e = load(&format!("{p}:edge")).unwrap_err().to_string();
        assert!(e.contains("no profile \"edge\""), "{e}");
        let one = file("[pi]\nmemory_mib = 128\n");
        assert_eq!(load(&one.path().display().to_string()).unwrap().name, "pi");
    }

    #[test]
    fn bad_profiles_are_refused_naming_the_file() {
        for (text, want) in [
            ("[x]\ncpus = 0\n", "cpus"),
            ("[x]\ncores = 1\n", "unknown field"),
            ("[x]\nmemory_mib = -1\n", "not a device"),
        ] {
            let f = file(text);
            let p = f.path().display().to_string();
            let e = lumos_model::error_chain(&load(&p).unwrap_err());
            assert!(e.contains(&p) && e.contains(want), "{text}: {e}");
        }
        let e = load("/nonexistent/devices.toml").unwrap_err().to_string();
        assert!(e.contains("/nonexistent/devices.toml"), "{e}");
    }
}
