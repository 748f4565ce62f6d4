//! A plugin built against `hookmesh:plugin@0.2.0`, which this host does not
//! speak. Exists only so the host's ABI check can be tested.
#![allow(missing_docs)]

wit_bindgen::generate!({ world: "plugin", path: "wit" });

struct FromTheFuture;

impl exports::hookmesh::plugin::provider::Guest for FromTheFuture {
    fn manifest_json() -> String {
        r#"{"name":"from-the-future","abi_version":"0.2.0"}"#.into()
    }
}

export!(FromTheFuture);
