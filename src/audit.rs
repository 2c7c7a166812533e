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
    /// changes, so the search can then go through the index of NHS numbers: the request audit
    /// file keeps no index of Patient ids (migrations/sqlite-audit/0002). Not a criterion of
    /// its own: without it a search by Patient id finds the same records, by a slower path.
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

type Pending = (AuditRecord, oneshot::Sender<Result<(), StoreError>>);

/// The one writer of request audit records: group commit. Each caller hands its record over
/// and waits until the transaction holding it has committed (so no response leaves before its
/// record is stored); meanwhile the writer gathers whatever else has arrived and commits it
/// all at once, instead of every request contending for the database's write lock with a
/// transaction of its own. A batch that fails is retried record by record, so one bad record
/// fails only its own request.
pub struct AuditWriter {
    store: Arc<dyn PlanStore>,
    queue: OnceLock<mpsc::Sender<Pending>>,
}

impl AuditWriter {
    /// A writer into `store`. Its task starts on the current Tokio runtime if there is one,
    /// else on the runtime of the first record.
    pub fn new(store: Arc<dyn PlanStore>) -> Self {
        let writer = Self {
            store,
            queue: OnceLock::new(),
        };
        if tokio::runtime::Handle::try_current().is_ok() {
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
        self.queue()
            .send((record, done))
            .await
            .map_err(|_| stopped())?;
        committed.await.map_err(|_| stopped())?
    }
}

async fn write_batches(store: Arc<dyn PlanStore>, mut receiver: mpsc::Receiver<Pending>) {
    let mut pending: Vec<Pending> = Vec::with_capacity(MAX_BATCH);
    while receiver.recv_many(&mut pending, MAX_BATCH).await > 0 {
        let (records, waiters): (Vec<AuditRecord>, Vec<_>) = pending.drain(..).unzip();
        match store.append_audits(&records).await {
            Ok(()) => {
                for waiter in waiters {
                    let _ = waiter.send(Ok(()));
                }
            }
            Err(error) if records.len() == 1 => {
                for waiter in waiters {
                    let _ = waiter.send(Err(error.clone()));
                }
            }
            Err(_) => {
                for (record, waiter) in records.iter().zip(waiters) {
                    let _ = waiter.send(store.append_audit(record).await);
                }
            }
        }
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
