//! The service's settings: a TOML file, then `DISTILLGUARD_*` environment variables over it, then
//! the command line over both. Every setting has a default that works on one machine.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use serde::{Deserialize, Deserializer};

use super::auth::{Scope, TokenEntry};
use crate::record::litellm::AccountKey;
use crate::record::{Converter, FieldMap, Mapping};

/// Prefix of the environment variables that set the service's settings.
pub const ENV_PREFIX: &str = "DISTILLGUARD_";

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    #[serde(deserialize_with = "lenient")]
    pub listen: SocketAddr,
    pub data_dir: PathBuf,
    /// Time between automatic detection runs (they are skipped when nothing new arrived).
    #[serde(deserialize_with = "duration")]
    pub detect_interval: Duration,
    /// How far back from the newest record the state reaches; older data is compacted away.
    #[serde(deserialize_with = "duration")]
    pub window: Duration,
    /// Time between checks whether the window has moved enough to compact.
    #[serde(deserialize_with = "duration")]
    pub compact_interval: Duration,
    /// Time between snapshots of the state (taken only when something arrived since the last);
    /// a restart loads the latest and replays only the log after it.
    #[serde(deserialize_with = "duration")]
    pub snapshot_interval: Duration,
    /// Clusters scoring below this are not findings.
    #[serde(deserialize_with = "lenient")]
    pub min_score: f64,
    #[serde(deserialize_with = "size")]
    pub max_body_bytes: usize,
    #[serde(deserialize_with = "size")]
    pub max_decompressed_bytes: usize,
    #[serde(deserialize_with = "size")]
    pub max_record_bytes: usize,
    /// Posts being parsed or waiting for their commit; beyond this, posts are answered 503.
    /// Bounds memory: at most this many times (max_body_bytes + max_decompressed_bytes).
    #[serde(deserialize_with = "lenient")]
    pub max_inflight_batches: usize,
    /// Time allowed for a post's body to arrive once its headers are in.
    #[serde(deserialize_with = "duration")]
    pub body_timeout: Duration,
    /// Time allowed for a request's headers to arrive; an idle keep-alive connection is closed
    /// after the same time.
    #[serde(deserialize_with = "duration")]
    pub header_timeout: Duration,
    /// Time a connection may go without the client taking any byte of an answer being written;
    /// then the connection is closed (a client that never reads its answer holds nothing).
    #[serde(deserialize_with = "duration")]
    pub write_timeout: Duration,
    /// Connections open at once; more wait to be accepted.
    #[serde(deserialize_with = "lenient")]
    pub max_connections: usize,
    /// Records per second each token may ingest (beyond: 429 with Retry-After); 0: no limit.
    #[serde(deserialize_with = "lenient")]
    pub ingest_rate_limit: u64,
    #[serde(deserialize_with = "tokens")]
    pub tokens: Vec<TokenEntry>,
    /// A TOML file with `[[tokens]]` entries, read at startup (keeps secrets out of the config).
    pub tokens_file: Option<PathBuf>,
    /// Serve without tokens on an address other than loopback.
    #[serde(deserialize_with = "lenient")]
    pub insecure_no_auth: bool,
    /// Which LiteLLM identifier is the account of a posted LiteLLM payload.
    #[serde(deserialize_with = "lenient")]
    pub litellm_account: AccountKey,
    /// `FIELD=PATH` mappings applied to posted items, as `scan --config` reads them.
    #[serde(deserialize_with = "field_map")]
    pub map: FieldMap,
    /// Never store prompt or system prompt text: each record is reduced to the features the
    /// detector uses (hashes, template keys, cue flags) before it is written or kept.
    #[serde(deserialize_with = "lenient")]
    pub privacy_mode: bool,
    /// Scale-out over Kafka: when set, records come from a topic and the state is partitioned
    /// among the instances of a consumer group (see docs/scale-out.md).
    pub kafka: Option<KafkaSettings>,
}

