//! The audit trail: one record per read, search, summary and write, allowed or refused: who
//! (client, organisation, end user), what (interaction, resource, the patients whose data was
//! returned), when, the outcome and the request id. Records are append-only (the databases
//! refuse changes to them) and are served as FHIR `AuditEvent`.

use std::sync::{Arc, OnceLock};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, oneshot};
use uuid::Uuid;

use crate::store::{PlanStore, StoreError};

/// A patient whose data a request touched.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditedPatient {
    /// The FHIR Patient id.
    pub patient_id: String,
    /// The NHS number.
    pub nhs_number: String,
}

/// One audit record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditRecord {
    /// Its id (the AuditEvent id).
    pub id: Uuid,
    /// When.
    pub recorded: DateTime<Utc>,
    /// The interaction (`read`, `vread`, `history-instance`, `search-type`, `summary`,
    /// `create`, `update`, `delete`, `other`).
    pub interaction: String,
    /// The AuditEvent.action code: C, R, U, D or E.
    pub action: String,
    /// The HTTP status answered.
    pub status: u16,
    /// The client id (absent when no valid token was presented).
    pub client_id: Option<String>,
    /// The client's registered name.
    pub client_name: Option<String>,
    /// The ODS code of the client's organisation.
    pub organisation: Option<String>,
    /// The end user, as a trusted client stated it.
    pub end_user: Option<String>,
    /// The end user's organisation, as a trusted client stated it.
    pub end_user_organisation: Option<String>,
    /// The resource type addressed.
    pub resource_type: Option<String>,
    /// The resource id addressed.
    pub resource_id: Option<String>,
    /// The patients whose data was returned or changed.
    pub patients: Vec<AuditedPatient>,
    /// The query string of a search.
    pub query: Option<String>,
    /// The request id (`X-Request-ID`).
    pub request_id: String,
    /// The reason stated for an emergency override of a withdrawn consent to share.
    pub emergency_override: Option<String>,
    /// Why a request was refused, or what was withheld.
    pub detail: Option<String>,
}

/// A new audit record's id: a version 7 UUID, ordered by creation time within this process.
/// The audit tables are keyed by it, so each new record goes on the end of their B-trees
/// instead of at a random place (random version 4 keys made every group commit dirty pages
/// across the whole, ever-growing, audit table).
pub fn new_id() -> Uuid {
    Uuid::now_v7()
}

impl AuditRecord {
    /// The AuditEvent.outcome code: 0 success, 4 refused or failed because of the request,
    /// 8 failed because of us.
    pub fn outcome(&self) -> &'static str {
        match self.status {
            0..=399 => "0",
            400..=499 => "4",
            _ => "8",
        }
    }

    /// Adds a patient once.
    pub fn add_patient(&mut self, patient: AuditedPatient) {
        if !self.patients.contains(&patient) {
            self.patients.push(patient);
        }
    }
}

/// A date bound of an audit search.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DateBound {
    /// recorded ≥ the time.
    From(DateTime<Utc>),
    /// recorded < the time.
    Before(DateTime<Utc>),
}

/// An audit search; every criterion given must hold.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditQuery {
    /// The patient, by FHIR id.
    pub patient_id: Option<String>,
    /// The NHS number of `patient_id`'s plan, when the service knows it. Every audit record of
    /// a Patient names it with its plan's NHS number (`service::patient_of`), which never
    /// changes, so the search can then go by NHS number: the request audit file keeps its
    /// patient links keyed by NHS number, with no index of Patient ids
    /// (migrations/sqlite-audit/0002 and 0004). Not a criterion of its own: without it a
    /// search by Patient id finds the same records, by a slower path.
    pub patient_nhs_number: Option<String>,
    /// The patient, by NHS number.
    pub nhs_number: Option<String>,
    /// The client id or end user.
    pub agent: Option<String>,
    /// The resource addressed (type, id).
    pub entity: Option<(String, String)>,
    /// Time bounds.
    pub dates: Vec<DateBound>,
    /// Newest first, continuing before this (recorded, id).
    pub before: Option<(DateTime<Utc>, Uuid)>,
    /// At most this many.
    pub limit: u32,
}

