//! Loading whole files: error reporting, profile choice, secrets, the example config.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use secrecy::ExposeSecret;

use super::*;

const PATH: &str = "/home/a/.config/relcon/config.toml";

fn parse(text: &str) -> Result<LoadedConfig, ConfigError> {
    LoadedConfig::parse(PATH, text)
}

fn parse_err(text: &str) -> ConfigError {
    match parse(text) {
        Ok(_) => panic!("expected an error for:\n{text}"),
        Err(e) => e,
    }
}

/// 1-based line of the first occurrence of `needle`.
fn line_of(text: &str, needle: &str) -> usize {
    let at = text
        .find(needle)
        .unwrap_or_else(|| panic!("{needle} not in text"));
    text[..at].matches('\n').count() + 1
}

fn env_of(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> + use<> {
    let map: HashMap<String, String> = vars
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    move |k: &str| map.get(k).cloned()
}

fn assert_invalid(err: &ConfigError, line: usize, key: &str, needle: &str) {
    let shown = err.to_string();
    assert!(
        matches!(err, ConfigError::Invalid { .. }),
        "not Invalid: {shown}"
    );
    assert_eq!(err.path(), Path::new(PATH), "{shown}");
    assert_eq!(err.line(), Some(line), "{shown}");
    assert_eq!(err.key(), Some(key), "{shown}");
    assert!(
        shown.starts_with(&format!("config error in {PATH}, line {line}, key {key}: ")),
        "{shown}"
    );
    assert!(shown.contains(needle), "{shown:?} lacks {needle:?}");
}

const PROD: &str = r#"default_profile = "prod"

[profiles.prod]
api_url = "https://api.example.com"
auth = "client_credentials_basic"
production = true
"#;

#[test]
fn typo_in_key_reports_file_line_and_key() {
    let text = format!("{PROD}\n[profiles.prod.timeouts]\nconnect_ms = 1000\nconect_ms = 3000\n");
    let err = parse_err(&text);
    assert_invalid(
        &err,
        line_of(&text, "conect_ms"),
        "profiles.prod.timeouts.conect_ms",
        "unknown field 'conect_ms', expected one of connect_ms, read_ms, total_ms",
    );
}

#[test]
fn typo_read_from_a_real_file_names_that_file() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let path = dir.path().join("relcon.toml");
    let text = format!("{PROD}prodution = true\n");
    std::fs::write(&path, &text).unwrap_or_else(|e| panic!("{e}"));
    let err = match Config::load_with(Some(&path), &env_of(&[]), None) {
        Err(e) => e,
        Ok(_) => panic!("should fail"),
    };
    let shown = err.to_string();
    assert!(
        shown.starts_with(&format!(
            "config error in {}, line {}, key profiles.prod.prodution: unknown field \
             'prodution', expected one of ",
            path.display(),
            line_of(&text, "prodution")
        )),
        "{shown}"
    );
    assert!(shown.contains("production"), "{shown}");
}

#[test]
fn wrong_type_reports_line_without_echoing_the_value() {
    let text = format!("{PROD}\n[profiles.prod.timeouts]\nread_ms = \"s3cr3t-value\"\n");
    let err = parse_err(&text);
    assert_invalid(
        &err,
        line_of(&text, "read_ms"),
        "profiles.prod.timeouts.read_ms",
        "expected a whole number, 0 or more (no quotes), found a string",
    );
    assert!(!err.to_string().contains("s3cr3t"), "{err}");

    let text = "[profiles.x]\nproduction = \"yes\"\n";
    assert_invalid(
        &parse_err(text),
        2,
        "profiles.x.production",
        "expected true or false",
    );
    let text = "[profiles.x]\nscopes = \"bot:read\"\n";
    assert_invalid(&parse_err(text), 2, "profiles.x.scopes", "expected a list");
}

#[test]
fn bad_duration_names_the_value_and_line() {
    let text = format!("{PROD}\n[profiles.prod.canary]\nsteps = [10, 100]\ninterval = \"60x\"\n");
    assert_invalid(
        &parse_err(&text),
        line_of(&text, "interval"),
        "profiles.prod.canary.interval",
        "invalid duration '60x'",
    );
    let text = "[profiles.x.rollback]\nwait_drain = 30\n";
    assert_invalid(
        &parse_err(text),
        2,
        "profiles.x.rollback.wait_drain",
        "found the number 30",
    );
}