/// The `[kafka]` table.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct KafkaSettings {
    /// Bootstrap servers, `host:port,host:port`.
    pub brokers: String,
    /// The topic of request logs: one contract record (JSON) per message, keyed by account id.
    pub topic: String,
    /// The producers do not key records by account: the instances first re-key them onto
    /// `<group>-accounts`, which the partition owners then consume.
    pub rekey: bool,
    /// The consumer group the instances share; it also names the internal topics
    /// `<group>-changelog`, `<group>-control` and `<group>-reports`.
    pub group: String,
    /// How often the state changes are written to the changelog and offsets committed.
    #[serde(deserialize_with = "duration")]
    pub flush_interval: Duration,
    /// Time after which an instance that stopped heartbeating loses its partitions.
    #[serde(deserialize_with = "duration")]
    pub session_timeout: Duration,
    /// Further librdkafka client properties (security, timeouts), given to every client.
    pub properties: std::collections::BTreeMap<String, String>,
}

impl Default for KafkaSettings {
    fn default() -> Self {
        KafkaSettings {
            brokers: "localhost:9092".into(),
            topic: "distillguard-logs".into(),
            rekey: false,
            group: "distillguard".into(),
            flush_interval: Duration::from_secs(1),
            session_timeout: Duration::from_secs(10),
            properties: Default::default(),
        }
    }
}

impl KafkaSettings {
    pub fn changelog_topic(&self) -> String {
        format!("{}-changelog", self.group)
    }

    pub fn control_topic(&self) -> String {
        format!("{}-control", self.group)
    }

    pub fn report_topic(&self) -> String {
        format!("{}-reports", self.group)
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            data_dir: PathBuf::from("distillguard-data"),
            detect_interval: Duration::from_secs(60),
            window: Duration::from_secs(7 * 86_400),
            compact_interval: Duration::from_secs(3_600),
            snapshot_interval: Duration::from_secs(300),
            min_score: 0.5,
            max_body_bytes: 16 << 20,
            max_decompressed_bytes: 64 << 20,
            max_record_bytes: 1 << 20,
            max_inflight_batches: 16,
            body_timeout: Duration::from_secs(60),
            header_timeout: Duration::from_secs(30),
            write_timeout: Duration::from_secs(30),
            max_connections: 1024,
            ingest_rate_limit: 0,
            tokens: Vec::new(),
            tokens_file: None,
            insecure_no_auth: false,
            litellm_account: AccountKey::default(),
            map: FieldMap::default(),
            privacy_mode: false,
            kafka: None,
        }
    }
}

impl Config {
    /// How posted items that are not in the contract's shape are read.
    pub fn converter(&self) -> Converter {
        Converter {
            map: self.map.clone(),
            litellm_account: self.litellm_account,
        }
    }
}

/// The settings' names, as keys of the TOML file; `DISTILLGUARD_` and the name in capitals is the
/// environment variable.
pub const SETTINGS: &[&str] = &[
    "listen",
    "data_dir",
    "detect_interval",
    "window",
    "compact_interval",
    "snapshot_interval",
    "min_score",
    "max_body_bytes",
    "max_decompressed_bytes",
    "max_record_bytes",
    "max_inflight_batches",
    "body_timeout",
    "header_timeout",
    "write_timeout",
    "max_connections",
    "ingest_rate_limit",
    "tokens",
    "tokens_file",
    "insecure_no_auth",
    "litellm_account",
    "map",
    "privacy_mode",
];

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{}: {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{origin}: {message}")]
    Invalid { origin: String, message: String },
    #[error(
        "{}: holds tokens and can be read by other users (mode {mode:o}); \
         make it private with `chmod 600 {}`",
        path.display(),
        path.display()
    )]
    TokensFileOpen { path: PathBuf, mode: u32 },
}

impl Config {
    /// Reads the file (when given) and lays the environment over it.
    pub fn load(file: Option<&Path>) -> Result<Config, ConfigError> {
        Self::load_with(file, |k| std::env::var(k).ok())
    }

