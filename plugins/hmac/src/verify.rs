//! Authenticating a request: an HMAC signature or an API key, both
//! compared in constant time. Every refusal is `Unauthorized` naming the
//! header (the host answers `401`).
//!
//! A signature header may carry several candidates separated by spaces or
//! commas (old and new secret during a rotation); any one may match. With
//! a prefix configured, a candidate must start with it.

use crate::config::{Auth, Signature, Signed};
use hookmesh_sdk::inbound::{check_timestamp, require_header};
use hookmesh_sdk::signing::{constant_time_eq, verify_hmac};
use hookmesh_sdk::{InboundRequest, PluginError};

/// Checks `request` under `auth` at the host's clock `now_ms`.
pub fn authenticate(auth: &Auth, request: &InboundRequest, now_ms: u64) -> Result<(), PluginError> {
    match auth {
        Auth::ApiKey { header, key } => {
            let sent = require_header(&request.headers, header)?;
            if constant_time_eq(sent.as_bytes(), key.as_bytes()) {
                Ok(())
            } else {
                Err(PluginError::Unauthorized(format!(
                    "{header} does not match the source's `api_key`"
                )))
            }
        }
        Auth::Signature(signature) => check_signature(signature, request, now_ms),
    }
}

fn check_signature(
    signature: &Signature,
    request: &InboundRequest,
    now_ms: u64,
) -> Result<(), PluginError> {
    let sent = require_header(&request.headers, &signature.header)?;
    let timestamp = match &signature.signed {
        Signed::Body => None,
        Signed::TimestampBody { header, .. } => Some(require_header(&request.headers, header)?),
    };
    let mut signed: Vec<&[u8]> = Vec::with_capacity(3);
    if let Some(timestamp) = timestamp {
        signed.extend([timestamp.as_bytes(), b"."]);
    }
    signed.push(&request.body);
    if !any_candidate_matches(signature, sent, &signed) {
        return Err(PluginError::Unauthorized(format!(
            "{} does not match the body under the source's `secret`",
            signature.header
        )));
    }
    if let (
        Some(timestamp),
        Signed::TimestampBody {
            header,
            tolerance_secs,
        },
    ) = (timestamp, &signature.signed)
    {
        check_fresh(header, timestamp, now_ms, *tolerance_secs)?;
    }
    Ok(())
}

fn any_candidate_matches(signature: &Signature, sent: &str, signed: &[&[u8]]) -> bool {
    sent.split([' ', ','])
        .filter_map(|candidate| candidate.trim().strip_prefix(signature.prefix.as_str()))
        .filter_map(|encoded| signature.encoding.decode(encoded))
        .any(|mac| {
            verify_hmac(
                signature.algorithm,
                signature.secret.as_bytes(),
                signed,
                &mac,
            )
        })
}

fn check_fresh(
    header: &str,
    timestamp: &str,
    now_ms: u64,
    tolerance_secs: u64,
) -> Result<(), PluginError> {
    let seconds: i64 = timestamp.parse().map_err(|_| {
        PluginError::Unauthorized(format!("{header} must be Unix seconds; got `{timestamp}`"))
    })?;
    check_timestamp(seconds, now_ms, tolerance_secs)
        .map_err(|e| PluginError::Unauthorized(format!("{header} {e}")))
}
