//! The header of WasmEdge's AoT custom section (`wasmedge`) in a universal
//! wasm module; readable without the `wasmedge` feature.

/// The AoT section header: (binary version, OS, arch), as WasmEdge 0.14 writes it.
pub fn aot_section_header(wasm: &[u8]) -> Option<(u32, u8, u8)> {
    fn leb(b: &[u8], i: &mut usize) -> Option<u32> {
        let (mut r, mut s) = (0u32, 0);
        loop {
            let x = *b.get(*i)?;
            *i += 1;
            r |= ((x & 0x7f) as u32) << s;
            s += 7;
            if x < 0x80 {
                return Some(r);
            }
            if s > 28 {
                return None;
            }
        }
    }
    if !wasm.starts_with(b"\0asm") {
        return None;
    }
    let mut i = 8;
    while i < wasm.len() {
        let id = wasm[i];
        i += 1;
        let n = leb(wasm, &mut i)? as usize;
        let end = i.checked_add(n)?;
        if id == 0 {
            let mut j = i;
            let nl = leb(wasm, &mut j)? as usize;
            if wasm.get(j..j + nl)? == b"wasmedge" {
                let mut k = j + nl;
                let version = leb(wasm, &mut k)?;
                return Some((version, *wasm.get(k)?, *wasm.get(k + 1)?));
            }
        }
        i = end;
    }
    None
}

/// The arch byte WasmEdge 0.14 writes for this CPU.
pub fn host_aot_arch() -> u8 {
    if cfg!(target_arch = "aarch64") {
        2
    } else {
        1
    }
}