    /// [`Config::load`] with the environment given as a lookup, for tests.
    pub fn load_with(
        file: Option<&Path>,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Config, ConfigError> {
        let (mut table, origin) = match file {
            Some(path) => {
                let text = read(path)?;
                let table = text
                    .parse::<toml::Table>()
                    .map_err(|e| invalid(path.display(), e))?;
                if table.contains_key("tokens") {
                    check_private(path)?;
                }
                (table, path.display().to_string())
            }
            None => (toml::Table::new(), "configuration".to_string()),
        };
        let mut from_env = Vec::new();
        for key in SETTINGS {
            let var = format!("{ENV_PREFIX}{}", key.to_ascii_uppercase());
            if let Some(v) = env(&var) {
                // Strings throughout: every setting's reader accepts its value written as text.
                table.insert(key.to_string(), toml::Value::String(v));
                from_env.push(var);
            }
        }
        let origin = if from_env.is_empty() {
            origin
        } else {
            format!("{origin} (with {})", from_env.join(", "))
        };
        let mut cfg: Config = table.try_into().map_err(|e| invalid(&origin, e))?;
        if let Some(path) = cfg.tokens_file.clone() {
            check_private(&path)?;
            let text = read(&path)?;
            #[derive(Deserialize)]
            #[serde(deny_unknown_fields)]
            struct TokensFile {
                tokens: Vec<TokenEntry>,
            }
            let f: TokensFile = toml::from_str(&text).map_err(|e| invalid(path.display(), e))?;
            cfg.tokens.extend(f.tokens);
        }
        cfg.validate().map_err(|m| invalid(&origin, m))?;
        Ok(cfg)
    }

    fn validate(&self) -> Result<(), String> {
        if !(0.0..=1.0).contains(&self.min_score) {
            return Err(format!(
                "min_score must be in [0, 1], got {}",
                self.min_score
            ));
        }
        for (name, v) in [
            ("max_body_bytes", self.max_body_bytes),
            ("max_decompressed_bytes", self.max_decompressed_bytes),
            ("max_record_bytes", self.max_record_bytes),
            ("max_inflight_batches", self.max_inflight_batches),
            ("max_connections", self.max_connections),
        ] {
            if v == 0 {
                return Err(format!("{name} must be above 0"));
            }
        }
        // Item ranges of a split body are u32.
        if self.max_decompressed_bytes >= u32::MAX as usize {
            return Err("max_decompressed_bytes must be below 4 GiB".into());
        }
        for (name, d) in [
            ("detect_interval", self.detect_interval),
            ("window", self.window),
            ("compact_interval", self.compact_interval),
            ("snapshot_interval", self.snapshot_interval),
            ("body_timeout", self.body_timeout),
            ("header_timeout", self.header_timeout),
            ("write_timeout", self.write_timeout),
        ] {
            if d.is_zero() {
                return Err(format!("{name} must be above 0"));
            }
        }
        let mut seen = BTreeSet::new();
        for t in &self.tokens {
            if t.token.len() < 8 {
                return Err("a token must be at least 8 characters long".into());
            }
            if !seen.insert(&t.token) {
                return Err("a token is listed twice".into());
            }
        }
        Ok(())
    }
}

/// A file holding tokens that other users may read is refused, as ssh refuses such a key.
fn check_private(path: &Path) -> Result<(), ConfigError> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let meta = std::fs::metadata(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o007 != 0 {
            return Err(ConfigError::TokensFileOpen {
                path: path.to_path_buf(),
                mode,
            });
        }
    }
    Ok(())
}

fn read(path: &Path) -> Result<String, ConfigError> {
    std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_path_buf(),
        source,
    })
}

fn invalid(origin: impl std::fmt::Display, e: impl std::fmt::Display) -> ConfigError {
    ConfigError::Invalid {
        origin: origin.to_string(),
        message: e.to_string().trim().to_string(),
    }
}

/// A value written natively in TOML or as a string (as environment variables are).
#[derive(Deserialize)]
#[serde(untagged)]
enum Raw {
    Int(i64),
    Float(f64),
    Bool(bool),
    Text(String),
}

impl Raw {
    fn text(self) -> String {
        match self {
            Raw::Int(i) => i.to_string(),
            Raw::Float(f) => f.to_string(),
            Raw::Bool(b) => b.to_string(),
            Raw::Text(s) => s,
        }
    }
}

fn lenient<'de, D: Deserializer<'de>, T>(d: D) -> Result<T, D::Error>
where
    T: FromStr,
    T::Err: std::fmt::Display,
{
    let s = Raw::deserialize(d)?.text();
    s.trim()
        .parse()
        .map_err(|e| serde::de::Error::custom(format!("{s:?}: {e}")))
}

fn duration<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    let s = Raw::deserialize(d)?.text();
    parse_duration(&s).map_err(serde::de::Error::custom)
}

fn size<'de, D: Deserializer<'de>>(d: D) -> Result<usize, D::Error> {
    let s = Raw::deserialize(d)?.text();
    parse_size(&s).map_err(serde::de::Error::custom)
}

