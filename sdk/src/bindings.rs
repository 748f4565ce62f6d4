//! Generated bindings for the `hookmesh:plugin@0.1.0` world (`sdk/wit/`).
//!
//! Plugin authors rarely touch this module: [`crate::Plugin`] and
//! [`crate::export_plugin!`] wrap it.
#![allow(missing_docs)]

wit_bindgen::generate!({
    world: "plugin",
    path: "wit",
    default_bindings_module: "hookmesh_sdk::bindings",
    pub_export_macro: true,
    export_macro_name: "__export_plugin_world",
    // So tests can `assert_eq!` on `Outcome`, `PluginError` and the records
    // (the contract has no floats or resources, so every type can derive it).
    additional_derives: [PartialEq],
});
