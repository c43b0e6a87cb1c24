//! Registry credentials for containerd's own pull (`ctr images pull`), found
//! as the runner's own pulls find them (lumos-oci's
//! [`auth::lookup`](lumos_oci::registry::auth::lookup):
//! `LUMOS_REGISTRY_USER`/`LUMOS_REGISTRY_PASSWORD`, then the Docker config's
//! `credHelpers`, `auths`, `credsStore`).
//!
//! The secret never goes on ctr's command line (`--user user:password`
//! would put it in `/proc/PID/cmdline`, which every user can read). ctr 1.6
//! takes `--user USER` alone and then asks for the password on its console
//! (containerd/console's `Current()`: the first of stderr, stdout, stdin
//! that is a terminal), so ctr gets a pseudo-terminal of its own as stdin,
//! in raw mode without echo, and the password is written to the master
//! side. ctr's resolver then answers both kinds of challenge with it:
//! `Basic` (htpasswd) and `Bearer` (it asks the registry's token service,
//! first by OAuth POST, then by GET with Basic credentials). ctr resolves
//! and fetches in its own process: containerd never sees the secret.
//!
//! Other ways were weighed: `--refresh TOKEN` is on the command line too;
//! a `hosts.toml` `Authorization` header (`--hosts-dir`) only works for
//! Basic auth and puts the secret in a file; containerd 1.6 has no
//! environment variable or credential-helper support in ctr.

use std::io::Write;
use std::os::fd::{FromRawFd, OwnedFd};
use std::process::{Command, Output, Stdio};

use lumos_oci::registry::auth::{self, Found};
use lumos_oci::registry::{Client, ClientOptions, Credentials};

use super::containerd::ContainerdError;

/// The longest password ctr reads: its prompt takes one `bufio.Reader`
/// line (4096 bytes, the newline included) and drops the rest.
const MAX_PASSWORD: usize = 4095;

/// The credentials for `registry` (`host[:port]`), looked up as the
/// runner's own pulls do.
pub fn lookup(registry: &str) -> Result<Found, ContainerdError> {
    auth::lookup(registry).map_err(|source| ContainerdError::Credentials {
        registry: registry.to_string(),
        source: Box::new(source),
    })
}

/// Before ctr gets credentials for `registry`: refuses, as the runner's own
/// client does, a registry whose token service is plain HTTP off this
/// machine (ctr would send the password there). Asks the registry's `/v2/`
/// once (no retries), only when there are credentials and not `insecure`.
pub fn check_token_service(registry: &str, found: &Found, insecure: bool) -> crate::Result<()> {
    if found.credentials.is_none() || insecure {
        return Ok(());
    }
    let client = Client::connect(
        registry,
        ClientOptions {
            credentials: Some(found.clone()),
            retries: 0,
            ..Default::default()
        },
    )?;
    client.check_token_service()?;
    Ok(())
}

/// ctr's arguments (after `--address SOCKET`) to pull `reference`: `user`
/// is the only part of the credentials on the command line.
pub fn pull_args(reference: &str, plain_http: bool, user: Option<&str>) -> Vec<String> {
    let mut args = vec!["images".to_string(), "pull".to_string()];
    if plain_http {
        args.push("--plain-http".into());
    }
    if let Some(u) = user {
        args.extend(["--user".into(), u.to_string()]);
    }
    args.push(reference.to_string());
    args
}

/// Refuses credentials ctr cannot take through its prompt, saying why.
fn check(registry: &str, found: &Found, c: &Credentials) -> Result<(), ContainerdError> {
    let why = if c.username.is_empty() {
        "the user name is empty (ctr then pulls anonymously)"
    } else if c.username.contains(':') {
        "the user name holds ':' (ctr would read what follows as the password)"
    } else if c.password.contains(['\n', '\r']) {
        "the password holds a line break (ctr reads one line)"
    } else if c.password.len() > MAX_PASSWORD {
        "the password is longer than the 4095 bytes ctr reads"
    } else {
        return Ok(());
    };
    Err(ContainerdError::UnusableCredentials {
        registry: registry.to_string(),
        source_name: found.source.clone(),
        why,
    })
}

/// Runs `ctr` (`cmd`, its arguments from [`pull_args`]) to the end, stdout
/// and stderr captured; with `creds`, the password goes to ctr's prompt on a
/// pseudo-terminal.
pub fn run_pull(mut cmd: Command, registry: &str, found: &Found) -> crate::Result<Output> {
    let program = std::path::PathBuf::from(cmd.get_program());
    let io = |e| crate::Error::io("run", &program, e);
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    let Some(c) = &found.credentials else {
        return cmd.stdin(Stdio::null()).output().map_err(io);
    };
    check(registry, found, c)?;
    let (master, slave) = raw_pty().map_err(|source| ContainerdError::Pty { source })?;
    let child = cmd.stdin(Stdio::from(slave)).spawn().map_err(io)?;
    // Our copy of the slave went with `cmd`'s Stdio; drop the rest of it.
    drop(cmd);
    let mut master = std::fs::File::from(master);
    let mut line = Vec::with_capacity(c.password.len() + 1);
    line.extend_from_slice(c.password.as_bytes());
    line.push(b'\n');
    // At most 4096 bytes: the terminal's buffers take them without a reader.
    let wrote = master.write_all(&line);
    line.fill(0);
    let out = child.wait_with_output().map_err(io)?;
    // Kept open until ctr is gone: closing it would hang up ctr's terminal.
    drop(master);
    wrote.map_err(|source| ContainerdError::Pty { source })?;
    Ok(out)
}

