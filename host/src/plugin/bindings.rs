//! Host-side bindings generated from the plugin contract in `sdk/wit/`.
#![allow(missing_docs)]

wasmtime::component::bindgen!({
    world: "plugin",
    path: "../sdk/wit",
});