#[test]
fn canary_judgement_settings_parse_and_bad_ones_name_their_line() {
    let text = "[profiles.x.canary]\nalpha = 0.05\nbeta = 0.1\ngates = [\"error_rate\", \"latency\"]\n\
                max_hold = \"45m\"\non_inconclusive = \"rollback\"\nerror_limit = 5\n\
                [profiles.x.canary.tolerance]\nerror_rate = 0.02\nlatency_ms = 250\n";
    let p = parse(text)
        .and_then(|c| c.profile(None))
        .unwrap_or_else(|e| panic!("{e}"));
    let c = &p.canary;
    assert_eq!((c.alpha, c.beta), (0.05, 0.1));
    assert_eq!(
        c.gates,
        vec![
            crate::engine::judge::Metric::ErrorRate,
            crate::engine::judge::Metric::LatencyMs
        ]
    );
    assert_eq!(c.max_hold, Duration::from_secs(45 * 60));
    assert_eq!(
        c.on_inconclusive,
        crate::engine::judge::policy::OnInconclusive::Rollback
    );
    assert_eq!(c.error_limit, 5);
    assert_eq!(c.tolerance(crate::engine::judge::Metric::ErrorRate), 0.02);
    assert_eq!(c.tolerance(crate::engine::judge::Metric::LatencyMs), 250.0);
    // Unset tolerances keep the metric's default.
    assert_eq!(
        c.tolerance(crate::engine::judge::Metric::FallbackRate),
        0.03
    );
    for (text, key, message) in [
        (
            "[profiles.x.canary]\nalpha = 0.7\n",
            "profiles.x.canary.alpha",
            "above 0 and below 0.5",
        ),
        (
            "[profiles.x.canary]\ngates = [\"error_rate\", \"bogus\"]\n",
            "profiles.x.canary.gates",
            "unknown metric 'bogus'",
        ),
        (
            "[profiles.x.canary]\non_inconclusive = \"wait\"\n",
            "profiles.x.canary.on_inconclusive",
            "not one of pause, rollback, promote",
        ),
        (
            "[profiles.x.canary.tolerance]\nerrors = 0.01\n",
            "profiles.x.canary.tolerance.errors",
            "expected one of error_rate",
        ),
    ] {
        assert_invalid(&parse_err(text), 2, key, message);
    }
}

#[test]
fn durations_parse() {
    let text =
        "[profiles.x.canary]\ninterval = \"1m30s\"\n[profiles.x.rollback]\nwait_drain = \"2h\"\n";
    let p = parse(text)
        .and_then(|c| c.profile(None))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(p.canary.interval, Duration::from_secs(90));
    assert_eq!(p.rollback.wait_drain, Duration::from_secs(7200));
}

#[test]
fn out_of_range_values_report_line_and_fix() {
    let cases = [
        (
            "[profiles.x.canary]\nerror_rate = 5\n",
            "profiles.x.canary.error_rate",
            "fraction from 0 to 1",
        ),
        (
            "[profiles.x.canary]\nsteps = [50, 10]\n",
            "profiles.x.canary.steps",
            "increasing",
        ),
        (
            "[profiles.x.canary]\nsteps = [5, 300]\n",
            "profiles.x.canary.steps",
            "from 0 to 255",
        ),
        (
            "[profiles.x.canary]\nmax_traffic = 0\n",
            "profiles.x.canary.max_traffic",
            "from 1 to 100",
        ),
        ("[profiles.x.canary]\nmax_traffic = 50\n", "", ""),
        (
            "[profiles.x.retry]\nattempts = 0\n",
            "profiles.x.retry.attempts",
            "1 (no retries) to 20",
        ),
        (
            "[profiles.x.timeouts]\nconnect_ms = 0\n",
            "profiles.x.timeouts.connect_ms",
            "above 0",
        ),
        (
            "[profiles.x]\nclock_speed = 0\n",
            "profiles.x.clock_speed",
            "above 0",
        ),
        (
            "[profiles.x]\napi_url = \"localhost:8080\"\n",
            "profiles.x.api_url",
            "http(s) URL",
        ),
        (
            "[profiles.x]\napi_url = \"https://u:p@h\"\n",
            "profiles.x.api_url",
            "credentials",
        ),
        (
            "[profiles.x]\nblue_green = [\"a\"]\n",
            "profiles.x.blue_green",
            "two different",
        ),
        (
            "[profiles.x]\nauth = \"apikey\"\n",
            "profiles.x.auth",
            "unknown value 'apikey', expected one of api_key, client_credentials_basic, client_credentials_form",
        ),
        (
            "[ui]\ntheme = \"neon\"\n",
            "ui.theme",
            "expected one of dark, light, mono",
        ),
        ("[ui]\nframe_rate = 1000\n", "ui.frame_rate", "1 to 240"),
    ];
    for (text, key, needle) in cases {
        if key.is_empty() {
            assert!(parse(text).is_ok(), "{text}");
            continue;
        }
        assert_invalid(&parse_err(text), 2, key, needle);
    }
}

