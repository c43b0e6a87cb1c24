//! The audio-generation function: synthesises a sum of sine tones and returns it as a WAV file.
//!
//! Request: `{"sample_rate":44100,"samples":262122,"tones":[{"frequency":440.0,"amplitude":0.3}]}`
//! (`sample_rate` defaults to 44,100 Hz).
//!
//! Response: the WAV file itself — RIFF/WAVE, PCM, 16-bit, mono — of exactly
//! `44 + 2 × samples` bytes. Synthesis (one `sin` per tone per sample, in f64)
//! is `compute`; quantising to 16-bit and writing the RIFF container is `serialize`.

use lumos_sdk::{Error, Request, Response, Result};
use serde::Deserialize;

/// Size of the canonical 44-byte WAV header.
pub const WAV_HEADER_LEN: usize = 44;
/// The most samples served (the response then is ~100 MB).
pub const MAX_SAMPLES: u32 = 50_000_000;
/// The most tones mixed.
pub const MAX_TONES: usize = 64;

/// One sine tone.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tone {
    /// Frequency in Hz.
    pub frequency: f64,
    /// Peak amplitude, 0..=1 of full scale.
    pub amplitude: f64,
}

fn default_sample_rate() -> u32 {
    44_100
}

/// The request body.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Input {
    /// Samples per second.
    #[serde(default = "default_sample_rate")]
    pub sample_rate: u32,
    /// Number of samples (the WAV is 44 + 2 × samples bytes).
    pub samples: u32,
    /// The tones to mix.
    pub tones: Vec<Tone>,
}

impl Input {
    /// Checks the request's limits.
    pub fn validate(&self) -> Result<()> {
        if !(1_000..=384_000).contains(&self.sample_rate) {
            return Err(Error::bad_request(
                "sample_rate must be within 1000..=384000",
            ));
        }
        if self.samples > MAX_SAMPLES {
            return Err(Error::bad_request(format!(
                "samples must be at most {MAX_SAMPLES}"
            )));
        }
        if self.tones.is_empty() || self.tones.len() > MAX_TONES {
            return Err(Error::bad_request(format!(
                "tones must hold 1..={MAX_TONES} tones"
            )));
        }
        for t in &self.tones {
            if !(t.frequency.is_finite()
                && t.frequency > 0.0
                && t.amplitude.is_finite()
                && (0.0..=1.0).contains(&t.amplitude))
            {
                return Err(Error::bad_request(
                    "a tone needs a positive finite frequency and an amplitude within 0..=1",
                ));
            }
        }
        Ok(())
    }
}

/// The mixed signal, one f64 per sample, clipped to [-1, 1].
pub fn synthesize(input: &Input) -> Vec<f64> {
    let rate = f64::from(input.sample_rate);
    let steps: Vec<(f64, f64)> = input
        .tones
        .iter()
        .map(|t| (2.0 * std::f64::consts::PI * t.frequency / rate, t.amplitude))
        .collect();
    (0..input.samples)
        .map(|i| {
            let i = f64::from(i);
            steps
                .iter()
                .map(|&(w, a)| a * (w * i).sin())
                .sum::<f64>()
                .clamp(-1.0, 1.0)
        })
        .collect()
}

/// The canonical 44-byte header of a 16-bit mono PCM WAV.
pub fn wav_header(sample_rate: u32, samples: u32) -> [u8; WAV_HEADER_LEN] {
    let data_len = samples * 2;
    let mut h = [0u8; WAV_HEADER_LEN];
    h[0..4].copy_from_slice(b"RIFF");
    h[4..8].copy_from_slice(&(36 + data_len).to_le_bytes());
    h[8..12].copy_from_slice(b"WAVE");
    h[12..16].copy_from_slice(b"fmt ");
    h[16..20].copy_from_slice(&16u32.to_le_bytes()); // fmt chunk size
    h[20..22].copy_from_slice(&1u16.to_le_bytes()); // PCM
    h[22..24].copy_from_slice(&1u16.to_le_bytes()); // mono
    h[24..28].copy_from_slice(&sample_rate.to_le_bytes());
    h[28..32].copy_from_slice(&(sample_rate * 2).to_le_bytes()); // byte rate
    h[32..34].copy_from_slice(&2u16.to_le_bytes()); // block align
    h[34..36].copy_from_slice(&16u16.to_le_bytes()); // bits per sample
    h[36..40].copy_from_slice(b"data");
    h[40..44].copy_from_slice(&data_len.to_le_bytes());
    h
}

