//! What a chart series stands for, and its colour.
//!
//! Every series has its own colour, fixed by what it is (so a runtime has the
//! same colour in every chart): an exhaustive match, so a new runtime cannot
//! be added without choosing one. An image kind shares the colour of the one
//! runtime it is made for (they never meet in one chart); the `wasm` image,
//! run by three runtimes, has a colour of its own.

use lumos_model::Runtime;
use plotters::style::RGBColor;

/// The image a runtime runs, as charted (three runtimes share the `wasm` one).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ImageKind {
    Native,
    Wasm,
    AotWasmtime,
    AotWasmedge,
}

impl ImageKind {
    pub const ALL: [ImageKind; 4] = [
        ImageKind::Native,
        ImageKind::Wasm,
        ImageKind::AotWasmtime,
        ImageKind::AotWasmedge,
    ];

    /// The image `runtime` runs.
    pub fn of(runtime: Runtime) -> ImageKind {
        match runtime {
            Runtime::Native => ImageKind::Native,
            Runtime::WasmtimeAot | Runtime::WasmtimePooled => ImageKind::AotWasmtime,
            Runtime::WasmedgeAot => ImageKind::AotWasmedge,
            Runtime::WasmtimeJit | Runtime::WasmiInterp | Runtime::WasmedgeInterp => {
                ImageKind::Wasm
            }
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            ImageKind::Native => "native",
            ImageKind::Wasm => "wasm",
            ImageKind::AotWasmtime => "aot-wasmtime",
            ImageKind::AotWasmedge => "aot-wasmedge",
        }
    }
}

/// What one series of a chart stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Series {
    Runtime(Runtime),
    Image(ImageKind),
}

impl Series {
    pub fn name(self) -> &'static str {
        match self {
            Series::Runtime(r) => r.as_str(),
            Series::Image(k) => k.name(),
        }
    }

    /// The series' colour (Tableau 10).
    pub fn colour(self) -> RGBColor {
        match self {
            Series::Runtime(r) => runtime_colour(r),
            Series::Image(ImageKind::Native) => runtime_colour(Runtime::Native),
            Series::Image(ImageKind::AotWasmtime) => runtime_colour(Runtime::WasmtimeAot),
            Series::Image(ImageKind::AotWasmedge) => runtime_colour(Runtime::WasmedgeAot),
            Series::Image(ImageKind::Wasm) => RGBColor(0x94, 0x67, 0xbd),
        }
    }

    /// The colour as CSS/SVG writes it, `#rrggbb`.
    pub fn css_colour(self) -> String {
        let RGBColor(r, g, b) = self.colour();
        format!("#{r:02x}{g:02x}{b:02x}")
    }
}

fn runtime_colour(r: Runtime) -> RGBColor {
    match r {
        Runtime::Native => RGBColor(0x44, 0x44, 0x44),
        Runtime::WasmtimeAot => RGBColor(0x1f, 0x77, 0xb4),
        Runtime::WasmtimeJit => RGBColor(0x17, 0xbe, 0xcf),
        Runtime::WasmiInterp => RGBColor(0xd6, 0x27, 0x28),
        Runtime::WasmedgeInterp => RGBColor(0xff, 0x7f, 0x0e),
        Runtime::WasmedgeAot => RGBColor(0x2c, 0xa0, 0x2c),
        Runtime::WasmtimePooled => RGBColor(0x8c, 0x56, 0x4b),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    #[test]
    fn every_series_of_a_kind_has_its_own_colour() {
        let runtimes: BTreeSet<String> = Runtime::ALL
            .iter()
            .map(|&r| Series::Runtime(r).css_colour())
            .collect();
        assert_eq!(runtimes.len(), Runtime::ALL.len());
        let images: BTreeSet<String> = ImageKind::ALL
            .iter()
            .map(|&k| Series::Image(k).css_colour())
            .collect();
        assert_eq!(images.len(), ImageKind::ALL.len());
        // `wasm` (the image) and `aot-wasmedge` shared one colour once.
        assert_ne!(
            Series::Image(ImageKind::Wasm).css_colour(),
            Series::Image(ImageKind::AotWasmedge).css_colour()
        );
    }
}
