//! Configuration: every setting is a flag and an environment variable
//! (`gradest --help` lists them with their defaults). Tests build a [`Config`]
//! with [`Config::default`] and change what they need.

use std::net::SocketAddr;
use std::time::Duration;

use clap::builder::{PossibleValuesParser, TypedValueParser};
use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::estimation::simd::{self, Level};

pub mod tokens;
pub use tokens::ApiTokens;

/// The command line.
#[derive(Debug, Clone, Parser)]
#[command(
    name = "gradest",
    version,
    about = "An HTTP service for Monte Carlo gradient estimation of ∇θ E_{x~p_θ}[f(x; θ)]."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    #[command(flatten)]
    pub config: Config,
}

/// What to do instead of serving.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Subcommand)]
pub enum Command {
    /// Print the OpenAPI document (the committed openapi/openapi.json) and exit.
    Openapi,
    /// Ask the service at GRADEST_ADDR for /healthz; exit 0 if it answers 200
    /// (the container's HEALTHCHECK, which has no curl).
    Healthcheck,
}

/// Everything the service needs to run.
#[derive(Debug, Clone, Args)]
pub struct Config {
    /// Address to listen on.
    #[arg(long, env = "GRADEST_ADDR", default_value = "127.0.0.1:8080")]
    pub addr: SocketAddr,
    /// Log filter, in tracing's env-filter syntax (`info`, `gradest=debug,tower_http=info`).
    #[arg(long = "log", env = "GRADEST_LOG", default_value = "info")]
    pub log: String,
    /// Log line format.
    #[arg(long, env = "GRADEST_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    /// CPU feature level of the sampling and evaluation kernels: the best this
    /// CPU has, or a lower one. Results are bit-identical on every level; only
    /// speed differs.
    #[arg(long, env = "GRADEST_SIMD", default_value = "auto", value_parser = simd_cap_parser())]
    pub simd: SimdCap,
    /// Bearer tokens the /v1 routes require: a comma-separated list, or
    /// `@/path/to/file` with one token per line (`#` comments and blank lines
    /// ignored). Unset or empty: no authentication. Tokens are at least 16
    /// characters without whitespace; they are never logged.
    #[arg(long, env = "GRADEST_API_TOKENS", hide_env_values = true, default_value = "", hide_default_value = true, value_parser = tokens::ApiTokensParser)]
    pub api_tokens: ApiTokens,
    #[command(flatten)]
    pub limits: Limits,
    #[command(flatten)]
    pub storage: Storage,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            addr: SocketAddr::from(([127, 0, 0, 1], 8080)),
            log: "info".to_string(),
            log_format: LogFormat::Text,
            simd: SimdCap(None),
            api_tokens: ApiTokens::default(),
            limits: Limits::default(),
            storage: Storage::default(),
        }
    }
}

/// Where background jobs are kept, and how replicas share them.
#[derive(Clone, Args)]
pub struct Storage {
    /// Directory of the embedded job store (a SQLite file, `gradest.sqlite3`,
    /// created with the directory): finished jobs survive restarts, and running
    /// ones resume from their checkpoints. Empty: jobs are kept in memory only
    /// and are lost when the process ends. (`Config::default()` keeps memory.)
    #[arg(long, env = "GRADEST_DATA_DIR", default_value = "gradest-data")]
    pub data_dir: String,
    /// PostgreSQL shared by replicas, `postgres://user:password@host:port/db`
    /// (no TLS: keep it on a private network); wins over GRADEST_DATA_DIR.
    #[arg(long, env = "GRADEST_DATABASE_URL")]
    pub database_url: Option<String>,
    /// Finished jobs are removed this many seconds after they finished.
    #[arg(long, env = "GRADEST_JOB_RETENTION_SECS", default_value_t = 86_400.0, value_parser = positive_seconds)]
    pub job_retention_secs: f64,
    /// Most finished jobs kept; the oldest beyond are removed.
    #[arg(long, env = "GRADEST_MAX_FINISHED_JOBS", default_value_t = 10_000, value_parser = clap::value_parser!(u32).range(1..))]
    pub max_finished_jobs: u32,
    /// Seconds a replica's claim on a running job holds without renewal: a
    /// replica that dies has its jobs taken over this long after.
    #[arg(long, env = "GRADEST_LEASE_SECS", default_value_t = 15.0, value_parser = positive_seconds)]
    pub lease_secs: f64,
    /// Seconds between saves of a running job's chunk summaries (checkpoints).
    #[arg(long, env = "GRADEST_CHECKPOINT_SECS", default_value_t = 1.0, value_parser = positive_seconds)]
    pub checkpoint_secs: f64,
    /// Seconds between looks for jobs queued by other replicas.
    #[arg(long, env = "GRADEST_JOB_POLL_SECS", default_value_t = 1.0, value_parser = positive_seconds)]
    pub job_poll_secs: f64,
}

