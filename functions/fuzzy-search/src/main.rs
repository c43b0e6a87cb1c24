//! The fuzzy-search function of the Lumos paper's Table 1, served by the lumos SDK.
lumos_sdk::main!(fuzzy_search::handler);
