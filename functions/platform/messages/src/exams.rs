//! Jobs of the exams domain.

use lectern_shared::queue::{JobKind, queues};
use serde::{Deserialize, Serialize};

/// An exam's result became final (every answer marked), or a grade changed a mark of it since: its answers feed
/// the question statistics and the difficulty and ability estimates as the exam now stands, once each however
/// often the job is delivered.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExamCompleted {
    pub exam_id: String,
}

impl JobKind for ExamCompleted {
    const KIND: &'static str = "exams.exam-completed";
    const QUEUE: &'static str = queues::JOBS;
}

/// A certifying exam was passed: its certificate is issued (once, however often the job is delivered).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IssueCertificate {
    pub exam_id: String,
}

impl JobKind for IssueCertificate {
    const KIND: &'static str = "exams.issue-certificate";
    const QUEUE: &'static str = queues::JOBS;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_certificate_job_wire_shape_is_pinned() {
        let job = IssueCertificate {
            exam_id: "01JEXAM0000000000000000000".into(),
        };
        assert_eq!(
            serde_json::to_value(&job).unwrap(),
            serde_json::json!({"exam_id": "01JEXAM0000000000000000000"})
        );
        assert_eq!(IssueCertificate::KIND, "exams.issue-certificate");
    }

    #[test]
    fn the_wire_shape_is_pinned() {
        let job = ExamCompleted {
            exam_id: "01JEXAM0000000000000000000".into(),
        };
        assert_eq!(
            serde_json::to_value(&job).unwrap(),
            serde_json::json!({"exam_id": "01JEXAM0000000000000000000"})
        );
        assert_eq!(ExamCompleted::KIND, "exams.exam-completed");
    }
}
