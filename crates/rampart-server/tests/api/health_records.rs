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
