//! `gco-controller run`: the operator process. Wires the Kubernetes client, the git engine, the
//! watches, leader election, metrics and health endpoints, and runs the reconcilers until
//! SIGTERM.

use std::{collections::HashMap, net::SocketAddr, path::PathBuf, sync::Arc};

use anyhow::{Context as _, Result};
use futures::{StreamExt, TryStreamExt};
use gco_api::{ExportKind, GitCommit, PullRequest};
use kube::{
    Api, Client, Config, ResourceExt,
    config::{KubeConfigOptions, Kubeconfig},
    runtime::{
        Controller, Predicate, WatchStreamExt, controller, predicates,
        reflector::{self, ObjectRef},
        watcher,
    },
};
use tokio::sync::mpsc::UnboundedReceiver;
use tokio_stream::wrappers::UnboundedReceiverStream;
use tracing::{info, warn};

use gco_runtime::{LogFormat, Readiness, Shutdown, probes};

use super::{InitialList, leader::LeaderElector, metrics::Metrics, policies::Policies};
use crate::{
    announce::{Announcer, FluxNotifier},
    git::GitEngine,
    reconcile::{self, Context, Exporter, handoff::Handoffs},
    references::{Owner, Readers, References},
};

/// Flags of `gco-controller run`.
#[derive(Clone, Debug, clap::Args)]
pub struct OperatorArgs {
    /// Kubeconfig to use; default: in-cluster configuration, else $KUBECONFIG / ~/.kube/config.
    #[arg(long, env = "KUBECONFIG")]
    pub kubeconfig: Option<PathBuf>,
    /// Folder of the cached bare repositories (an emptyDir in a Pod).
    #[arg(long, default_value = "/var/cache/git-change-operator")]
    pub cache_dir: PathBuf,
    /// Bytes the cached repositories may take on disk: after each batch, the least recently
    /// used ones not in use are deleted (and cloned again when next needed). The default stays
    /// below the chart's 1 GiB emptyDir limit, leaving room for the batch in flight.
    #[arg(long, default_value_t = crate::git::DEFAULT_CACHE_MAX_BYTES)]
    pub cache_max_bytes: u64,
    /// Flux notification-controller events address, e.g.
    /// http://notification-controller.flux-system.svc.cluster.local./ ; default: off.
    #[arg(long)]
    pub events_addr: Option<String>,
    /// Reconcile objects in this namespace only; default: all namespaces.
    #[arg(long)]
    pub watch_namespace: Option<String>,
    /// Reconcile only objects matching this label selector (sharding); default: all.
    #[arg(long)]
    pub watch_label_selector: Option<String>,
    /// Objects reconciled at once. Runs are I/O-bound and those waiting for the same branch
    /// share its next push, so a high number means fewer, larger pushes.
    #[arg(long, default_value_t = 64)]
    pub concurrency: u16,
    /// ServiceAccount (in each object's namespace) whose permissions the reads made for an
    /// object use when its spec names none: the controller impersonates it, so the apiserver
    /// enforces the tenants' RBAC (needs `impersonate` on serviceaccounts); default: none, the
    /// controller reads with its own identity.
    #[arg(long, env = "GCO_DEFAULT_SERVICE_ACCOUNT")]
    pub default_service_account: Option<String>,
    /// How often referenced Secrets are looked at for changes, in seconds (metadata-only reads:
    /// the controller may only `get` Secrets, and a watch would return their data).
    #[arg(long, default_value_t = 60)]
    pub secret_poll_seconds: u64,
    /// How long after an object's deletion its cleanup (closing a pull request, deleting a
    /// pruning GitCommit's files) is tried before the finalizer lets go, in seconds: a git
    /// server or forge that stays down must not block a namespace's deletion forever.
    #[arg(long, default_value_t = 600)]
    pub cleanup_timeout_seconds: u64,
    /// Secret holding the key of the digests that tell an unchanged encrypted Secret dump
    /// (made the first time a run encrypts something).
    #[arg(long, default_value = "git-change-operator-digest-key")]
    pub digest_key_secret: String,
    /// Namespace of that Secret; default: the leader election namespace.
    #[arg(long)]
    pub digest_key_namespace: Option<String>,
    /// Reconcile only while holding the leader Lease (run several replicas for HA).
    #[arg(long)]
    pub leader_elect: bool,
    /// Namespace of the leader Lease; default: $POD_NAMESPACE, else git-change-operator-system.
    #[arg(long, env = gco_runtime::POD_NAMESPACE_ENV, default_value = gco_runtime::DEFAULT_NAMESPACE)]
    pub leader_election_namespace: String,
    /// Name of the leader Lease.
    #[arg(long, default_value = "git-change-operator")]
    pub leader_election_id: String,
    /// This replica's name in events and the Lease; default: $POD_NAME, else the host name.
    #[arg(long, env = "POD_NAME")]
    pub instance: Option<String>,
    /// Address of /metrics.
    #[arg(long, default_value = "0.0.0.0:8080")]
    pub metrics_addr: SocketAddr,
    /// Address of /healthz and /readyz.
    #[arg(long, default_value = "0.0.0.0:8081")]
    pub health_addr: SocketAddr,
    /// Log format: `json` (one object per line) or `text`.
    #[arg(long, value_enum, default_value_t = LogFormat::Json)]
    pub log_format: LogFormat,
    /// Test hook: exit right after a push, before the status write.
    #[arg(long, hide = true)]
    pub crash_after_push: bool,
    /// Test hook: assume the apiserver serves streaming lists instead of asking, so that its
    /// refusals exercise each watch's fall back to a list.
    #[arg(long, hide = true)]
    pub assume_streaming_lists: bool,
}