impl Default for Storage {
    fn default() -> Self {
        Storage {
            data_dir: String::new(),
            database_url: None,
            job_retention_secs: 86_400.0,
            max_finished_jobs: 10_000,
            lease_secs: 15.0,
            checkpoint_secs: 1.0,
            job_poll_secs: 1.0,
        }
    }
}

impl std::fmt::Debug for Storage {
    /// The database URL's password is never printed.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Storage")
            .field("data_dir", &self.data_dir)
            .field("database_url", &self.database_url.as_ref().map(|_| "<set>"))
            .field("job_retention_secs", &self.job_retention_secs)
            .field("max_finished_jobs", &self.max_finished_jobs)
            .field("lease_secs", &self.lease_secs)
            .field("checkpoint_secs", &self.checkpoint_secs)
            .field("job_poll_secs", &self.job_poll_secs)
            .finish()
    }
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// One JSON object per line, for log collectors.
    Json,
    /// Human-readable lines.
    Text,
}

/// The `GRADEST_SIMD` choice: `auto` (None: the best level this CPU has) or a
/// level by its name ([`Level::name`], the one table of the names).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SimdCap(pub Option<Level>);

/// Accepts `auto` and the levels' names, and lists them in `--help`.
fn simd_cap_parser() -> impl TypedValueParser<Value = SimdCap> {
    let names = std::iter::once("auto").chain(Level::ALL.map(Level::name));
    PossibleValuesParser::new(names.collect::<Vec<_>>())
        .map(|name: String| SimdCap(Level::from_name(&name)))
}

impl SimdCap {
    /// Caps the kernels at this level; an error names the level this CPU has
    /// when it lacks the one asked for.
    pub fn apply(self) -> Result<Level, String> {
        let Some(level) = self.0 else {
            return Ok(simd::active());
        };
        simd::limit(level).map(|()| level).map_err(|best| {
            format!(
                "GRADEST_SIMD={}: this CPU offers at most {}",
                level.name(),
                best.name()
            )
        })
    }
}