#[test]
fn cross_checks_point_at_the_offending_value() {
    let text = "[profiles.x.canary]\nmax_traffic = 50\nsteps = [5, 25, 60]\n";
    assert_invalid(
        &parse_err(text),
        3,
        "profiles.x.canary.steps",
        "above max_traffic (50%)",
    );
    let text = "[profiles.x.retry]\nbase_delay_ms = 500\nmax_delay_ms = 100\n";
    assert_invalid(
        &parse_err(text),
        3,
        "profiles.x.retry.max_delay_ms",
        "make max_delay_ms at least base_delay_ms",
    );
    let text = "[profiles.\"bad name\"]\napi_url = \"http://h\"\n";
    assert_invalid(
        &parse_err(text),
        1,
        "profiles.bad name",
        "rename the profile",
    );
}

#[test]
fn syntax_and_duplicate_errors_have_lines() {
    let text = "[profiles.x]\napi_url = \"http://h\"\n[profiles.y\n";
    let err = parse_err(text);
    assert_eq!(err.line(), Some(3), "{err}");
    assert!(err.to_string().contains("TOML syntax error"), "{err}");

    let text = "[profiles.x]\napi_url = \"http://a\"\napi_url = \"http://b\"\n";
    assert_invalid(&parse_err(text), 3, "profiles.x.api_url", "defined twice");
    let text = "[profiles.x]\n\n[profiles.x]\n";
    assert_invalid(&parse_err(text), 3, "profiles.x", "table is defined twice");
}

#[test]
fn secrets_in_the_file_are_refused_with_the_env_var_to_use() {
    let text = format!("{PROD}client_secret = \"hunter2\"\n");
    let err = parse_err(&text);
    assert_invalid(
        &err,
        line_of(&text, "client_secret"),
        "profiles.prod.client_secret",
        "export COGNIGY_CLIENT_SECRET instead",
    );
    assert!(!err.to_string().contains("hunter2"));
    let text = "[profiles.x]\napi_key = \"k\"\n";
    assert_invalid(&parse_err(text), 2, "profiles.x.api_key", "COGNIGY_API_KEY");
}

#[test]
fn missing_secret_env_var_is_named_with_the_profile() {
    let profile = parse(PROD)
        .and_then(|c| c.profile(None))
        .unwrap_or_else(|e| panic!("{e}"));
    let err = profile
        .resolve_secrets(&env_of(&[("COGNIGY_CLIENT_ID", "relcon-ci")]))
        .err()
        .unwrap_or_else(|| panic!("should fail"));
    let shown = err.to_string();
    assert!(
        matches!(&err, ConfigError::MissingEnv { var, profile, .. }
            if var == "COGNIGY_CLIENT_SECRET" && profile == "prod"),
        "{shown}"
    );
    assert!(shown.contains(PATH), "{shown}");
    assert!(shown.contains("export COGNIGY_CLIENT_SECRET="), "{shown}");
    assert!(shown.contains("profile 'prod'"), "{shown}");

    let err = profile
        .resolve_secrets(&env_of(&[("COGNIGY_CLIENT_SECRET", "x")]))
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(err.contains("export COGNIGY_CLIENT_ID="), "{err}");

    // An empty variable counts as unset.
    let api = parse("[profiles.a]\napi_url = \"http://h\"\n")
        .and_then(|c| c.profile(Some("a")))
        .unwrap_or_else(|e| panic!("{e}"));
    let err = api
        .resolve_secrets(&env_of(&[("COGNIGY_API_KEY", "  ")]))
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(err.contains("export COGNIGY_API_KEY="), "{err}");

    // Webhook signing secrets too.
    let text = "[profiles.a]\napi_url = \"http://h\"\n[[profiles.a.webhooks]]\nurl = \
                \"http://ci\"\nevents = [\"deployment.completed\"]\nsecret_env = \"HOOK_SECRET\"\n";
    let hooked = parse(text)
        .and_then(|c| c.profile(None))
        .unwrap_or_else(|e| panic!("{e}"));
    let err = hooked
        .resolve_secrets(&env_of(&[("COGNIGY_API_KEY", "k")]))
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(err.contains("export HOOK_SECRET="), "{err}");
    assert!(err.contains("webhook #1"), "{err}");
}