pub async fn operate(args: OperatorArgs) -> Result<()> {
    let config = config(args.kubeconfig.as_deref()).await?;
    let client = Client::try_from(config.clone())?;
    let instance = args.instance.clone().unwrap_or_else(hostname);
    let metrics = Metrics::default();
    let readiness = Readiness::default();
    spawn_servers(&args, &metrics, &readiness);

    let flux = args
        .events_addr
        .clone()
        .map(FluxNotifier::spawn)
        .transpose()
        .context("start the Flux event client")?;
    // Asked where the GitCommit watch runs (`--watch-namespace`), which RBAC must allow anyway.
    let probe: Api<GitCommit> = match &args.watch_namespace {
        Some(namespace) => Api::namespaced(client.clone(), namespace),
        None => Api::all(client.clone()),
    };
    let lists = match args.assume_streaming_lists {
        true => InitialList::streaming(),
        false => InitialList::detect(&probe).await,
    };
    let (references, mut triggers) = References::new(
        client.clone(),
        metrics.referenced_objects.clone(),
        std::time::Duration::from_secs(args.secret_poll_seconds.max(1)),
        lists.clone(),
    );
    std::fs::create_dir_all(&args.cache_dir)
        .with_context(|| format!("create the git cache at {}", args.cache_dir.display()))?;
    let engine = GitEngine::with_cache_bound(
        args.cache_dir.clone(),
        args.cache_max_bytes,
        metrics.lanes.clone(),
    );
    // Policies and namespace labels, for the reconcile-time policy check. A policy change
    // re-evaluates every object of both kinds.
    let (gitcommit_policy_tx, gitcommit_policies) = tokio::sync::mpsc::unbounded_channel::<()>();
    let (pullrequest_policy_tx, pullrequest_policies) =
        tokio::sync::mpsc::unbounded_channel::<()>();
    let policies = Arc::new(Policies::watch(
        &client,
        vec![gitcommit_policy_tx, pullrequest_policy_tx],
    ));

    let digest_namespace = args
        .digest_key_namespace
        .clone()
        .unwrap_or_else(|| args.leader_election_namespace.clone());
    let digest_key = super::digest_key::DigestKeySource::new(
        client.clone(),
        digest_namespace,
        args.digest_key_secret.clone(),
    );

    // A GitCommit whose push lane answered is woken to conclude its run.
    let (wake, woken) = tokio::sync::mpsc::unbounded_channel::<Owner>();
    let handoffs = Arc::new(Handoffs::new(wake, metrics.runs_handed_in.clone()));
    let ctx = Arc::new(Context {
        client: client.clone(),
        engine,
        handoffs,
        references,
        readers: Readers::new(config, client.clone(), args.default_service_account.clone()),
        announcer: Announcer::new(client.clone(), &instance, flux),
        metrics,
        policies: policies.clone(),
        failures: Default::default(),
        crash_after_push: args.crash_after_push,
        cleanup_timeout: std::time::Duration::from_secs(args.cleanup_timeout_seconds),
        digest_key,
    });

    let elector = args.leader_elect.then(|| {
        LeaderElector::new(
            client.clone(),
            &args.leader_election_namespace,
            &args.leader_election_id,
            &instance,
        )
    });
    let mut shutdown = Shutdown::listen().context("listen for SIGTERM")?;
    // Fail closed: no object is judged before every policy and namespace is known.
    tokio::select! {
        ready = policies.wait_until_ready() => ready.context("policy and namespace caches")?,
        _ = shutdown.wait() => return Ok(()),
    }
    // Ready means the caches are filled, not that this replica leads: a standby is ready too,
    // or a rolling update (maxUnavailable 0) would wait forever for the new pod, which waits
    // for the old pod's Lease.
    readiness.set_ready();
    if let Some(elector) = &elector {
        info!(lease = %args.leader_election_id, %instance, "waiting for leadership");
        tokio::select! {
            _ = elector.acquire() => {}
            _ = shutdown.wait() => return Ok(()),
        }
    }

    let engine = ctx.engine.clone();
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let gitcommit_controller = KindController {
        args: &args,
        client: &client,
        referenced: take(&mut triggers, ExportKind::GitCommit),
        woken: Some(woken),
        policy_changes: gitcommit_policies,
        lists: lists.clone(),
        stop: stop_rx.clone(),
    }
    .run::<GitCommit>(ctx.clone());
    let pullrequest_controller = KindController {
        args: &args,
        client: &client,
        referenced: take(&mut triggers, ExportKind::PullRequest),
        woken: None,
        policy_changes: pullrequest_policies,
        lists,
        stop: stop_rx,
    }
    .run::<PullRequest>(ctx);
    let controllers = futures::future::join(gitcommit_controller, pullrequest_controller);
    info!(%instance, "git-change-operator controller running");

    let lost_leadership = async {
        match &elector {
            Some(elector) => elector.hold().await,
            None => std::future::pending().await,
        }
    };
    tokio::pin!(controllers);
    tokio::select! {
        _ = &mut controllers => {}
        _ = shutdown.wait() => {
            info!("SIGTERM: finishing the runs in flight");
            let _ = stop_tx.send(true);
            controllers.await;
            drain(&engine).await;
        }
        _ = lost_leadership => {
            // Another replica may already be reconciling: stop at once, without a status write.
            anyhow::bail!("lost the leader Lease; exiting so that only the leader reconciles");
        }
    }
    if let Some(elector) = &elector {
        elector.release().await;
    }
    info!("stopped");
    Ok(())
}