/// Bounds that keep every request cheap enough to refuse or finish in time.
#[derive(Debug, Clone, Args)]
pub struct Limits {
    /// Largest accepted request body, in bytes (413 above it).
    #[arg(long, env = "GRADEST_MAX_BODY_BYTES", default_value_t = 1 << 20)]
    pub max_body_bytes: usize,
    /// Largest `POST /v1/merge` body, in bytes: the partials of a job carry
    /// every chunk's summary (a job's summaries are at most 64 MiB, about 90 MB
    /// as base64 text).
    #[arg(long, env = "GRADEST_MAX_MERGE_BODY_BYTES", default_value_t = 128 << 20)]
    pub max_merge_body_bytes: usize,
    /// Most samples N per run.
    #[arg(long, env = "GRADEST_MAX_SAMPLES", default_value_t = 1_000_000_000)]
    pub max_samples: u64,
    /// Most components of a distribution (the length of x; d for a d×d matrix).
    #[arg(long, env = "GRADEST_MAX_DIMENSION", default_value_t = 10_000)]
    pub max_dimension: usize,
    /// Most categories of a one-hot categorical.
    #[arg(long, env = "GRADEST_MAX_CATEGORIES", default_value_t = 10_000)]
    pub max_categories: usize,
    /// Longest objective, in characters.
    #[arg(long, env = "GRADEST_MAX_OBJECTIVE_CHARS", default_value_t = 10_000)]
    pub max_objective_chars: usize,
    /// Most nodes in an objective's syntax tree.
    #[arg(long, env = "GRADEST_MAX_OBJECTIVE_NODES", default_value_t = 10_000)]
    pub max_objective_nodes: usize,
    /// Deepest nesting of an objective's sub-expressions.
    #[arg(long, env = "GRADEST_MAX_OBJECTIVE_DEPTH", default_value_t = 64)]
    pub max_objective_depth: usize,
    /// Most working numbers per sample the evaluator may need (values and
    /// adjoints of every node). A worker holds a few samples' worth at least, so
    /// this bounds memory: 1,000,000 floats are 8 MB per sample slot.
    #[arg(long, env = "GRADEST_MAX_WORKING_FLOATS", default_value_t = 1_000_000)]
    pub max_working_floats: usize,
    /// Most outcomes enumerated for the `exact` estimator and for references.
    #[arg(long, env = "GRADEST_MAX_OUTCOMES", default_value_t = 65_536)]
    pub max_outcomes: u64,
    /// Time budget of one request (estimate, compare), in seconds, waiting for
    /// capacity included.
    #[arg(long, env = "GRADEST_TIME_BUDGET_SECS", default_value_t = 60.0, value_parser = positive_seconds)]
    pub time_budget_secs: f64,
    /// Time budget of one background job once it starts running, in seconds.
    #[arg(long, env = "GRADEST_JOB_TIME_BUDGET_SECS", default_value_t = 600.0, value_parser = positive_seconds)]
    pub job_time_budget_secs: f64,
    /// Most estimations running at once (others queue); defaults to the number of cores.
    #[arg(long, env = "GRADEST_CONCURRENCY", default_value_t = default_concurrency(), value_parser = clap::value_parser!(u32).range(1..))]
    pub concurrency: u32,
    /// Most background jobs queued or running at once; a submission beyond is
    /// answered 429 with Retry-After.
    #[arg(long, env = "GRADEST_MAX_JOBS", default_value_t = 1_000, value_parser = clap::value_parser!(u32).range(1..))]
    pub max_jobs: u32,
    /// Most background jobs running at once (the others wait, queued); their
    /// chunks share the cores in turns, behind interactive requests' chunks.
    #[arg(long, env = "GRADEST_JOB_CONCURRENCY", default_value_t = 4, value_parser = clap::value_parser!(u32).range(1..))]
    pub job_concurrency: u32,
    /// Most estimators in one compare request.
    #[arg(long, env = "GRADEST_MAX_COMPARE_ESTIMATORS", default_value_t = 16)]
    pub max_compare_estimators: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_body_bytes: 1 << 20,
            max_merge_body_bytes: 128 << 20,
            max_samples: 1_000_000_000,
            max_dimension: 10_000,
            max_categories: 10_000,
            max_objective_chars: 10_000,
            max_objective_nodes: 10_000,
            max_objective_depth: 64,
            max_working_floats: 1_000_000,
            max_outcomes: 65_536,
            time_budget_secs: 60.0,
            job_time_budget_secs: 600.0,
            concurrency: default_concurrency(),
            max_jobs: 1_000,
            job_concurrency: 4,
            max_compare_estimators: 16,
        }
    }
}

impl Limits {
    /// The body limit of a route: the merge's, or every other's.
    pub fn body_limit(&self, path: &str) -> usize {
        if path == "/v1/merge" {
            self.max_merge_body_bytes
        } else {
            self.max_body_bytes
        }
    }

    pub fn time_budget(&self) -> Duration {
        Duration::from_secs_f64(self.time_budget_secs)
    }

    pub fn job_time_budget(&self) -> Duration {
        Duration::from_secs_f64(self.job_time_budget_secs)
    }
}

fn default_concurrency() -> u32 {
    std::thread::available_parallelism().map_or(1, |n| n.get() as u32)
}

fn positive_seconds(s: &str) -> Result<f64, String> {
    let v: f64 = s.parse().map_err(|e| format!("{e}"))?;
    if v.is_finite() && v > 0.0 && v < 1e9 {
        Ok(v)
    } else {
        Err("must be a positive number of seconds".to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_is_well_formed() {
        Cli::command().debug_assert();
    }

    #[test]
    fn defaults_agree_with_the_flags() {
        let parsed = Cli::try_parse_from(["gradest"]).unwrap().config.limits;
        let d = Limits::default();
        assert_eq!(parsed.max_body_bytes, d.max_body_bytes);
        assert_eq!(parsed.max_samples, d.max_samples);
        assert_eq!(parsed.max_working_floats, d.max_working_floats);
        assert_eq!(parsed.max_outcomes, d.max_outcomes);
        assert_eq!(parsed.max_jobs, d.max_jobs);
    }
}