#[test]
fn secrets_never_show_in_debug_output() {
    const KEY: &str = "sk-live-0123456789abcdef";
    const SECRET: &str = "client-secret-fedcba9876543210";
    const HOOK: &str = "whsec_hook_secret_value";
    let text = "[profiles.a]\napi_url = \"http://h\"\n[[profiles.a.webhooks]]\nurl = \
                \"http://ci\"\nevents = [\"deployment.completed\"]\nsecret_env = \"HOOK_SECRET\"\n\
                [profiles.b]\napi_url = \"http://h\"\nauth = \"client_credentials_form\"\n";
    let config = parse(text).unwrap_or_else(|e| panic!("{e}"));
    let env = env_of(&[
        ("COGNIGY_API_KEY", KEY),
        ("COGNIGY_CLIENT_ID", "id"),
        ("COGNIGY_CLIENT_SECRET", SECRET),
        ("HOOK_SECRET", HOOK),
    ]);
    let a = config
        .profile(Some("a"))
        .and_then(|p| p.resolve_secrets(&env))
        .unwrap_or_else(|e| panic!("{e}"));
    let b = config
        .profile(Some("b"))
        .and_then(|p| p.resolve_secrets(&env))
        .unwrap_or_else(|e| panic!("{e}"));
    let shown = format!(
        "{a:?} {:?} {b:?} {:?} {:?}",
        a.credentials, b.credentials, a.webhooks
    );
    for secret in [KEY, SECRET, HOOK] {
        assert!(!shown.contains(secret), "{secret} leaked in {shown}");
    }
    assert!(shown.contains("REDACTED"), "{shown}");
    // ...while the values are there for the HTTP client.
    match &a.credentials {
        Credentials::ApiKey(key) => assert_eq!(key.expose_secret(), KEY),
        other => panic!("{other:?}"),
    }
    let hook = a.webhooks.first().and_then(|w| w.secret.as_ref());
    assert_eq!(hook.map(|s| s.expose_secret()), Some(HOOK));
    let demo = format!("{:?}", Profile::demo("http://127.0.0.1:1", 1.0));
    assert!(!demo.contains(DEMO_API_KEY), "{demo}");
}

#[test]
fn client_credentials_styles_and_token_urls() {
    let text = "[profiles.basic]\napi_url = \"https://h/\"\nauth = \"client_credentials_basic\"\n\
                [profiles.form]\napi_url = \"https://h\"\nauth = \"client_credentials_form\"\n\
                scopes = [\"bot:read\"]\n\
                [profiles.custom]\napi_url = \"https://h\"\nauth = \"client_credentials_form\"\n\
                token_url = \"https://idp/token\"\n";
    let config = parse(text).unwrap_or_else(|e| panic!("{e}"));
    let env = env_of(&[("COGNIGY_CLIENT_ID", "id"), ("COGNIGY_CLIENT_SECRET", "s")]);
    let resolve = |name: &str, env: &dyn Fn(&str) -> Option<String>| {
        config
            .profile(Some(name))
            .and_then(|p| p.resolve_secrets(env))
            .unwrap_or_else(|e| panic!("{e}"))
    };
    let creds = |p: ResolvedProfile| match p.credentials {
        Credentials::ClientCredentials {
            client_id,
            style,
            token_url,
            scopes,
            ..
        } => (client_id, style, token_url, scopes),
        other => panic!("{other:?}"),
    };
    let (id, style, url, scopes) = creds(resolve("basic", &env));
    assert_eq!(id, "id");
    assert_eq!(style, TokenStyle::Basic);
    assert_eq!(url, "https://h/v1/auth/token");
    assert_eq!(scopes, DEFAULT_SCOPES);
    let (_, style, url, scopes) = creds(resolve("form", &env));
    assert_eq!(style, TokenStyle::Form);
    assert_eq!(url, "https://h/oauth/token");
    assert_eq!(scopes, ["bot:read"]);
    let (_, _, url, _) = creds(resolve("custom", &env));
    assert_eq!(url, "https://idp/token");

    // COGNIGY_API_URL overrides api_url, and the default token URL follows it.
    let env = env_of(&[
        ("COGNIGY_CLIENT_ID", "id"),
        ("COGNIGY_CLIENT_SECRET", "s"),
        ("COGNIGY_API_URL", "http://127.0.0.1:9999/"),
    ]);
    let p = resolve("basic", &env);
    assert_eq!(p.api_url, "http://127.0.0.1:9999");
    assert_eq!(creds(p).2, "http://127.0.0.1:9999/v1/auth/token");
    let err = config
        .profile(Some("basic"))
        .and_then(|p| p.resolve_secrets(&env_of(&[("COGNIGY_API_URL", "nope")])))
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(
        err.contains("COGNIGY_API_URL is not an http(s) URL"),
        "{err}"
    );
}

#[test]
fn api_url_may_come_only_from_the_environment() {
    let config = parse("[profiles.ci]\nauth = \"api_key\"\n").unwrap_or_else(|e| panic!("{e}"));
    let profile = config.profile(None).unwrap_or_else(|e| panic!("{e}"));
    let err = profile
        .resolve_secrets(&env_of(&[("COGNIGY_API_KEY", "k")]))
        .err()
        .unwrap_or_else(|| panic!("should fail"));
    assert_eq!(err.key(), Some("profiles.ci.api_url"));
    assert!(err.to_string().contains("export COGNIGY_API_URL"), "{err}");
    let ok = profile
        .resolve_secrets(&env_of(&[
            ("COGNIGY_API_KEY", "k"),
            ("COGNIGY_API_URL", "https://x"),
        ]))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(ok.api_url, "https://x");
}