/// The SQL of an audit search and its bound values, with `placeholder(n)` writing the n-th
/// (1-based) parameter (`?` for SQLite, `$n` for PostgreSQL).
pub(crate) fn search_sql(
    query: &AuditQuery,
    placeholder: impl Fn(usize) -> String,
) -> (String, Vec<String>) {
    let mut binds: Vec<String> = Vec::new();
    let mut clauses: Vec<String> = Vec::new();
    let bind = |value: String, binds: &mut Vec<String>| {
        binds.push(value);
        placeholder(binds.len())
    };
    if let Some(id) = &query.patient_id {
        let p = bind(id.clone(), &mut binds);
        let also = match &query.patient_nhs_number {
            Some(nhs) => format!(" AND nhs_number = {}", bind(nhs.clone(), &mut binds)),
            None => String::new(),
        };
        clauses.push(format!(
            "e.id IN (SELECT audit_id FROM audit_event_patients WHERE patient_id = {p}{also})"
        ));
    }
    if let Some(nhs) = &query.nhs_number {
        let p = bind(nhs.clone(), &mut binds);
        clauses.push(format!(
            "e.id IN (SELECT audit_id FROM audit_event_patients WHERE nhs_number = {p})"
        ));
    }
    if let Some(agent) = &query.agent {
        let a = bind(agent.clone(), &mut binds);
        let b = bind(agent.clone(), &mut binds);
        clauses.push(format!("(e.client_id = {a} OR e.end_user = {b})"));
    }
    if let Some((resource_type, id)) = &query.entity {
        let t = bind(resource_type.clone(), &mut binds);
        let i = bind(id.clone(), &mut binds);
        clauses.push(format!("(e.entity_type = {t} AND e.entity_id = {i})"));
    }
    for bound in &query.dates {
        match bound {
            DateBound::From(at) => {
                let p = bind(crate::store::timestamp(at), &mut binds);
                clauses.push(format!("e.recorded >= {p}"));
            }
            DateBound::Before(at) => {
                let p = bind(crate::store::timestamp(at), &mut binds);
                clauses.push(format!("e.recorded < {p}"));
            }
        }
    }
    if let Some((at, id)) = &query.before {
        let a = bind(crate::store::timestamp(at), &mut binds);
        let b = bind(crate::store::timestamp(at), &mut binds);
        let c = bind(id.to_string(), &mut binds);
        clauses.push(format!(
            "(e.recorded < {a} OR (e.recorded = {b} AND e.id < {c}))"
        ));
    }
    let filter = if clauses.is_empty() {
        String::new()
    } else {
        format!("WHERE {}", clauses.join(" AND "))
    };
    let sql = format!(
        "SELECT e.document FROM audit_events e {filter} ORDER BY e.recorded DESC, e.id DESC \
         LIMIT {}",
        query.limit
    );
    (sql, binds)
}

/// Encodes a record for storage.
pub(crate) fn encode(record: &AuditRecord) -> Result<String, crate::store::StoreError> {
    serde_json::to_string(record)
        .map_err(|e| crate::store::StoreError::Backend(format!("audit record not encodable: {e}")))
}

/// Decodes a stored record.
pub(crate) fn decode(document: &str) -> Result<AuditRecord, crate::store::StoreError> {
    serde_json::from_str(document)
        .map_err(|e| crate::store::StoreError::Backend(format!("audit record unreadable: {e}")))
}

/// Most records one audit transaction writes.
const MAX_BATCH: usize = 512;
/// Records waiting for the writer before senders wait for room.
const QUEUE: usize = 4096;

/// The answer to whoever waits for a record to be committed.
pub type Committed = oneshot::Sender<Result<(), StoreError>>;

type Pending = (AuditRecord, Committed);

/// Work for a store's own audit-writing thread (see [`PlanStore::audit_port`]).
// `One` is the large variant and nearly every job: boxing its record would cost an allocation
// a request for the sake of the rare `Batch`.
#[allow(clippy::large_enum_variant)]
pub enum AuditJob {
    /// One request's record, to be committed with whatever else is waiting (group commit).
    One(AuditRecord, Committed),
    /// Records to be committed together, all or none.
    Batch(Vec<AuditRecord>, Committed),
}

/// Where a store that commits request audit records on a thread of its own takes them.
pub type AuditPort = std::sync::mpsc::Sender<AuditJob>;

