//! Credentials through the `docker-credential-*` helper protocol (a helper
//! script on the PATH the lookup is given, as Docker runs them) against a
//! registry with basic auth.

use crate::support::*;
use lumos_model::Variant;
use lumos_oci::registry::{auth, push_layout, Client};
use lumos_oci::Layout;
use std::os::unix::fs::PermissionsExt;

#[test]
fn cred_helpers_and_creds_store_are_asked() {
    let reg = Registry::start(RegistryOptions::basic_auth(
        "helper-user",
        "helper-secret-42",
    ));
    let dir = tempfile::tempdir().unwrap();
    let bin = dir.path().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let log = dir.path().join("helper.log");
    let script = format!(
        "#!/bin/sh\n[ \"$1\" = get ] || exit 1\nread server\necho \"$server\" >> {log}\nif [ \"$server\" = \"{host}\" ]; then\n  printf '{{\"ServerURL\":\"%s\",\"Username\":\"helper-user\",\"Secret\":\"helper-secret-42\"}}' \"$server\"\nelse\n  echo 'credentials not found in native keychain'; exit 1\nfi\n",
        log = log.display(),
        host = reg.host()
    );
    let helper = bin.join("docker-credential-lumostest");
    std::fs::write(&helper, script).unwrap();
    std::fs::set_permissions(&helper, std::fs::Permissions::from_mode(0o755)).unwrap();
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    // The helper is looked for on the PATH of the lookup's environment (this
    // process' PATH stays as it is: other tests run beside this one).
    let env = |k: &str| (k == "PATH").then(|| path.clone());

    let layout = Layout::create(dir.path().join("oci")).unwrap();
    lumos_oci::pack::pack_function(
        &layout,
        "fibonacci",
        &[lumos_oci::pack::ArtifactInput {
            variant: Variant::Wasm,
            path: hello_wasm(),
            engine: None,
        }],
        &lumos_oci::pack::BaseSpec::Scratch,
        &pack_options(),
        &mut Default::default(),
    )
    .unwrap();

    for config in [
        format!(r#"{{"credHelpers":{{"{}":"lumostest"}}}}"#, reg.host()),
        r#"{"credsStore":"lumostest"}"#.to_string(),
    ] {
        let cfg = dir.path().join("config.json");
        std::fs::write(&cfg, &config).unwrap();
        let found = auth::lookup_with(&reg.host(), Some(&cfg), env).unwrap();
        assert!(found.credentials.is_some(), "{}", found.source);
        assert!(!found.source.contains("helper-secret-42"));
        let mut opts = fast_client();
        opts.credentials = Some(found);
        let client = Client::connect(&reg.host(), opts).unwrap();
        let pushed = push_layout(&client, &layout, "lumos", "", &[], |_| {}).unwrap();
        assert_eq!(pushed.len(), 1);
    }
    let asked = std::fs::read_to_string(&log).unwrap();
    assert_eq!(asked.lines().count(), 2, "{asked}");
    // A registry the helper does not know: no credentials, no error.
    let cfg = dir.path().join("config.json");
    let found = auth::lookup_with("127.0.0.1:1", Some(&cfg), env).unwrap();
    assert!(found.credentials.is_none());
}