/// A `[map]` table of `FIELD = "PATH"`, or (from the environment) `FIELD=PATH,FIELD=PATH`.
fn field_map<'de, D: Deserializer<'de>>(d: D) -> Result<FieldMap, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Map {
        Table(std::collections::BTreeMap<String, String>),
        Text(String),
    }
    let mappings = match Map::deserialize(d)? {
        Map::Table(t) => t
            .iter()
            .map(|(field, path)| Mapping::new(field, path))
            .collect::<Result<Vec<_>, _>>(),
        Map::Text(s) => s
            .split(',')
            .map(str::trim)
            .filter(|m| !m.is_empty())
            .map(str::parse)
            .collect(),
    };
    mappings
        .and_then(FieldMap::new)
        .map_err(|e| serde::de::Error::custom(format!("map: {e}")))
}

/// A list of `{token, scopes}` tables, or (from the environment) `TOKEN:SCOPE+SCOPE,...`.
fn tokens<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<TokenEntry>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Tokens {
        List(Vec<TokenEntry>),
        Text(String),
    }
    match Tokens::deserialize(d)? {
        Tokens::List(l) => Ok(l),
        Tokens::Text(s) => parse_tokens(&s).map_err(serde::de::Error::custom),
    }
}

pub fn parse_tokens(s: &str) -> Result<Vec<TokenEntry>, String> {
    s.split(',')
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(|entry| {
            let (token, scopes) = entry.rsplit_once(':').ok_or_else(|| {
                "tokens: write TOKEN:SCOPE+SCOPE, separated by commas".to_string()
            })?;
            let scopes = scopes
                .split('+')
                .map(|s| s.trim().parse::<Scope>())
                .collect::<Result<Vec<_>, _>>()?;
            Ok(TokenEntry {
                token: token.to_string(),
                scopes,
                name: None,
            })
        })
        .collect()
}

/// `500ms`, `90s`, `15m`, `2h`, `7d`; a bare number is seconds.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let t = s.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = (&t[..split], t[split..].trim());
    let n: f64 = num
        .parse()
        .map_err(|_| format!("{s:?} is not a duration (e.g. 500ms, 60s, 15m, 2h, 7d)"))?;
    let secs = match unit {
        "ms" => n / 1000.0,
        "" | "s" => n,
        "m" | "min" => n * 60.0,
        "h" => n * 3_600.0,
        "d" => n * 86_400.0,
        _ => return Err(format!("{s:?}: unknown unit {unit:?} (ms, s, m, h, d)")),
    };
    Duration::try_from_secs_f64(secs).map_err(|e| format!("{s:?}: {e}"))
}