/// Answers the waiters of a group whose transaction ended in `result`, or, when a group of more
/// than one failed, gives them back for their records to be retried one by one (so that one bad
/// record fails only its own request).
fn answer_group(result: Result<(), StoreError>, waiters: Vec<Committed>) -> Option<Vec<Committed>> {
    match result {
        Err(_) if waiters.len() > 1 => Some(waiters),
        result => {
            for waiter in waiters {
                let _ = waiter.send(result.clone());
            }
            None
        }
    }
}

/// The loop of a store's audit-writing thread: takes jobs from `jobs` until every sender is
/// gone and commits them with `write` (one transaction a call, all or nothing). Records that
/// arrive while a transaction is being written are committed together in the next one, at
/// most [`MAX_BATCH`] at once; a group that fails is retried record by record, so one bad
/// record fails only its own request. A [`AuditJob::Batch`] is its own transaction.
pub fn serve_jobs(
    jobs: &std::sync::mpsc::Receiver<AuditJob>,
    mut write: impl FnMut(&[AuditRecord]) -> Result<(), StoreError>,
) {
    let mut next = None;
    loop {
        let job = match next.take() {
            Some(job) => job,
            None => match jobs.recv() {
                Ok(job) => job,
                Err(_) => return,
            },
        };
        match job {
            AuditJob::Batch(records, done) => {
                let _ = done.send(write(&records));
            }
            AuditJob::One(record, done) => {
                let mut records = vec![record];
                let mut waiters = vec![done];
                while records.len() < MAX_BATCH {
                    match jobs.try_recv() {
                        Ok(AuditJob::One(record, done)) => {
                            records.push(record);
                            waiters.push(done);
                        }
                        Ok(batch) => {
                            next = Some(batch);
                            break;
                        }
                        Err(_) => break,
                    }
                }
                if let Some(waiters) = answer_group(write(&records), waiters) {
                    for (record, waiter) in records.iter().zip(waiters) {
                        let _ = waiter.send(write(std::slice::from_ref(record)));
                    }
                }
            }
        }
    }
}

/// The one writer of request audit records: group commit. Each caller hands its record over
/// and waits until the transaction holding it has committed (so no response leaves before its
/// record is stored); meanwhile the writer gathers whatever else has arrived and commits it
/// all at once, instead of every request contending for the database's write lock with a
/// transaction of its own. A batch that fails is retried record by record, so one bad record
/// fails only its own request.
///
/// A store with an audit-writing thread of its own (a SQLite file: [`PlanStore::audit_port`])
/// is handed each record directly and gathers the groups on that thread ([`serve_jobs`]): one
/// hand-off between threads each way. Otherwise a task on the Tokio runtime gathers them and
/// calls [`PlanStore::append_audits`]; for the SQLite file that was a second hand-off each
/// way, through a runtime thread that took 5 to 10% of a core under load (BENCHMARKS.md,
/// tenth round).
pub struct AuditWriter {
    store: Arc<dyn PlanStore>,
    port: Option<AuditPort>,
    queue: OnceLock<mpsc::Sender<Pending>>,
}

impl AuditWriter {
    /// A writer into `store`. Unless the store takes records on a thread of its own, its task
    /// starts on the current Tokio runtime if there is one, else on the runtime of the first
    /// record.
    pub fn new(store: Arc<dyn PlanStore>) -> Self {
        let writer = Self {
            port: store.audit_port(),
            store,
            queue: OnceLock::new(),
        };
        if writer.port.is_none() && tokio::runtime::Handle::try_current().is_ok() {
            writer.queue();
        }
        writer
    }

    fn queue(&self) -> &mpsc::Sender<Pending> {
        self.queue.get_or_init(|| {
            let (sender, receiver) = mpsc::channel(QUEUE);
            tokio::spawn(write_batches(self.store.clone(), receiver));
            sender
        })
    }

    /// Stores `record`; returns once it is committed (or has failed).
    pub async fn append(&self, record: AuditRecord) -> Result<(), StoreError> {
        let stopped = || StoreError::Unavailable("the audit writer has stopped".into());
        let (done, committed) = oneshot::channel();
        match &self.port {
            // Unbounded, but each record has a request waiting for it: no more are queued
            // than requests are in flight.
            Some(port) => port
                .send(AuditJob::One(record, done))
                .map_err(|_| stopped())?,
            None => self
                .queue()
                .send((record, done))
                .await
                .map_err(|_| stopped())?,
        }
        committed.await.map_err(|_| stopped())?
    }
}