#[test]
fn defaults_fill_an_empty_profile() {
    let config =
        parse("[profiles.min]\napi_url = \"http://h\"\n").unwrap_or_else(|e| panic!("{e}"));
    let p = config
        .profile(None)
        .and_then(|p| p.resolve_secrets(&env_of(&[("COGNIGY_API_KEY", "k"), ("USER", "alice")])))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(p.name, "min");
    assert!(!p.production && !p.read_only);
    assert_eq!(p.clock_speed, 1.0);
    assert_eq!(p.operator, "alice");
    assert_eq!(p.timeouts, Timeouts::default());
    assert_eq!(p.timeouts.connect, Duration::from_millis(3000));
    assert_eq!(p.retry.attempts, 4);
    assert_eq!(p.canary, CanarySettings::default());
    assert_eq!(p.canary.steps, [5, 10, 25, 50, 100]);
    assert_eq!(p.rollback, RollbackSettings::default());
    assert_eq!(p.rollback.expected_intent, "", "the bot's own unless set");
    assert_eq!(p.rollback.wait_drain, Duration::from_secs(600));
    assert!(p.blue_green.is_none() && p.region_sync.is_empty() && p.webhooks.is_empty());
    if let Some(data) = data_dir() {
        assert_eq!(p.audit_log, data.join("audit").join("min.jsonl"));
    }
}

#[test]
fn audit_log_relative_to_the_config_file() {
    let config = LoadedConfig::parse(
        "/etc/relcon/config.toml",
        "[profiles.a]\naudit_log = \"logs/a.jsonl\"\n[profiles.b]\naudit_log = \"/var/b.jsonl\"\n",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let path = |n| config.profile(Some(n)).map(|p| p.audit_log).ok();
    assert_eq!(path("a"), Some(PathBuf::from("/etc/relcon/logs/a.jsonl")));
    assert_eq!(path("b"), Some(PathBuf::from("/var/b.jsonl")));
}

#[test]
fn profile_choice() {
    let two = "[profiles.a]\n[profiles.b]\n";
    let config = parse(two).unwrap_or_else(|e| panic!("{e}"));
    let err = config
        .profile(None)
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(err.contains("a, b") && err.contains("--profile"), "{err}");
    assert_eq!(
        config.profile(Some("b")).map(|p| p.name).ok().as_deref(),
        Some("b")
    );

    let one = parse("[profiles.only]\n").unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        one.profile(None).map(|p| p.name).ok().as_deref(),
        Some("only")
    );

    let with_default =
        parse(&format!("default_profile = \"b\"\n{two}")).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        with_default.profile(None).map(|p| p.name).ok().as_deref(),
        Some("b")
    );

    let none = parse("").unwrap_or_else(|e| panic!("{e}"));
    let err = none
        .profile(None)
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(err.contains("defines no profile"), "{err}");

    let text = format!("{two}default_profile = \"c\"\n");
    let text = text.replace("[profiles.a]\n[profiles.b]\n", "");
    let text = format!("{text}[profiles.a]\n[profiles.b]\n");
    assert_invalid(
        &parse_err(&text),
        1,
        "default_profile",
        "available profiles: a, b",
    );
}

#[test]
fn unknown_profile_lists_the_available_ones() {
    let config = parse("[profiles.demo]\n[profiles.staging]\n[profiles.prod]\n")
        .unwrap_or_else(|e| panic!("{e}"));
    let err = config
        .profile(Some("production"))
        .err()
        .unwrap_or_else(|| panic!("should fail"));
    assert!(
        matches!(&err, ConfigError::UnknownProfile { name, available, .. }
            if name == "production" && available == &["demo", "prod", "staging"]),
        "{err:?}"
    );
    let shown = err.to_string();
    assert!(
        shown.contains(PATH)
            && shown.contains("no profile 'production'")
            && shown.contains("available profiles: demo, prod, staging"),
        "{shown}"
    );
}