/// `1048576`, `512KiB`, `16MiB`, `1GiB` (also KB, MB, GB as powers of ten).
pub fn parse_size(s: &str) -> Result<usize, String> {
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = (&t[..split], t[split..].trim());
    let n: usize = num
        .parse()
        .map_err(|_| format!("{s:?} is not a size (e.g. 1048576, 512KiB, 16MiB)"))?;
    let mult: usize = match unit.to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "kib" | "k" => 1 << 10,
        "mib" | "m" => 1 << 20,
        "gib" | "g" => 1 << 30,
        "kb" => 1_000,
        "mb" => 1_000_000,
        "gb" => 1_000_000_000,
        _ => return Err(format!("{s:?}: unknown unit {unit:?} (KiB, MiB, GiB)")),
    };
    n.checked_mul(mult)
        .ok_or_else(|| format!("{s:?} is too large"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_and_sizes() {
        assert_eq!(parse_duration("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(parse_duration("60").unwrap(), Duration::from_secs(60));
        assert_eq!(parse_duration("7d").unwrap(), Duration::from_secs(604_800));
        assert!(parse_duration("7w").is_err());
        assert_eq!(parse_size("16MiB").unwrap(), 16 << 20);
        assert_eq!(parse_size("1 KB").unwrap(), 1000);
        assert!(parse_size("lots").is_err());
    }

    #[test]
    fn file_then_environment() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.toml");
        std::fs::write(
            &path,
            "listen = \"0.0.0.0:9000\"\nwindow = \"2d\"\nmax_body_bytes = 1024\n\
             [[tokens]]\ntoken = \"abcdefgh1\"\nscopes = [\"ingest\"]\n",
        )
        .unwrap();
        let env = |k: &str| match k {
            "DISTILLGUARD_WINDOW" => Some("3h".to_string()),
            "DISTILLGUARD_MIN_SCORE" => Some("0.7".to_string()),
            "DISTILLGUARD_PRIVACY_MODE" => Some("true".to_string()),
            _ => None,
        };
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let e = Config::load_with(Some(&path), env).unwrap_err();
            assert!(e.to_string().contains("holds tokens"), "{e}");
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        }
        let c = Config::load_with(Some(&path), env).unwrap();
        assert!(c.privacy_mode);
        assert!(!Config::default().privacy_mode, "text is kept unless asked");
        assert_eq!(c.listen.port(), 9000);
        assert_eq!(c.window, Duration::from_secs(3 * 3600));
        assert_eq!(c.min_score, 0.7);
        assert_eq!(c.max_body_bytes, 1024);
        assert_eq!(c.tokens.len(), 1);

        let env = |k: &str| {
            (k == "DISTILLGUARD_TOKENS").then(|| "abcdefgh1:ingest+read, zyxwvuts2:admin".into())
        };
        let c = Config::load_with(None, env).unwrap();
        assert_eq!(c.tokens[0].scopes, vec![Scope::Ingest, Scope::Read]);
        assert_eq!(c.tokens[1].scopes, vec![Scope::Admin]);

        let tokens = dir.path().join("tokens.toml");
        std::fs::write(
            &tokens,
            "[[tokens]]\ntoken = \"from-a-file\"\nscopes = [\"read\", \"review\"]\nname = \"alice\"\n",
        )
        .unwrap();
        let env = |k: &str| {
            (k == "DISTILLGUARD_TOKENS_FILE").then(|| tokens.to_string_lossy().into_owned())
        };
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let open = std::fs::Permissions::from_mode(0o644);
            std::fs::set_permissions(&tokens, open).unwrap();
            let e = Config::load_with(Some(&path), env).unwrap_err();
            assert!(e.to_string().contains("chmod 600"), "{e}");
            let private = std::fs::Permissions::from_mode(0o640);
            std::fs::set_permissions(&tokens, private).unwrap();
        }
        let c = Config::load_with(Some(&path), env).unwrap();
        assert_eq!(c.tokens.len(), 2, "the file's tokens join the config's");
        assert_eq!(c.tokens[1].scopes, vec![Scope::Read, Scope::Review]);
        assert_eq!(c.tokens[1].name.as_deref(), Some("alice"));

        let env = |k: &str| (k == "DISTILLGUARD_WINDOW_SIZE").then(|| "1".into());
        assert!(
            Config::load_with(None, env).is_ok(),
            "unknown variables are not settings"
        );
        std::fs::write(
            &path,
            "litellm_account = \"team\"\n[map]\naccount_id = \"user.id\"\nts = \"@timestamp\"\n",
        )
        .unwrap();
        let c = Config::load_with(Some(&path), |_| None).unwrap();
        assert_eq!(c.litellm_account, AccountKey::Team);
        assert_eq!(c.map.mappings().len(), 2);
        let env = |k: &str| match k {
            "DISTILLGUARD_LITELLM_ACCOUNT" => Some("key-hash".to_string()),
            "DISTILLGUARD_MAP" => Some("account_id=customer, model=req.model".to_string()),
            _ => None,
        };
        let c = Config::load_with(Some(&path), env).unwrap();
        assert_eq!(c.litellm_account, AccountKey::KeyHash);
        assert_eq!(c.map.mappings()[0].to_string(), "account_id=customer");
        std::fs::write(&path, "[map]\nacount_id = \"user.id\"\n").unwrap();
        let e = Config::load_with(Some(&path), |_| None).unwrap_err();
        assert!(e.to_string().contains("acount_id"), "{e}");
        let env = |k: &str| (k == "DISTILLGUARD_LITELLM_ACCOUNT").then(|| "tenant".into());
        let e = Config::load_with(None, env).unwrap_err();
        assert!(e.to_string().contains("tenant"), "{e}");

        std::fs::write(&path, "windw = \"2d\"\n").unwrap();
        let e = Config::load_with(Some(&path), |_| None).unwrap_err();
        assert!(e.to_string().contains("windw"), "{e}");
    }
}