/// A change of whether the object is being deleted: its deletion starts its cleanup.
fn being_deleted<K: kube::Resource>(object: &K) -> Option<u64> {
    Some(u64::from(object.meta().deletion_timestamp.is_some()))
}

/// How long a stopping leader waits for the pushes its runs handed to the lanes.
const DRAIN: std::time::Duration = std::time::Duration::from_secs(20);

/// Waits, at most [`DRAIN`], until no push lane has work: a push is never cut short by the
/// exit. The runs those pushes answer are concluded by the next leader, which finds their
/// commits by the run trailers.
async fn drain(engine: &GitEngine) {
    let deadline = tokio::time::Instant::now() + DRAIN;
    while engine.in_use().lanes > 0 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

/// One kind's controller: its watch (spec and annotation changes only; status writes do not
/// trigger), the objects it references, and every policy change.
struct KindController<'a> {
    args: &'a OperatorArgs,
    client: &'a Client,
    /// Owners whose referenced objects changed.
    referenced: UnboundedReceiver<Owner>,
    /// Owners whose push lane answered (GitCommits only).
    woken: Option<UnboundedReceiver<Owner>>,
    /// A GitExportPolicy changed: every object is evaluated again.
    policy_changes: UnboundedReceiver<()>,
    stop: tokio::sync::watch::Receiver<bool>,
    lists: InitialList,
}

