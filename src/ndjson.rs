//! NDJSON import and export. Lines are imported in batches of up to [`BATCH_LINES`], each batch
//! one transaction: a run killed part way keeps every batch it committed and leaves no plan
//! half-written; re-importing a file changes nothing that is already there. Each line's result
//! is what importing it alone would give.

use std::io::Write;

use tokio::io::{AsyncBufRead, AsyncBufReadExt};

use crate::domain::{ImportOutcome, ImportRecord, PlanId, PlanRecord};
use crate::error::Error;
use crate::http::parse_json;
use crate::service::PlanService;

/// What one line came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LineResult {
    /// Stored as a new plan.
    Created(PlanId),
    /// Already stored as it is.
    Unchanged(PlanId),
    /// Added as the next version of a stored plan.
    VersionAdded(PlanId),
    /// Refused, with every reason.
    Rejected(String),
}

/// Counts for a whole run.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ImportSummary {
    /// New plans stored.
    pub created: u64,
    /// Lines already stored as they are.
    pub unchanged: u64,
    /// Lines added as the next version of a stored plan.
    pub versions_added: u64,
    /// Lines refused.
    pub rejected: u64,
}

/// Why a run stopped before the end of its input.
#[derive(Debug)]
pub enum ImportStopped {
    /// `--strict` and a bad line.
    BadLine {
        /// 1-based line number.
        line: u64,
        /// Why it was refused.
        message: String,
        /// What had been done before it.
        summary: ImportSummary,
    },
    /// The input could not be read or the database failed.
    Failed(String),
}

