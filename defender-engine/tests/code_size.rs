//! The code-size rule as Defender wrote it, through the engine with the QuickJS runtime: at
//! most 5 MB once zipped and base64-encoded. A bundle Defender accepted (6 MB of compressible
//! JavaScript) is registered and runs; one that does not compress under the limit is refused
//! with both of its sizes, when added and when its code is updated.

use bytes::Bytes;
use defender_core::{
    CodeSizeError, CodeSource, RunStatus, Trigger, MAX_CODE_BYTES, MAX_UNCOMPRESSED_CODE_BYTES,
};
use defender_engine::{ActionSpec, Engine, EngineError};
use defender_runtime::QuickJsRuntime;
use serde_json::json;
use std::collections::BTreeMap;
use std::sync::Arc;

/// Bytes deflate cannot shrink (xorshift output), the same on every run.
fn noise(len: usize) -> Vec<u8> {
    let mut x: u64 = 0x2545_F491_4F6C_DD1D;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x.to_le_bytes()[0]
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn code_is_counted_zipped_and_base64_encoded() {
    let engine = Engine::builder(Arc::new(QuickJsRuntime::default())).build();

    // 6 MB of JavaScript with a lookup table, as generated bundles have: Defender took it.
    let row = "  [\"0x00000000000000000000000000000000000d3f3d\", 18, \"TOKEN\"],\n";
    let table = row.repeat(6 * 1024 * 1024 / row.len());
    let index = format!(
        "const table = [\n{table}];\nexports.handler = async () => ({{ rows: table.length }});\n"
    );
    assert!(index.len() > MAX_CODE_BYTES);
    let rows = 6 * 1024 * 1024 / row.len();
    engine
        .add_action(ActionSpec::new("big", "Big", index))
        .await
        .expect("a bundle Defender accepted is accepted");
    let run = engine
        .run_action("big", Trigger::Manual, None)
        .await
        .unwrap();
    assert_eq!(run.status, RunStatus::Success, "{run:?}");
    assert_eq!(
        run.result.as_deref(),
        Some(json!({ "rows": rows }).to_string().as_str())
    );

    // 4 MiB that does not compress: under 5 MB raw, over it zipped and base64-encoded.
    let incompressible = CodeSource::Bundle(BTreeMap::from([
        (
            "index.js".to_owned(),
            Bytes::from("exports.handler = async () => 'never';"),
        ),
        ("data.bin".to_owned(), Bytes::from(noise(4 * 1024 * 1024))),
    ]));
    let raw = incompressible.size();
    assert!(raw < MAX_CODE_BYTES);
    let refused = engine
        .add_action(ActionSpec {
            code: incompressible.clone(),
            ..ActionSpec::new("noise", "Noise", "")
        })
        .await
        .unwrap_err();
    let encoded = match &refused {
        EngineError::CodeTooLarge {
            id,
            source:
                CodeSizeError::TooLarge {
                    encoded,
                    uncompressed,
                    limit,
                },
        } => {
            assert_eq!(
                (id.as_str(), *uncompressed, *limit),
                ("noise", raw, MAX_CODE_BYTES)
            );
            assert!(*encoded > MAX_CODE_BYTES, "{refused}");
            *encoded
        }
        other => panic!("expected CodeTooLarge, got {other:?}"),
    };
    let message = refused.to_string();
    assert!(
        message.contains(&encoded.to_string()) && message.contains(&raw.to_string()),
        "both sizes are named: {message}"
    );
    assert!(engine.action_ids().iter().all(|id| id != "noise"));

    // The same rule on a code update; the action keeps its code.
    assert!(matches!(
        engine.update_code("big", incompressible),
        Err(EngineError::CodeTooLarge {
            source: CodeSizeError::TooLarge { .. },
            ..
        })
    ));
    // Uncompressed code is bounded too (checked before zipping).
    assert!(matches!(
        engine.update_code(
            "big",
            CodeSource::Script(" ".repeat(MAX_UNCOMPRESSED_CODE_BYTES + 1))
        ),
        Err(EngineError::CodeTooLarge {
            source: CodeSizeError::UncompressedTooLarge { .. },
            ..
        })
    ));
    let run = engine
        .run_action("big", Trigger::Manual, None)
        .await
        .unwrap();
    assert_eq!(run.status, RunStatus::Success);
}