#[test]
fn explicit_path_must_exist_default_path_may_not() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let missing = dir.path().join("nope.toml");
    let no_env = env_of(&[]);

    let err = Config::load_with(Some(&missing), &no_env, None)
        .err()
        .unwrap_or_else(|| panic!("should fail"));
    assert!(matches!(err, ConfigError::NotFound { .. }), "{err:?}");
    assert_eq!(err.path(), missing);
    let shown = err.to_string();
    assert!(shown.contains(&missing.display().to_string()), "{shown}");
    assert!(
        shown.contains("does not exist (given with --config)"),
        "{shown}"
    );

    let via_env = env_of(&[("RELCON_CONFIG", &missing.display().to_string())]);
    let err = Config::load_with(None, &via_env, None)
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(err.contains("named by RELCON_CONFIG"), "{err}");

    let loaded = Config::load_with(None, &no_env, Some(missing.clone()));
    assert!(matches!(loaded, Ok(None)), "{loaded:?}");
    assert!(matches!(Config::load_with(None, &no_env, None), Ok(None)));

    // A directory is not a config file.
    let err = Config::load_with(Some(dir.path()), &no_env, None)
        .err()
        .unwrap_or_else(|| panic!("should fail"));
    assert_eq!(err.path(), dir.path());

    // Precedence: explicit, then RELCON_CONFIG, then the default path.
    let a = dir.path().join("a.toml");
    let b = dir.path().join("b.toml");
    let c = dir.path().join("c.toml");
    for (p, name) in [(&a, "a"), (&b, "b"), (&c, "c")] {
        std::fs::write(p, format!("[profiles.{name}]\n")).unwrap_or_else(|e| panic!("{e}"));
    }
    let env_b = env_of(&[("RELCON_CONFIG", &b.display().to_string())]);
    let names = |r: Result<Option<LoadedConfig>, ConfigError>| {
        r.ok()
            .flatten()
            .map(|c| c.profile_names())
            .unwrap_or_default()
    };
    assert_eq!(
        names(Config::load_with(Some(&a), &env_b, Some(c.clone()))),
        ["a"]
    );
    assert_eq!(
        names(Config::load_with(None, &env_b, Some(c.clone()))),
        ["b"]
    );
    assert_eq!(
        names(Config::load_with(None, &no_env, Some(c.clone()))),
        ["c"]
    );
}

#[test]
fn keymap_overrides_defaults_key_by_key() {
    let text = "[keymap]\n\"Q\" = \"quit\"\n\"q\" = \"none\"\n\"Ctrl-R\" = \"deploy\"\n\"f5\" = \"refresh\"\n";
    let config = parse(text).unwrap_or_else(|e| panic!("{e}"));
    let settings = config.ui_settings().unwrap_or_else(|e| panic!("{e}"));
    let km = &settings.keymap;
    assert_eq!(km.action("Q"), Some("quit"));
    assert_eq!(km.action("q"), None);
    assert_eq!(km.action("ctrl-R"), Some("deploy"));
    // "Ctrl-R" normalises to "ctrl-R", a different key from the default "ctrl-r".
    assert_eq!(km.action("ctrl-r"), Some("refresh"));
    assert_eq!(km.action("f5"), Some("refresh"));
    // Untouched defaults stay.
    assert_eq!(km.action("?"), Some("help"));
    assert_eq!(km.action("shift-tab"), Some("prev_pane"));
    assert_eq!(
        settings.ui,
        UiSettings::defaults()
            .map(|d| d.ui)
            .unwrap_or_else(|e| panic!("{e}"))
    );

    let text = "[ui]\ntheme = \"mono\"\n";
    let ui = parse(text)
        .and_then(|c| c.ui_settings())
        .map(|s| s.ui)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(ui.theme, Theme::Mono);
    assert_eq!(ui.frame_rate, 30);
}

#[test]
fn keymap_unknown_action_or_key_is_an_error_with_its_line() {
    let text = "[ui]\nmouse = false\n\n[keymap]\n\"q\" = \"quit\"\n\"x\" = \"explode\"\n";
    assert_invalid(
        &parse_err(text),
        6,
        "keymap.x",
        "unknown action 'explode', expected one of quit, help,",
    );
    let text = "[keymap]\n\"ctrl-?\" = \"help\"\n\"hyper-k\" = \"up\"\n";
    assert_invalid(
        &parse_err(text),
        3,
        "keymap.hyper-k",
        "unknown modifier 'hyper'",
    );
    let text = "[keymap]\n\"tab\" = \"next_pane\"\n\"Tab\" = \"prev_pane\"\n";
    let err = parse_err(text);
    assert!(err.to_string().contains("are the same key"), "{err}");
}

