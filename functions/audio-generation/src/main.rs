//! The audio-generation function of the Lumos paper's Table 1, served by the lumos SDK.
lumos_sdk::main!(audio_generation::handler);
