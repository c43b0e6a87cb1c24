//! `deploy --check-pushed`: asks the registry (HEAD, by digest) whether
//! every image a Service names is there, so that a Service never names an
//! image that was built but never pushed (a node would fail to pull it).

use lumos_oci::registry::client::Body;
use lumos_oci::registry::{Client, ClientOptions};
use lumos_oci::spec::media;

use super::plan::Deployment;
use crate::error::{bail, Context as _, Result};

/// Checks that the registry `host` has every Service's image manifest.
pub fn check_pushed(deployments: &[Deployment], host: &str, opts: ClientOptions) -> Result<()> {
    if deployments.is_empty() {
        return Ok(());
    }
    let client = Client::connect(host, opts).with_context(|| format!("--check-pushed: {host}"))?;
    for d in deployments {
        let path = format!("/v2/{}/manifests/{}", d.repository, d.digest);
        let reply = client
            .send(
                "HEAD",
                &path,
                &d.repository,
                false,
                &[("Accept", media::ACCEPT_MANIFESTS)],
                Body::Empty,
            )
            .with_context(|| format!("{} {}: asking {host}", d.function, d.variant))?;
        match reply.status {
            200 => {}
            404 => bail!(
                "{} {}: {host}/{}@{} was never pushed (run `cargo lumos push --registry {host}/…` first)",
                d.function,
                d.variant,
                d.repository,
                d.digest
            ),
            _ => return Err(client.unexpected("HEAD", &path, reply).into()),
        }
    }
    Ok(())
}