#[test]
fn example_config_loads_and_every_profile_resolves() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("config.example.toml");
    let config = Config::load_with(Some(&path), &env_of(&[]), None)
        .unwrap_or_else(|e| panic!("{e}"))
        .unwrap_or_else(|| panic!("no config"));
    assert_eq!(
        config.profile_names(),
        ["cognigy", "demo", "prod", "staging"]
    );
    let env = env_of(&[
        ("COGNIGY_API_KEY", "demo-key"),
        ("COGNIGY_CLIENT_ID", "id"),
        ("COGNIGY_CLIENT_SECRET", "secret"),
        ("RELCON_WEBHOOK_SECRET", "whsec_a"),
        ("RELCON_PROD_WEBHOOK_SECRET", "whsec_b"),
    ]);
    let mut resolved = HashMap::new();
    for name in config.profile_names() {
        let p = config
            .profile(Some(&name))
            .and_then(|p| p.resolve_secrets(&env))
            .unwrap_or_else(|e| panic!("{e}"));
        resolved.insert(name, p);
    }
    let default = config.profile(None).map(|p| p.name).ok();
    assert_eq!(default.as_deref(), Some("demo"));

    let cognigy = &resolved["cognigy"];
    let Backend::Cognigy(target) = &cognigy.backend else {
        panic!("the cognigy profile drives Cognigy.AI")
    };
    assert_eq!(target.odata_url, "https://odata-trial.cognigy.ai");
    assert_eq!(cognigy.rollback.expected_intent, "order_support");

    let demo = &resolved["demo"];
    assert_eq!(demo.backend, Backend::ReleaseApi);
    assert_eq!(demo.api_url, "http://127.0.0.1:8080");
    assert_eq!(demo.clock_speed, 30.0);
    assert!(matches!(demo.credentials, Credentials::ApiKey(_)));
    assert!(!demo.production);
    assert_eq!(demo.operator, "demo-operator");
    assert_eq!(demo.canary.interval, Duration::from_secs(60));
    assert!(
        demo.webhooks.is_empty(),
        "the demo profile works with COGNIGY_API_KEY alone"
    );
    assert_eq!(
        demo.blue_green.as_ref().map(|bg| bg.other("env-prod-blue")),
        Some("env-prod-green")
    );
    assert_eq!(
        demo.audit_log,
        path.parent()
            .map(|d| d.join("audit/demo.jsonl"))
            .unwrap_or_default()
    );

    let staging = &resolved["staging"];
    assert_eq!(staging.webhooks.len(), 1);
    assert!(matches!(
        staging.credentials,
        Credentials::ClientCredentials {
            style: TokenStyle::Form,
            ..
        }
    ));

    let prod = &resolved["prod"];
    assert!(prod.production);
    assert!(matches!(
        &prod.credentials,
        Credentials::ClientCredentials { style: TokenStyle::Basic, token_url, .. }
            if token_url == "https://api.cognigy.ai/v1/auth/token"
    ));
    assert_eq!(prod.canary.max_traffic, 50);
    assert_eq!(prod.rollback.wait_drain, Duration::from_secs(600));

    let ui = config.ui_settings().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(ui.keymap.action("x"), Some("abort"));
    assert_eq!(ui.keymap.action("a"), None);
}

#[test]
fn example_config_documents_every_key() {
    let example = include_str!("../../config.example.toml");
    let keys = [
        "default_profile",
        "api_url",
        "auth",
        "token_url",
        "scopes",
        "production",
        "read_only",
        "request_budget",
        "clock_speed",
        "operator",
        "audit_log",
        "blue_green",
        "region_sync",
        "connect_ms",
        "read_ms",
        "total_ms",
        "attempts",
        "base_delay_ms",
        "max_delay_ms",
        "steps",
        "interval",
        "max_traffic",
        "error_rate",
        "satisfaction_score",
        "max_latency_ms",
        "min_conversations",
        "max_hold",
        "on_inconclusive",
        "alpha",
        "beta",
        "gates",
        "failure_limit",
        "inconclusive_limit",
        "error_limit",
        "fallback_rate",
        "handoff_rate",
        "latency_ms",
        "intent_score",
        "max_active_sessions",
        "wait_drain",
        "fallback_version",
        "test_message",
        "expected_intent",
        "min_confidence",
        "environment",
        "url",
        "events",
        "secret_env",
        "theme",
        "frame_rate",
        "mouse",
    ];
    for key in keys {
        let line = example
            .lines()
            .find(|l| l.trim_start().starts_with(&format!("{key} =")))
            .unwrap_or_else(|| panic!("{key} is not set in config.example.toml"));
        let documented = line.contains('#')
            || example
                .lines()
                .zip(example.lines().skip(1))
                .any(|(prev, next)| next == line && prev.trim_start().starts_with('#'));
        assert!(documented, "{key} has no comment in config.example.toml");
    }
    for section in [
        "[profiles.demo.timeouts]",
        "[profiles.demo.retry]",
        "[profiles.demo.canary]",
        "[profiles.demo.rollback]",
        "[[profiles.staging.webhooks]]",
        "[ui]",
        "[keymap]",
    ] {
        assert!(example.contains(section), "{section}");
    }
}

#[test]
fn demo_profile() {
    let p = Profile::demo("http://127.0.0.1:4321/", 30.0);
    assert_eq!(p.name, "demo");
    assert_eq!(p.api_url, "http://127.0.0.1:4321");
    assert!(!p.production && !p.read_only);
    assert_eq!(p.clock().speed(), 30.0);
    assert!(p.source.is_none());
    match &p.credentials {
        Credentials::ApiKey(key) => assert_eq!(key.expose_secret(), DEMO_API_KEY),
        other => panic!("{other:?}"),
    }
    assert!(p.audit_log.ends_with("audit/demo.jsonl"));
    assert_eq!(Profile::demo("http://h", -3.0).clock_speed, 1.0);
}