/// Encodes a signal as a 16-bit mono PCM WAV file.
pub fn encode_wav(sample_rate: u32, signal: &[f64]) -> Vec<u8> {
    let mut out = Vec::with_capacity(WAV_HEADER_LEN + 2 * signal.len());
    out.extend_from_slice(&wav_header(sample_rate, signal.len() as u32));
    for &s in signal {
        out.extend_from_slice(&((s * 32767.0).round() as i16).to_le_bytes());
    }
    out
}

/// The lumos handler.
pub fn handler(req: &mut Request<'_>) -> Result<Response> {
    let input: Input = req.json()?;
    input.validate()?;
    let signal = synthesize(&input);
    let wav = req.serialize_with(|| encode_wav(input.sample_rate, &signal));
    Ok(Response::new(wav))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn u32_at(b: &[u8], at: usize) -> u32 {
        u32::from_le_bytes(b[at..at + 4].try_into().unwrap())
    }

    #[test]
    fn valid_header_and_exact_size() {
        let mut store = lumos_sdk::NoStorage {
            message: "unused".into(),
        };
        let body = br#"{"samples":262122,"tones":[{"frequency":440.0,"amplitude":0.5}]}"#;
        let mut req = Request::with_storage(&body[..], &mut store);
        let wav = handler(&mut req).unwrap().into_body();
        assert_eq!(wav.len(), 512 * 1024, "44 + 2 x 262122 bytes");
        assert_eq!(&wav[0..4], b"RIFF");
        assert_eq!(u32_at(&wav, 4) as usize, wav.len() - 8);
        assert_eq!(&wav[8..16], b"WAVEfmt ");
        assert_eq!(u32_at(&wav, 16), 16);
        assert_eq!(u16::from_le_bytes([wav[20], wav[21]]), 1, "PCM");
        assert_eq!(u16::from_le_bytes([wav[22], wav[23]]), 1, "mono");
        assert_eq!(u32_at(&wav, 24), 44_100);
        assert_eq!(u32_at(&wav, 28), 88_200);
        assert_eq!(u16::from_le_bytes([wav[34], wav[35]]), 16);
        assert_eq!(&wav[36..40], b"data");
        assert_eq!(u32_at(&wav, 40) as usize, wav.len() - 44);
        assert!(req.meta().phases.serialize > std::time::Duration::ZERO);
    }

    #[test]
    fn the_samples_are_the_sine() {
        let input = Input {
            sample_rate: 8_000,
            samples: 8_000,
            tones: vec![Tone {
                frequency: 1_000.0,
                amplitude: 1.0,
            }],
        };
        let wav = encode_wav(8_000, &synthesize(&input));
        let sample = |k: usize| i16::from_le_bytes([wav[44 + 2 * k], wav[45 + 2 * k]]);
        // 1 kHz at 8 kHz: period of 8 samples, sample 2 is the positive peak.
        assert_eq!(sample(0), 0);
        assert_eq!(sample(2), 32767);
        assert_eq!(sample(6), -32767);
        assert_eq!(sample(10), 32767);
        // Two full-scale tones clip instead of wrapping around.
        let loud = Input {
            tones: vec![input.tones[0], input.tones[0]],
            ..input
        };
        assert!(synthesize(&loud).iter().all(|s| (-1.0..=1.0).contains(s)));
    }

    #[test]
    fn bad_requests() {
        let mut store = lumos_sdk::NoStorage {
            message: "unused".into(),
        };
        for body in [
            &br#"{"samples":10,"tones":[]}"#[..],
            br#"{"samples":10,"tones":[{"frequency":-1.0,"amplitude":0.5}]}"#,
            br#"{"samples":100000000,"tones":[{"frequency":440.0,"amplitude":0.5}]}"#,
            br#"{"sample_rate":10,"samples":10,"tones":[{"frequency":440.0,"amplitude":0.5}]}"#,
        ] {
            let mut req = Request::with_storage(body, &mut store);
            assert_eq!(
                handler(&mut req).unwrap_err().kind(),
                lumos_sdk::ErrorKind::BadRequest
            );
        }
    }
}
