//! SPEC §7: health records are encrypted at rest and each role reads only
//! the fields it needs.

use rampart_server::domain::Role;
use reqwest::Method;
use serde_json::json;

use crate::support::{TestApp, assert_problem, json};

const MARKER: &str = "unique-marker-7f3a9c-diagnosis-notes";

fn keys(v: &serde_json::Value) -> Vec<String> {
    let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
    k.sort();
    k
}

fn record() -> serde_json::Value {
    json!({"diagnosis": "seasonal flu", "medications": ["oseltamivir", "rest"], "insurance_id": "INS-445566", "notes": MARKER})
}

#[tokio::test]
async fn the_role_matrix_holds_for_reads_and_writes() {
    let app = TestApp::spawn().await;
    let patient = app.user("patient").await;
    let clinician = app.user_with_role("doc", Role::Clinician).await;
    let billing = app.user_with_role("biller", Role::Billing).await;
    let auditor = app.user_with_role("audrey", Role::Auditor).await;
    let admin = app.user_with_role("boss", Role::Admin).await;
    let other = app.user("nosy").await;
    let path = format!("/api/v2/users/{}/health", patient.id);

    assert_problem(
        "nothing yet",
        app.authed(Method::GET, &path, &patient.access)
            .send()
            .await
            .unwrap(),
        404,
    )
    .await;
    let r = app
        .authed(Method::PUT, &path, &patient.access)
        .json(&record())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let mut by_doc = record();
    by_doc["notes"] = json!(format!("{MARKER} reviewed"));
    assert_eq!(
        app.authed(Method::PUT, &path, &clinician.access)
            .json(&by_doc)
            .send()
            .await
            .unwrap()
            .status(),
        204
    );
    for (who, token) in [
        ("billing", &billing.access),
        ("admin", &admin.access),
        ("other", &other.access),
        ("auditor", &auditor.access),
    ] {
        let r = app
            .authed(Method::PUT, &path, token)
            .json(&record())
            .send()
            .await
            .unwrap();
        assert_problem(&format!("{who} writes"), r, 403).await;
    }

    let cases: [(&str, &String, Option<&[&str]>); 6] = [
        (
            "self",
            &patient.access,
            Some(&["diagnosis", "insurance_id", "medications", "notes"]),
        ),
        (
            "clinician",
            &clinician.access,
            Some(&["diagnosis", "medications", "notes"]),
        ),
        ("billing", &billing.access, Some(&["insurance_id"])),
        ("auditor", &auditor.access, None),
        ("admin", &admin.access, None),
        ("other user", &other.access, None),
    ];
    for (who, token, expected) in cases {
        let r = app.authed(Method::GET, &path, token).send().await.unwrap();
        match expected {
            Some(fields) => {
                assert_eq!(r.status(), 200, "{who}");
                let body = json(r).await;
                assert_eq!(
                    keys(&body),
                    fields.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>(),
                    "{who}"
                );
                if fields.contains(&"medications") {
                    assert_eq!(body["medications"], json!(["oseltamivir", "rest"]));
                }
            }
            None => {
                assert_problem(who, r, 403).await;
            }
        }
    }
    let own = json(
        app.authed(Method::GET, &path, &patient.access)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(own["notes"], format!("{MARKER} reviewed").as_str());
    assert_problem(
        "invalid body",
        app.authed(Method::PUT, &path, &patient.access)
            .json(&json!({"diagnosis": "x"}))
            .send()
            .await
            .unwrap(),
        422,
    )
    .await;
}

#[tokio::test]
async fn no_plaintext_reaches_the_database_and_ciphertexts_cannot_move_between_rows() {
    let app = TestApp::spawn().await;
    let a = app.user("alpha").await;
    let b = app.user("bravo").await;
    for s in [&a, &b] {
        let r = app
            .authed(
                Method::PUT,
                &format!("/api/v2/users/{}/health", s.id),
                &s.access,
            )
            .json(&record())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 204);
    }
    let mut raw = Vec::new();
    for name in ["rampart.db", "rampart.db-wal"] {
        if let Ok(bytes) = std::fs::read(app.data_path().join(name)) {
            raw.extend(bytes);
        }
    }
    for plain in [MARKER, "seasonal flu", "oseltamivir", "INS-445566"] {
        assert!(
            !raw.windows(plain.len()).any(|w| w == plain.as_bytes()),
            "{plain} is in the database file"
        );
    }
    // Copy a's encrypted notes into b's row: it is bound to a's id.
    sqlx::query("UPDATE health_records SET notes = (SELECT notes FROM health_records WHERE user_id = ?) WHERE user_id = ?")
        .bind(a.id)
        .bind(b.id)
        .execute(app.state().db.pool())
        .await
        .unwrap();
    let r = app
        .authed(
            Method::GET,
            &format!("/api/v2/users/{}/health", b.id),
            &b.access,
        )
        .send()
        .await
        .unwrap();
    assert_problem("swapped ciphertext", r, 500).await;
    let r = app
        .authed(
            Method::GET,
            &format!("/api/v2/users/{}/health", a.id),
            &a.access,
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn every_access_is_audited_with_field_names_never_values() {
    let app = TestApp::spawn().await;
    let patient = app.user("patient").await;
    let billing = app.user_with_role("biller", Role::Billing).await;
    let auditor = app.user_with_role("audrey", Role::Auditor).await;
    let path = format!("/api/v2/users/{}/health", patient.id);
    app.authed(Method::PUT, &path, &patient.access)
        .json(&record())
        .send()
        .await
        .unwrap();
    app.authed(Method::GET, &path, &billing.access)
        .send()
        .await
        .unwrap();
    let audit = json(
        app.authed(
            Method::GET,
            "/api/v2/admin/audit?limit=100",
            &auditor.access,
        )
        .send()
        .await
        .unwrap(),
    )
    .await;
    let text = audit.to_string();
    assert!(
        !text.contains(MARKER) && !text.contains("INS-445566") && !text.contains("seasonal flu")
    );
    let access = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| {
            e["event_type"] == "data_access"
                && e["details"].as_str().unwrap().contains("health_record")
        })
        .expect("a data_access event");
    assert_eq!(access["user_id"], billing.id.to_string().as_str());
    assert!(access["details"].as_str().unwrap().contains("insurance_id"));
}

#[tokio::test]
async fn rotating_the_data_key_re_encrypts_every_record_and_old_keys_can_go() {
    const K1: &str = "v1:AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=";
    const K2: &str = "v2:AgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgI=";
    let app = TestApp::spawn_with(&[("RAMPART_DATA_KEYS", K1)]).await;
    let s = app.user("patient").await;
    let path = format!("/api/v2/users/{}/health", s.id);
    assert_eq!(
        app.authed(Method::PUT, &path, &s.access)
            .json(&record())
            .send()
            .await
            .unwrap()
            .status(),
        204
    );
    let mut app = app;
    app.stop().await;

    let both = format!("{K1},{K2}");
    let rotate = || {
        std::process::Command::new(env!("CARGO_BIN_EXE_rampart"))
            .env_clear()
            .env("RAMPART_DATA_DIR", app.data_path())
            .env("RAMPART_DATA_KEYS", &both)
            .args(["keys", "rotate-data-key"])
            .output()
            .unwrap()
    };
    let out = rotate();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("re-encrypted 1 of 1"));
    let again = rotate();
    assert!(
        String::from_utf8_lossy(&again.stdout).contains("re-encrypted 0 of 1"),
        "re-running is harmless"
    );

    let app = app.restart_with(&[("RAMPART_DATA_KEYS", K2)]).await;
    let (notes,): (String,) = sqlx::query_as("SELECT notes FROM health_records")
        .fetch_one(app.state().db.pool())
        .await
        .unwrap();
    assert!(notes.starts_with("v2:"), "{notes}");
    let token = app.login("patient", crate::support::PASSWORD).await;
    let r = app
        .authed(Method::GET, &path, token["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "readable with only the new key");
    assert_eq!(json(r).await["notes"], MARKER);
}
