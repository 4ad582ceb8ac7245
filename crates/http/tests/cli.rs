//! The `sintra` binary as an operator meets it: its subcommands and the
//! one-line answers when it cannot start.

use std::process::Command;

fn sintra() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_sintra"));
    for var in [
        "DATABASE_URL",
        "SINTRA_ENV",
        "SINTRA_JWT_SECRET",
        "SINTRA_BIND",
        "SINTRA_ACCESS_TOKEN_SECONDS",
        "SINTRA_CORS_ORIGINS",
    ] {
        cmd.env_remove(var);
    }
    cmd
}

#[test]
fn openapi_prints_the_spec() {
    let out = sintra().arg("openapi").output().unwrap();
    assert!(out.status.success());
    let spec: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON on stdout");
    assert_eq!(spec["info"]["title"], "SINTRA API");
    assert!(spec["paths"]["/api/v1/auth/token"].is_object());
}

#[test]
fn without_a_database_it_says_how_to_get_one_in_one_line() {
    // Port 9 (discard) on loopback: nothing listens there.
    let out = sintra()
        .arg("migrate")
        .env("DATABASE_URL", "postgres://postgres@127.0.0.1:9/sintra")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<&str> = err.lines().filter(|l| l.starts_with("sintra:")).collect();
    assert_eq!(lines.len(), 1, "{err}");
    assert!(
        lines[0].contains("127.0.0.1:9") && lines[0].contains("docker compose up -d db"),
        "{err}"
    );
}

#[test]
fn production_refuses_the_development_secret() {
    let out = sintra()
        .arg("serve")
        .env("SINTRA_ENV", "production")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("SINTRA_JWT_SECRET"), "{err}");

    let out = sintra()
        .arg("serve")
        .env("SINTRA_ACCESS_TOKEN_SECONDS", "86400")
        .output()
        .unwrap();
    assert!(
        !out.status.success(),
        "access tokens live at most 15 minutes"
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("SINTRA_ACCESS_TOKEN_SECONDS"));
}

#[test]
fn a_cors_wildcard_or_a_malformed_origin_refuses_to_start() {
    // Checked before the database is touched: nothing listens at port 9.
    for (origins, words) in [
        ("*", "«*» no se admite"),
        ("https://tablero.example.mx, *", "«*» no se admite"),
        (
            "https://tablero.example.mx/",
            "«https://tablero.example.mx/» no es un origen",
        ),
    ] {
        let out = sintra()
            .arg("serve")
            .env("DATABASE_URL", "postgres://postgres@127.0.0.1:9/sintra")
            .env("SINTRA_CORS_ORIGINS", origins)
            .output()
            .unwrap();
        assert!(!out.status.success(), "{origins}");
        let err = String::from_utf8_lossy(&out.stderr);
        let line = err.lines().find(|l| l.starts_with("sintra:")).unwrap_or("");
        assert!(
            line.contains("SINTRA_CORS_ORIGINS") && line.contains(words),
            "{origins}: {err}"
        );
    }
}

/// `docker compose up -d db` followed by `cargo run` must work: the default
/// `DATABASE_URL` carries the user, password, port and database the compose
/// file gives its database (no Docker engine runs in CI, so the file is read
/// as text: its keys are plain `KEY: value` lines).
#[test]
fn the_default_database_url_matches_the_compose_database() {
    let compose = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../docker-compose.yml"
    ))
    .expect("docker-compose.yml at the root");
    let value = |key: &str| {
        compose
            .lines()
            .find_map(|l| l.trim().strip_prefix(&format!("{key}:")))
            .map(|v| v.trim().trim_matches('"').to_string())
            .unwrap_or_else(|| panic!("{key} in docker-compose.yml"))
    };
    let expected = format!(
        "postgres://{}:{}@127.0.0.1:5432/{}",
        value("POSTGRES_USER"),
        value("POSTGRES_PASSWORD"),
        value("POSTGRES_DB")
    );
    assert_eq!(sintra_persistence::db::DEFAULT_DATABASE_URL, expected);
    assert!(
        compose.contains("\"127.0.0.1:5432:5432\""),
        "the compose database publishes the default URL's port"
    );
}
