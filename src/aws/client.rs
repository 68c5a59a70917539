//! The AWS clients of one environment, and the log of every call they make.

use std::sync::{Arc, Mutex};

use aws_config::BehaviorVersion;
use aws_config::retry::RetryConfig;
use aws_sdk_sfn::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_smithy_runtime_api::client::interceptors::context::BeforeSerializationInterceptorContextRef;
use aws_smithy_runtime_api::client::orchestrator::{HttpResponse, Metadata};
use serde::Serialize;

use crate::config::EnvConfig;

/// Attempts per SDK call (the first and its retries): bounded, so a broken endpoint fails in seconds, not minutes.
pub const MAX_ATTEMPTS: u32 = 4;

/// One AWS call: its service and operation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Call {
    /// The service, e.g. `SFN`.
    pub service: String,
    /// The operation, e.g. `UpdateStateMachine`.
    pub operation: String,
}

impl Call {
    /// Whether the call can change anything: everything but Describe*, Get*, List* and Validate*.
    pub fn is_mutating(&self) -> bool {
        !["Describe", "Get", "List", "Validate"].iter().any(|p| self.operation.starts_with(p))
    }
}

/// Every AWS call the clients made, in order.
#[derive(Debug, Clone, Default)]
pub struct CallLog(Arc<Mutex<Vec<Call>>>);

impl CallLog {
    /// The calls so far.
    pub fn calls(&self) -> Vec<Call> {
        self.0.lock().map(|c| c.clone()).unwrap_or_default()
    }

    /// The mutating calls so far.
    pub fn mutating(&self) -> Vec<Call> {
        self.calls().into_iter().filter(Call::is_mutating).collect()
    }
}

impl Intercept for CallLog {
    fn name(&self) -> &'static str {
        "amali::aws::CallLog"
    }

    // Once per call (not per attempt), after the operation's configuration (and its Metadata) is in the bag:
    // `read_before_execution` runs for client interceptors before that.
    fn read_before_serialization(
        &self,
        _context: &BeforeSerializationInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), aws_smithy_runtime_api::box_error::BoxError> {
        if let Some(meta) = cfg.load::<Metadata>() {
            let call = Call { service: meta.service().to_string(), operation: meta.name().to_string() };
            if let Ok(mut calls) = self.0.lock() {
                calls.push(call);
            }
        }
        Ok(())
    }
}

/// The service clients of one environment, all counting their calls in one [`CallLog`].
#[derive(Debug, Clone)]
pub struct Aws {
    /// Step Functions.
    pub sfn: aws_sdk_sfn::Client,
    /// SNS.
    pub sns: aws_sdk_sns::Client,
    /// Lambda.
    pub lambda: aws_sdk_lambda::Client,
    /// Glue.
    pub glue: aws_sdk_glue::Client,
    /// ECS.
    pub ecs: aws_sdk_ecs::Client,
    /// STS: which account the credentials are for.
    pub sts: aws_sdk_sts::Client,
    /// The calls made.
    pub log: CallLog,
}

impl Aws {
    /// Clients for `env`: the standard credential chain, the environment's region (every ARN amali builds names
    /// it), an optional endpoint (emulators), bounded retries.
    pub async fn connect(env: &EnvConfig, endpoint_url: Option<&str>) -> Aws {
        let mut loader = aws_config::defaults(BehaviorVersion::latest())
            .retry_config(RetryConfig::standard().with_max_attempts(MAX_ATTEMPTS))
            .region(aws_config::Region::new(env.region.clone()));
        if let Some(url) = endpoint_url {
            loader = loader.endpoint_url(url);
        }
        let shared = loader.load().await;
        let log = CallLog::default();
        Aws {
            sfn: aws_sdk_sfn::Client::from_conf(
                aws_sdk_sfn::config::Builder::from(&shared).interceptor(log.clone()).build(),
            ),
            sns: aws_sdk_sns::Client::from_conf(
                aws_sdk_sns::config::Builder::from(&shared).interceptor(log.clone()).build(),
            ),
            lambda: aws_sdk_lambda::Client::from_conf(
                aws_sdk_lambda::config::Builder::from(&shared).interceptor(log.clone()).build(),
            ),
            glue: aws_sdk_glue::Client::from_conf(
                aws_sdk_glue::config::Builder::from(&shared).interceptor(log.clone()).build(),
            ),
            ecs: aws_sdk_ecs::Client::from_conf(
                aws_sdk_ecs::config::Builder::from(&shared).interceptor(log.clone()).build(),
            ),
            sts: aws_sdk_sts::Client::from_conf(
                aws_sdk_sts::config::Builder::from(&shared).interceptor(log.clone()).build(),
            ),
            log,
        }
    }
}

/// The message of an SDK error, with the service's error code when it has one (`ResourceNotFoundException: ...`).
pub fn describe_error<E>(err: &aws_sdk_sfn::error::SdkError<E, HttpResponse>) -> String
where
    E: aws_sdk_sfn::error::ProvideErrorMetadata + std::error::Error + 'static,
{
    use aws_sdk_sfn::error::SdkError;
    match err {
        SdkError::ServiceError(service) => {
            let e = service.err();
            match (e.code(), e.message()) {
                (Some(code), Some(message)) => format!("{code}: {message}"),
                (Some(code), None) => code.to_string(),
                // No error code: not an answer of the AWS API (an emulator without the operation, a proxy).
                _ => format!("the endpoint answered HTTP {} without an AWS error", service.raw().status().as_u16()),
            }
        }
        SdkError::DispatchFailure(e) => {
            let chain = format!("{}", aws_sdk_sfn::error::DisplayErrorContext(err));
            if chain.contains("credentials") || chain.contains("ProviderError") || chain.contains("LoadToken") {
                format!(
                    "no usable AWS credentials (environment, profile, SSO or instance role; `aws sts \
                     get-caller-identity` checks them): {chain}"
                )
            } else if e.is_timeout() || e.is_io() {
                format!("cannot reach AWS (network or --endpoint-url): {chain}")
            } else {
                format!("the call could not be sent: {chain}")
            }
        }
        SdkError::TimeoutError(_) => "the call timed out".to_string(),
        other => format!("{other}"),
    }
}