async fn write_batches(store: Arc<dyn PlanStore>, mut receiver: mpsc::Receiver<Pending>) {
    let mut pending: Vec<Pending> = Vec::with_capacity(MAX_BATCH);
    while receiver.recv_many(&mut pending, MAX_BATCH).await > 0 {
        let (records, waiters): (Vec<AuditRecord>, Vec<_>) = pending.drain(..).unzip();
        if let Some(waiters) = answer_group(store.append_audits(&records).await, waiters) {
            for (record, waiter) in records.iter().zip(waiters) {
                let _ = waiter.send(store.append_audit(record).await);
            }
        }
    }
}

/// A summary's record for tests: request `request_id` of the `ambulance` client, returning
/// the data of `patients` (Patient id, NHS number).
#[cfg(test)]
pub(crate) fn summary_record(request_id: &str, patients: &[(&str, &str)]) -> AuditRecord {
    AuditRecord {
        id: new_id(),
        recorded: Utc::now(),
        interaction: "summary".into(),
        action: "R".into(),
        status: 200,
        client_id: Some("ambulance".into()),
        client_name: None,
        organisation: None,
        end_user: None,
        end_user_organisation: None,
        resource_type: Some("Patient".into()),
        resource_id: None,
        patients: patients
            .iter()
            .map(|(patient_id, nhs_number)| AuditedPatient {
                patient_id: (*patient_id).into(),
                nhs_number: (*nhs_number).into(),
            })
            .collect(),
        query: None,
        request_id: request_id.into(),
        emergency_override: None,
        detail: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn audit_ids_follow_the_order_records_are_made() {
        let ids: Vec<Uuid> = (0..2_000).map(|_| new_id()).collect();
        assert!(ids.windows(2).all(|w| w[0] < w[1]), "not in creation order");
        assert!(ids.windows(2).all(|w| w[0].to_string() < w[1].to_string()));
        assert_eq!(ids[0].get_version_num(), 7);
    }

    fn record_with_request_id(request_id: &str) -> AuditRecord {
        summary_record(request_id, &[])
    }

    type Answer = oneshot::Receiver<Result<(), StoreError>>;

    fn one(jobs: &AuditPort, request_id: &str) -> Answer {
        let (done, answer) = oneshot::channel();
        jobs.send(AuditJob::One(record_with_request_id(request_id), done))
            .unwrap();
        answer
    }

    /// Runs [`serve_jobs`] over the jobs already queued (the port is then dropped, so it
    /// returns) with a writer that fails any transaction holding a record whose request id is
    /// `bad`; gives the request ids of each transaction it was asked to write.
    fn serve(jobs: AuditPort, queue: &std::sync::mpsc::Receiver<AuditJob>) -> Vec<Vec<String>> {
        drop(jobs);
        let mut transactions = Vec::new();
        serve_jobs(queue, |records| {
            let ids: Vec<String> = records.iter().map(|r| r.request_id.clone()).collect();
            let bad = ids.iter().any(|id| id == "bad");
            transactions.push(ids);
            if bad {
                Err(StoreError::Backend("refused".into()))
            } else {
                Ok(())
            }
        });
        transactions
    }

    fn answered(answer: Answer) -> Result<(), StoreError> {
        answer.blocking_recv().expect("answered")
    }

    #[test]
    fn records_waiting_together_are_committed_in_one_transaction() {
        let (jobs, queue) = std::sync::mpsc::channel();
        let answers: Vec<Answer> = ["a", "b", "c"].iter().map(|id| one(&jobs, id)).collect();
        assert_eq!(serve(jobs, &queue), vec![vec!["a", "b", "c"]]);
        for answer in answers {
            assert!(answered(answer).is_ok());
        }
    }

    #[test]
    fn a_failed_group_is_retried_record_by_record_and_fails_only_the_bad_one() {
        let (jobs, queue) = std::sync::mpsc::channel();
        let good = one(&jobs, "a");
        let bad = one(&jobs, "bad");
        let other = one(&jobs, "c");
        assert_eq!(
            serve(jobs, &queue),
            vec![vec!["a", "bad", "c"], vec!["a"], vec!["bad"], vec!["c"]]
        );
        assert!(answered(good).is_ok());
        assert!(matches!(answered(bad), Err(StoreError::Backend(_))));
        assert!(answered(other).is_ok());
    }

    #[test]
    fn a_batch_is_its_own_transaction_between_groups_and_a_failed_one_is_not_split() {
        let (jobs, queue) = std::sync::mpsc::channel();
        let first = one(&jobs, "a");
        let (done, batch) = oneshot::channel();
        jobs.send(AuditJob::Batch(
            vec![record_with_request_id("b"), record_with_request_id("bad")],
            done,
        ))
        .unwrap();
        let last = one(&jobs, "d");
        assert_eq!(
            serve(jobs, &queue),
            vec![vec!["a"], vec!["b", "bad"], vec!["d"]]
        );
        assert!(answered(first).is_ok());
        assert!(answered(batch).is_err());
        assert!(answered(last).is_ok());
    }

    #[test]
    fn a_group_holds_at_most_max_batch_records() {
        let (jobs, queue) = std::sync::mpsc::channel();
        let answers: Vec<Answer> = (0..MAX_BATCH + 3)
            .map(|i| one(&jobs, &i.to_string()))
            .collect();
        let sizes: Vec<usize> = serve(jobs, &queue).iter().map(Vec::len).collect();
        assert_eq!(sizes, [MAX_BATCH, 3]);
        assert!(answers.into_iter().all(|a| answered(a).is_ok()));
    }

    #[tokio::test]
    async fn a_sqlite_file_takes_records_on_its_own_thread_and_memory_through_the_task() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite:{}", dir.path().join("plans.db").display());
        let file = crate::store::connect(&url).await.unwrap();
        assert!(file.audit_port().is_some());
        let writer = AuditWriter::new(file.clone());
        let record = record_with_request_id("direct");
        writer.append(record.clone()).await.unwrap();
        assert_eq!(file.get_audit(record.id).await.unwrap(), Some(record));

        let memory = crate::store::connect("sqlite::memory:").await.unwrap();
        assert!(memory.audit_port().is_none());
        let writer = AuditWriter::new(memory.clone());
        let record = record_with_request_id("task");
        writer.append(record.clone()).await.unwrap();
        assert_eq!(memory.get_audit(record.id).await.unwrap(), Some(record));
    }

    #[test]
    fn outcome_codes_follow_the_status() {
        let mut record = AuditRecord {
            id: Uuid::nil(),
            recorded: Utc::now(),
            interaction: "read".into(),
            action: "R".into(),
            status: 200,
            client_id: None,
            client_name: None,
            organisation: None,
            end_user: None,
            end_user_organisation: None,
            resource_type: None,
            resource_id: None,
            patients: Vec::new(),
            query: None,
            request_id: "r".into(),
            emergency_override: None,
            detail: None,
        };
        assert_eq!(record.outcome(), "0");
        record.status = 403;
        assert_eq!(record.outcome(), "4");
        record.status = 503;
        assert_eq!(record.outcome(), "8");
    }

    #[test]
    fn search_sql_binds_every_criterion() {
        let query = AuditQuery {
            nhs_number: Some("9990000018".into()),
            agent: Some("cad".into()),
            entity: Some(("CarePlan".into(), "x".into())),
            limit: 10,
            ..AuditQuery::default()
        };
        let (sql, binds) = search_sql(&query, |n| format!("${n}"));
        assert!(sql.contains("nhs_number = $1"));
        assert!(sql.contains("e.client_id = $2 OR e.end_user = $3"));
        assert!(sql.contains("e.entity_type = $4 AND e.entity_id = $5"));
        assert!(sql.ends_with("LIMIT 10"));
        assert_eq!(binds, ["9990000018", "cad", "cad", "CarePlan", "x"]);
    }

    #[test]
    fn a_search_by_patient_id_goes_by_its_nhs_number_only_when_that_is_known() {
        let mut query = AuditQuery {
            patient_id: Some("p-1".into()),
            limit: 10,
            ..AuditQuery::default()
        };
        let (sql, binds) = search_sql(&query, |n| format!("${n}"));
        assert!(sql.contains("WHERE patient_id = $1)"), "{sql}");
        assert!(!sql.contains("nhs_number"), "{sql}");
        assert_eq!(binds, ["p-1"]);
        query.patient_nhs_number = Some("9990000018".into());
        let (sql, binds) = search_sql(&query, |n| format!("${n}"));
        assert!(
            sql.contains("WHERE patient_id = $1 AND nhs_number = $2)"),
            "{sql}"
        );
        assert_eq!(binds, ["p-1", "9990000018"]);
    }
}