impl KindController<'_> {
    fn run<K: Exporter>(self, ctx: Arc<Context>) -> impl std::future::Future<Output = ()> + use<K> {
        let api: Api<K> = match &self.args.watch_namespace {
            Some(namespace) => Api::namespaced(self.client.clone(), namespace),
            None => Api::all(self.client.clone()),
        };
        let mut config = watcher::Config::default();
        if let Some(selector) = &self.args.watch_label_selector {
            config = config.labels(selector);
        }
        let (store, writer) = reflector::store::<K>();
        let changes = self
            .lists
            .watch(api, config)
            .default_backoff()
            // The controller never reads managedFields; the cache need not hold them.
            .modify(|object| object.managed_fields_mut().clear())
            .reflect(writer)
            .inspect_ok({
                // A deleted owner no longer keeps its references watched.
                let ctx = ctx.clone();
                move |event| {
                    if let watcher::Event::Delete(object) = event {
                        let owner = Owner {
                            kind: K::KIND,
                            namespace: object.namespace().unwrap_or_default(),
                            name: object.name_any(),
                        };
                        ctx.references.forget(&owner);
                        ctx.handoffs.forget(&owner);
                        ctx.metrics.forget_object(&reconcile::object_labels(&owner));
                    }
                }
            })
            .applied_objects()
            .predicate_filter(
                predicates::generation
                    .combine(predicates::annotations)
                    .combine(being_deleted::<K>),
                Default::default(),
            );
        let woken = match self.woken {
            Some(woken) => UnboundedReceiverStream::new(woken).left_stream(),
            None => futures::stream::empty().right_stream(),
        };
        let referenced =
            futures::stream::select(UnboundedReceiverStream::new(self.referenced), woken)
                .map(|owner| ObjectRef::new(&owner.name).within(&owner.namespace));
        let policies = UnboundedReceiverStream::new(self.policy_changes);
        let mut stop = self.stop;
        Controller::for_stream(changes, store)
            .with_config(controller::Config::default().concurrency(self.args.concurrency))
            .reconcile_on(referenced)
            .reconcile_all_on(policies)
            .graceful_shutdown_on(async move {
                let _ = stop.wait_for(|stopped| *stopped).await;
            })
            .run(reconcile::reconcile::<K>, reconcile::error_policy::<K>, ctx)
            .for_each(|result| async move {
                if let Err(error) = result {
                    warn!(kind = K::KIND.as_str(), %error, "reconcile error");
                }
            })
    }
}

fn take<T>(receivers: &mut HashMap<ExportKind, T>, kind: ExportKind) -> T {
    receivers
        .remove(&kind)
        .expect("References::new returns a receiver per exporting kind")
}

async fn config(kubeconfig: Option<&std::path::Path>) -> Result<Config> {
    let config = match kubeconfig {
        Some(path) => {
            let kubeconfig = Kubeconfig::read_from(path)
                .with_context(|| format!("read kubeconfig {}", path.display()))?;
            Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default()).await?
        }
        None => Config::infer()
            .await
            .context("no in-cluster configuration and no kubeconfig")?,
    };
    Ok(config)
}

fn spawn_servers(args: &OperatorArgs, metrics: &Metrics, readiness: &Readiness) {
    let addresses = if args.metrics_addr == args.health_addr {
        vec![args.metrics_addr]
    } else {
        vec![args.metrics_addr, args.health_addr]
    };
    for addr in addresses {
        let metrics = metrics.clone();
        let router = probes::router(readiness.clone(), move || metrics.render());
        tokio::spawn(async move {
            if let Err(error) = gco_runtime::serve_plain(addr, router).await {
                warn!(%addr, %error, "HTTP endpoint stopped");
            }
        });
    }
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .unwrap_or_else(|_| "gco-controller".into())
}