fn describe(error: &Error) -> String {
    let errors = match error {
        Error::BadRequest { errors, .. } | Error::Invalid(errors) => errors.as_slice(),
        _ => &[],
    };
    if errors.is_empty() {
        return error.problem().detail;
    }
    errors
        .iter()
        .map(|e| {
            if e.path.is_empty() {
                e.message.clone()
            } else {
                e.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// Lines read, decided and written together (one transaction, unless a line needs its own).
/// Larger batches mean fewer commits (each commit writes every page the batch touched).
const BATCH_LINES: usize = 10_000;

/// A line read, before its batch is imported.
enum Read {
    /// Empty: skipped.
    Empty,
    /// Not an import line.
    Bad(Error),
    /// The next of the batch's records.
    Record,
}

/// Lines read and parsed, to be imported together.
struct Batch {
    /// The number of its first line (1-based).
    first_line: u64,
    /// Every line read, with its length in bytes.
    lines: Vec<(usize, Read)>,
    /// The records of its `Read::Record` lines, in order.
    records: Vec<ImportRecord>,
    /// Nothing is to be read after it (end of input, or `--strict` and a bad line).
    last: bool,
}

/// Reads and parses up to [`BATCH_LINES`] records; `line_number` is the last line read before.
async fn read_batch<R: AsyncBufRead + Unpin>(
    reader: &mut R,
    line_number: &mut u64,
    strict: bool,
) -> Result<Batch, ImportStopped> {
    let mut batch = Batch {
        first_line: *line_number + 1,
        lines: Vec::new(),
        records: Vec::new(),
        last: false,
    };
    let mut buffer = String::new();
    while batch.records.len() < BATCH_LINES {
        buffer.clear();
        let read = reader.read_line(&mut buffer).await.map_err(|e| {
            ImportStopped::Failed(format!("reading line {}: {e}", *line_number + 1))
        })?;
        if read == 0 {
            batch.last = true;
            break;
        }
        *line_number += 1;
        let text = buffer.trim();
        if text.is_empty() {
            batch.lines.push((read, Read::Empty));
            continue;
        }
        match parse_json::<ImportRecord>(text.as_bytes()) {
            Ok(record) => {
                batch.records.push(record);
                batch.lines.push((read, Read::Record));
            }
            Err(error) => {
                batch.lines.push((read, Read::Bad(error)));
                if strict {
                    // Nothing after a bad line is imported.
                    batch.last = true;
                    break;
                }
            }
        }
    }
    Ok(batch)
}

/// Imports every line of `reader`, calling `on_line(line_number, bytes_read, result)` after
/// each line (`None` for an empty line, which is skipped). Lines go in batches
/// ([`PlanService::import_lines`]): the result of each line is what importing it alone would
/// give, and a batch is stored in one transaction. The next batch is read and parsed while the
/// database stores the one before (the store works on a thread of its own), so the two overlap.
///
/// The resource index rows of the stored batches are merged when the run ends, stopped or not
/// ([`crate::store::PlanStore::finish_import`]).
pub async fn import<R, F>(
    service: &PlanService,
    reader: R,
    strict: bool,
    on_line: F,
) -> Result<ImportSummary, ImportStopped>
where
    R: AsyncBufRead + Unpin,
    F: FnMut(u64, usize, Option<&LineResult>),
{
    let imported = import_batches(service, reader, strict, on_line).await;
    let finished =
        service.store().finish_import().await.map_err(|e| {
            ImportStopped::Failed(format!("indexing the imported resources failed: {e}"))
        });
    match (imported, finished) {
        (Err(stopped), _) => Err(stopped),
        (Ok(_), Err(failed)) => Err(failed),
        (Ok(summary), Ok(())) => Ok(summary),
    }
}

async fn import_batches<R, F>(
    service: &PlanService,
    mut reader: R,
    strict: bool,
    mut on_line: F,
) -> Result<ImportSummary, ImportStopped>
where
    R: AsyncBufRead + Unpin,
    F: FnMut(u64, usize, Option<&LineResult>),
{
    let mut summary = ImportSummary::default();
    let mut line_number = 0u64;
    let mut next = Some(read_batch(&mut reader, &mut line_number, strict).await?);
    while let Some(batch) = next.take() {
        let reading = async {
            if batch.last {
                Ok(None)
            } else {
                read_batch(&mut reader, &mut line_number, strict)
                    .await
                    .map(Some)
            }
        };
        let (outcomes, following) =
            tokio::join!(service.import_lines(&batch.records, strict), reading);
        let mut outcomes = outcomes.into_iter();
        for (offset, (read, line)) in batch.lines.into_iter().enumerate() {
            let line_number = batch.first_line + offset as u64;
            let outcome = match line {
                Read::Empty => {
                    on_line(line_number, read, None);
                    continue;
                }
                Read::Bad(error) => Err(error),
                Read::Record => match outcomes.next() {
                    Some(outcome) => outcome,
                    None => {
                        return Err(ImportStopped::Failed(format!(
                            "line {line_number}: not imported"
                        )))
                    }
                },
            };
            let result = match outcome {
                Ok(ImportOutcome::Created(id)) => {
                    summary.created += 1;
                    LineResult::Created(id)
                }
                Ok(ImportOutcome::Unchanged(id)) => {
                    summary.unchanged += 1;
                    LineResult::Unchanged(id)
                }
                Ok(ImportOutcome::VersionAdded(id)) => {
                    summary.versions_added += 1;
                    LineResult::VersionAdded(id)
                }
                Err(error @ (Error::Unavailable(_) | Error::Internal(_))) => {
                    return Err(ImportStopped::Failed(format!(
                        "line {line_number}: the database failed: {error}"
                    )));
                }
                Err(error) => {
                    summary.rejected += 1;
                    LineResult::Rejected(describe(&error))
                }
            };
            on_line(line_number, read, Some(&result));
            if let (true, LineResult::Rejected(message)) = (strict, &result) {
                return Err(ImportStopped::BadLine {
                    line: line_number,
                    message: message.clone(),
                    summary,
                });
            }
        }
        next = following?;
    }
    Ok(summary)
}

fn write_line<W: Write>(out: &mut W, record: &PlanRecord) -> Result<(), Error> {
    serde_json::to_writer(&mut *out, record)
        .map_err(|e| Error::Internal(format!("export encoding: {e}")))?;
    out.write_all(b"\n")
        .map_err(|e| Error::Internal(format!("export write: {e}")))
}

/// Writes the current version of every plan (of record, or all with `include_ended`) as one
/// JSON line each, or with `history` every version of each plan, oldest first (what `import`
/// replays to move a database with its history); returns how many lines.
pub async fn export<W: Write>(
    service: &PlanService,
    include_ended: bool,
    history: bool,
    out: &mut W,
) -> Result<u64, Error> {
    const PAGE: u32 = 500;
    let mut after = None;
    let mut written = 0u64;
    loop {
        let page = service.list(after, PAGE, include_ended).await?;
        for record in &page {
            if history {
                let versions = service.history(record.id).await?;
                for version in versions.iter().rev() {
                    write_line(out, version)?;
                    written += 1;
                }
            } else {
                write_line(out, record)?;
                written += 1;
            }
        }
        match page.last() {
            Some(last) if page.len() == PAGE as usize => after = Some(last.id),
            _ => break,
        }
    }
    out.flush()
        .map_err(|e| Error::Internal(format!("export write: {e}")))?;
    Ok(written)
}