/// A pseudo-terminal (master, slave), both close-on-exec, the slave in raw
/// mode without echo. Hand-written over libc (a dozen calls) rather than a
/// crate: nix's or rustix's pty modules would add a dependency for it, and
/// `openpty` makes descriptors other threads' children could inherit.
fn raw_pty() -> std::io::Result<(OwnedFd, OwnedFd)> {
    let last = std::io::Error::last_os_error;
    // SAFETY: plain libc calls on descriptors this function owns; each
    // return value is checked before the descriptor is used.
    unsafe {
        let m = libc::posix_openpt(libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC);
        if m < 0 {
            return Err(last());
        }
        let master = OwnedFd::from_raw_fd(m);
        if libc::grantpt(m) != 0 || libc::unlockpt(m) != 0 {
            return Err(last());
        }
        let mut name = [0 as libc::c_char; 128];
        if libc::ptsname_r(m, name.as_mut_ptr(), name.len()) != 0 {
            return Err(last());
        }
        let s = libc::open(
            name.as_ptr(),
            libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC,
        );
        if s < 0 {
            return Err(last());
        }
        let slave = OwnedFd::from_raw_fd(s);
        let mut t: libc::termios = std::mem::zeroed();
        if libc::tcgetattr(s, &mut t) != 0 {
            return Err(last());
        }
        // No echo (the password never comes back out), no line editing or
        // signal characters (a password may hold any byte but a newline).
        libc::cfmakeraw(&mut t);
        if libc::tcsetattr(s, libc::TCSANOW, &t) != 0 {
            return Err(last());
        }
        Ok((master, slave))
    }
}

/// `text` with the password of `found` (when long enough to be told from
/// ordinary words) replaced: ctr does not print it, this makes sure.
pub fn redact(text: &str, found: &Found) -> String {
    match &found.credentials {
        Some(c) if c.password.len() >= 6 => text.replace(c.password.as_str(), "<redacted>"),
        _ => text.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found(user: &str, password: &str) -> Found {
        Found {
            credentials: Some(Credentials {
                username: user.into(),
                password: password.into(),
            }),
            source: "test".into(),
        }
    }

    #[test]
    fn the_command_line_holds_the_user_and_never_the_password() {
        let args = pull_args("r:5000/a/b:c", true, Some("alice"));
        assert_eq!(
            args,
            [
                "images",
                "pull",
                "--plain-http",
                "--user",
                "alice",
                "r:5000/a/b:c"
            ]
        );
        assert_eq!(pull_args("r/a:b", false, None), ["images", "pull", "r/a:b"]);
    }

    #[test]
    fn credentials_ctr_cannot_take_are_refused_naming_why() {
        for (user, password, why) in [
            ("", "x", "user name is empty"),
            ("a:b", "x", "holds ':'"),
            ("a", "x\ny", "line break"),
        ] {
            let f = found(user, password);
            let e = check("r:1", &f, f.credentials.as_ref().unwrap()).unwrap_err();
            let msg = e.to_string();
            assert!(msg.contains(why) && msg.contains("r:1"), "{msg}");
            assert!(!msg.contains(password), "{msg}");
        }
        let long = "p".repeat(MAX_PASSWORD + 1);
        let f = found("a", &long);
        assert!(check("r:1", &f, f.credentials.as_ref().unwrap()).is_err());
        let f = found("a", &"p".repeat(MAX_PASSWORD));
        assert!(check("r:1", &f, f.credentials.as_ref().unwrap()).is_ok());
    }

    #[test]
    fn the_password_reaches_a_reader_of_the_pty_once_without_echo() {
        let (master, slave) = raw_pty().unwrap();
        let mut child = Command::new("head")
            .args(["-n", "1"])
            .stdin(Stdio::from(slave))
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut m = std::fs::File::from(master);
        m.write_all(b"s3cr\x03t\x04x\n").unwrap();
        let out = child.stdout.take().unwrap();
        let mut got = Vec::new();
        std::io::Read::read_to_end(&mut { out }, &mut got).unwrap();
        child.wait().unwrap();
        // Control characters pass as bytes (raw mode).
        assert_eq!(got, b"s3cr\x03t\x04x\n");
        // Nothing came back on the master side (no echo).
        // SAFETY: a non-blocking read on a descriptor we own.
        let n = unsafe {
            use std::os::fd::AsRawFd;
            let fd = m.as_raw_fd();
            libc::fcntl(fd, libc::F_SETFL, libc::O_NONBLOCK);
            let mut b = [0u8; 64];
            libc::read(fd, b.as_mut_ptr().cast(), b.len())
        };
        assert!(n <= 0, "the terminal echoed {n} bytes");
    }
}
