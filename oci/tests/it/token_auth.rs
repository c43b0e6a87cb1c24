//! Bearer token auth (Docker Hub, GHCR and most hosted registries work this
//! way) against a real `docker-registry` configured with `auth.token`, and a
//! test token service whose signing certificate the registry trusts.

use std::path::Path;

use crate::support::token_service::TokenService;
use crate::support::*;
use lumos_oci::reference::Reference;
use lumos_oci::registry::{auth::Found, pull, push_layout, Client, Credentials};
use lumos_oci::{Error, Layout, Platform};

const USER: &str = "token-user";
const PASSWORD: &str = "t0ken-pa55-9f2";

/// A token service for USER/PASSWORD, a registry trusting it (announcing
/// `realm` instead of the service's own, if given), and the packed test image.
fn token_registry(dir: &Path, realm: Option<&str>) -> (TokenService, Registry, Layout) {
    let tokens = TokenService::start(dir, USER, PASSWORD);
    let mut section = tokens.registry_config();
    if let Some(r) = realm {
        section = section.replace(&tokens.realm, r);
    }
    let reg = Registry::start(RegistryOptions {
        auth_section: Some(section),
        ..Default::default()
    });
    (tokens, reg, packed_fibonacci(&dir.join("oci")))
}

fn client_as(host: &str, user: &str, password: &str) -> Client {
    let mut opts = fast_client();
    opts.credentials = Some(Found {
        credentials: Some(Credentials {
            username: user.into(),
            password: password.into(),
        }),
        source: "LUMOS_REGISTRY_USER/LUMOS_REGISTRY_PASSWORD".into(),
    });
    Client::connect(host, opts).unwrap()
}

#[test]
fn push_and_pull_with_bearer_tokens_from_the_registrys_token_service() {
    let dir = tempfile::tempdir().unwrap();
    let (tokens, reg, layout) = token_registry(dir.path(), None);

    let client = client_as(&reg.host(), USER, PASSWORD);
    let pushed = push_layout(&client, &layout, "lumos", "", &[], |_| {}).unwrap();
    assert_eq!(pushed.len(), 6);
    assert!(reg.stored_blobs() >= 6);

    // Tokens were asked as the user, for push on the image's repository, and
    // one token served every request of that repository.
    let asked = tokens.requests();
    assert!(!asked.is_empty());
    assert!(
        asked
            .iter()
            .all(|r| r.granted && r.user.as_deref() == Some(USER)),
        "{asked:?}"
    );
    assert!(
        asked
            .iter()
            .any(|r| r.scopes == ["repository:lumos/fibonacci:pull,push"]),
        "{asked:?}"
    );
    assert!(asked.len() <= 2, "a token per scope, reused: {asked:?}");

    // A new client pulls with a pull-only token.
    let reader = client_as(&reg.host(), USER, PASSWORD);
    let cache = Layout::create(dir.path().join("pulled")).unwrap();
    let r = Reference::parse(&format!("{}/lumos/fibonacci:native", reg.host())).unwrap();
    let pulled = pull(&reader, &cache, &r, Some(&Platform::new("linux", "amd64"))).unwrap();
    assert_eq!(
        pulled.descriptor.digest,
        layout
            .resolve("lumos/fibonacci:native-x86_64")
            .unwrap()
            .digest
    );
    let last = tokens.requests().pop().unwrap();
    assert_eq!(last.scopes, ["repository:lumos/fibonacci:pull"]);
}

#[test]
fn a_refused_token_is_a_clear_unauthorized_without_the_password() {
    let dir = tempfile::tempdir().unwrap();
    let (tokens, reg, layout) = token_registry(dir.path(), None);

    let client = client_as(&reg.host(), USER, "wr0ng-pa55-77");
    let err = push_layout(&client, &layout, "lumos", "", &[], |_| {}).unwrap_err();
    let shown = format!("{err} {err:?} {client:?}");
    assert!(matches!(err, Error::Unauthorized { .. }), "{shown}");
    assert!(shown.contains(&reg.host()), "{shown}");
    assert!(!shown.contains("wr0ng-pa55-77"), "{shown}");
    assert!(
        tokens.requests().iter().all(|r| !r.granted),
        "{:?}",
        tokens.requests()
    );
    assert_eq!(reg.stored_blobs(), 0);
}

#[test]
fn credentials_are_not_sent_to_a_plain_http_token_service_off_this_machine() {
    let dir = tempfile::tempdir().unwrap();
    let (_tokens, reg, layout) = token_registry(dir.path(), Some("http://192.0.2.10/token"));
    let client = client_as(&reg.host(), USER, PASSWORD);
    let err = push_layout(&client, &layout, "lumos", "", &[], |_| {}).unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, Error::Credentials(_)), "{msg}");
    assert!(
        msg.contains("http://192.0.2.10/token") && msg.contains("--insecure"),
        "{msg}"
    );
    assert!(!msg.contains(PASSWORD), "{msg}");
}

#[test]
fn a_token_service_that_never_answers_fails_by_the_deadline_naming_it() {
    let silent = crate::support::faulty::Faulty::start(crate::support::faulty::Fault::Silent);
    let realm = format!("http://{}/token", silent.addr);
    let dir = tempfile::tempdir().unwrap();
    let (_tokens, reg, layout) = token_registry(dir.path(), Some(&realm));
    let mut opts = fast_client();
    opts.timeout = std::time::Duration::from_secs(2);
    opts.retries = 1000;
    opts.credentials = Some(Found {
        credentials: Some(Credentials {
            username: USER.into(),
            password: PASSWORD.into(),
        }),
        source: "test".into(),
    });
    let client = Client::connect(&reg.host(), opts).unwrap();
    let t = std::time::Instant::now();
    let err = push_layout(&client, &layout, "lumos", "", &[], |_| {}).unwrap_err();
    assert!(
        t.elapsed() < std::time::Duration::from_secs(60),
        "{:?}",
        t.elapsed()
    );
    let msg = assert_no_answer(&err, "token service", &silent.addr, "GET /token", 2);
    assert!(!msg.contains(PASSWORD), "{msg}");
    assert!(silent.accepted() >= 1);
}
