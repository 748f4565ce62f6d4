//! The providers' own signing code, run as subprocesses: `node` with
//! `@octokit/webhooks-methods` from `tests/node`, and `python3` with
//! Stripe's library or the standard `hmac` module. A missing tool or
//! package fails the calling test with what to install.

use super::common;
use std::process::Command;

/// Runs `program args…` and returns its trimmed stdout; a missing program or
/// a failure panics with what to install.
fn run(program: &str, args: &[&str], cwd: Option<&std::path::Path>, hint: &str) -> String {
    let mut command = Command::new(program);
    command.args(args);
    if let Some(cwd) = cwd {
        command.current_dir(cwd);
    }
    let output = command
        .output()
        .unwrap_or_else(|e| panic!("cannot run `{program}` ({e}): {hint}"));
    assert!(
        output.status.success(),
        "`{program}` failed ({hint}):\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap().trim().to_string()
}

fn python(script: &str, args: &[&str]) -> String {
    let mut all = vec!["-c", script];
    all.extend_from_slice(args);
    run(
        "python3",
        &all,
        None,
        "tests/run.sh installs python3 and the `stripe` package (pip install stripe)",
    )
}

/// `@octokit/webhooks-methods`' `sign(secret, body)`: `sha256=<hex>`.
pub(super) fn octokit_sign(secret: &str, body: &str) -> String {
    let dir = common::repo_root().join("tests/node");
    assert!(
        dir.join("node_modules/@octokit/webhooks-methods").is_dir(),
        "@octokit/webhooks-methods is not installed in {}: run `npm ci` there (tests/run.sh does)",
        dir.display()
    );
    let script = "import('@octokit/webhooks-methods').then(async ({ sign }) => \
                  console.log(await sign(process.argv[1], process.argv[2])))";
    run(
        "node",
        &["-e", script, secret, body],
        Some(&dir),
        "tests/run.sh installs node and npm",
    )
}

/// Stripe's own test helper: the `Stripe-Signature` header for `body`
/// signed at `timestamp` with `secret`.
pub(super) fn stripe_header(body: &str, secret: &str, timestamp: u64) -> String {
    python(
        "import sys, stripe; print(stripe.WebhookSignature.generate_signature_header(\
         sys.argv[1], sys.argv[2], timestamp=int(sys.argv[3])))",
        &[body, secret, &timestamp.to_string()],
    )
}

/// Python's `hmac`: `algorithm` (`sha256`, `sha512`, `sha1`) over `message`,
/// as `hex` or `base64` — how Shopify documents its check, and how the
/// `hmac` source's senders sign.
pub(super) fn python_hmac(secret: &str, message: &str, algorithm: &str, encoding: &str) -> String {
    python(
        "import sys, hmac, hashlib, base64\n\
         mac = hmac.new(sys.argv[1].encode(), sys.argv[2].encode(), getattr(hashlib, sys.argv[3]))\n\
         print(mac.hexdigest() if sys.argv[4] == 'hex' else base64.b64encode(mac.digest()).decode())",
        &[secret, message, algorithm, encoding],
    )
}
