//! Records the compiler that built the runner (for the results' `versions`).

fn main() {
    println!("cargo:rerun-if-env-changed=RUSTC");
    if let Ok(v) =
        std::process::Command::new(std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into()))
            .arg("--version")
            .output()
    {
        let v = String::from_utf8_lossy(&v.stdout).trim().to_string();
        println!("cargo:rustc-env=LUMOS_RUSTC_VERSION={v}");
    }
}