#[test]
fn no_config_help_explains_the_ways_in() {
    let help = no_config_help();
    if let Some(path) = default_config_path() {
        assert!(help.contains(&path.display().to_string()), "{help}");
    }
    for needle in [
        "relcon demo",
        "relcon sim --port 8080 --speed 30",
        "COGNIGY_API_URL",
        "COGNIGY_API_KEY",
        "COGNIGY_CLIENT_SECRET",
        "RELCON_CONFIG",
        "--config",
        "--print-default-config",
    ] {
        assert!(help.contains(needle), "help lacks {needle}:\n{help}");
    }
}

#[test]
fn the_help_snippets_are_valid_config() {
    // The two profiles shown in the help text parse as a config file.
    let help = no_config_help();
    let snippet: String = help
        .lines()
        .filter(|l| {
            let t = l.trim_start();
            l.starts_with("    ") && (t.starts_with('[') || t.contains(" = "))
        })
        .map(|l| format!("{}\n", l.trim()))
        .collect();
    let config = parse(&snippet).unwrap_or_else(|e| panic!("{e}\n{snippet}"));
    assert_eq!(config.profile_names(), ["demo", "prod"]);
}

#[test]
fn paths_live_under_the_project_dirs() {
    if let (Some(config), Some(data), Some(logs)) = (default_config_path(), data_dir(), log_dir()) {
        assert!(config.ends_with("config.toml"));
        assert!(data.to_string_lossy().contains("relcon"));
        assert!(logs.ends_with("logs"));
    }
}

#[test]
fn default_config_asset_is_only_ui_and_keymap() {
    let file: ConfigFile = toml::from_str(DEFAULT_CONFIG).unwrap_or_else(|e| panic!("{e}"));
    assert!(file.profiles.is_empty() && file.default_profile.is_none());
    // It is itself a valid user config.
    assert!(LoadedConfig::parse(DEFAULT_CONFIG_NAME, DEFAULT_CONFIG).is_ok());
}

#[test]
fn a_cognigy_profile_derives_its_hosts_and_reads_the_cli_key() {
    let text = "[profiles.prod]\nbackend = \"cognigy\"\napi_url = \"https://api-trial.cognigy.ai\"\nproject = \"Shop\"\n";
    let p = parse(text)
        .and_then(|c| c.profile(Some("prod")))
        .unwrap_or_else(|e| panic!("{e}"));
    let r = p
        .resolve_secrets(&env_of(&[("CAI_APIKEY", "k1"), ("COGNIGY_API_KEY", "k2")]))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        r.backend,
        Backend::Cognigy(CognigyTarget {
            odata_url: "https://odata-trial.cognigy.ai".into(),
            endpoint_url: "https://endpoint-trial.cognigy.ai".into(),
            project: Some("Shop".into()),
        })
    );
    match &r.credentials {
        Credentials::ApiKey(k) => assert_eq!(secrecy::ExposeSecret::expose_secret(k), "k1"),
        other => panic!("{other:?}"),
    }
    // COGNIGY_API_KEY stands in when CAI_APIKEY is unset; neither is an error naming both.
    let r = p
        .resolve_secrets(&env_of(&[("COGNIGY_API_KEY", "k2")]))
        .unwrap();
    assert!(matches!(&r.credentials, Credentials::ApiKey(_)));
    let err = p.resolve_secrets(&env_of(&[])).unwrap_err().to_string();
    assert!(
        err.contains("CAI_APIKEY") && err.contains("COGNIGY_API_KEY"),
        "{err}"
    );

    // Explicit hosts win; the simulator's one address serves all three.
    let text = "[profiles.sim]\nbackend = \"cognigy\"\napi_url = \"http://127.0.0.1:8080\"\n\
                odata_url = \"http://127.0.0.1:9090/\"\n";
    let r = parse(text)
        .and_then(|c| c.profile(Some("sim")))
        .unwrap()
        .resolve_secrets(&env_of(&[("CAI_APIKEY", "k")]))
        .unwrap();
    let Backend::Cognigy(t) = r.backend else {
        panic!("cognigy")
    };
    assert_eq!(t.odata_url, "http://127.0.0.1:9090");
    assert_eq!(t.endpoint_url, "http://127.0.0.1:8080");
    assert_eq!(t.project, None);

    // Cognigy.AI takes an API key only; an unknown backend is refused with its line.
    let text = "[profiles.x]\nbackend = \"cognigy\"\napi_url = \"http://h\"\nauth = \"client_credentials_form\"\n";
    let err = parse(text)
        .and_then(|c| c.profile(Some("x")))
        .unwrap()
        .resolve_secrets(&env_of(&[("CAI_APIKEY", "k")]))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("API key") && err.contains("remove auth"),
        "{err}"
    );
    let err = parse_err("[profiles.x]\nbackend = \"watson\"\n").to_string();
    assert!(err.contains("watson") && err.contains("cognigy"), "{err}");
}
