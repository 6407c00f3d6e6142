//! Difficulty calibration (Pelánek 2016, the Elo rating system for adaptive practice): one difficulty `d` per
//! question and one ability `θ` per learner and topic, both updated from each marked answer `c` (0 to 1, partial
//! credit included):
//!
//! ```text
//! P = σ(θ − d)        θ ← θ + K(nθ)·(c − P)        d ← d − K(nd)·(c − P)        K(n) = 0.8 / (1 + 0.05·n)
//! ```
//!
//! where `nθ` and `nd` count the answers each estimate has already taken in. A question starts from its authors'
//! difficulty (easy −1, medium 0, hard +1), a learner at 0.
//!
//! **A grade changed after it was taken in** (an instructor corrects an essay's mark once the exam is complete)
//! moves both estimates by what that answer's own update would have moved them differently, with the `K` it was
//! taken in with (kept in its marker) and without counting the answer again:
//!
//! ```text
//! θ ← θ + K(nθ)·(c' − c)        d ← d − K(nd)·(c' − c)
//! ```
//!
//! Why not replay: Elo depends on order — every later answer of the learner and of the question was updated with a
//! `P` computed from estimates this answer had moved — so taking the answer out exactly means replaying all of
//! them, an unbounded read. Why not keep only the first grade: the estimates would go on holding evidence the
//! instructor has withdrawn (a mistaken 0 would keep a learner's ability down for good). The correction is exact
//! for the answer's own step and leaves out only the second-order effect on the later steps: each later `P` would
//! have differed by at most a quarter of the correction of `θ − d`, so each later step by at most its own
//! (shrinking) `K` times that. Corrections add up — `c → c' → c''` moves as `c → c''` does, a grade changed back
//! restores the estimates, the same grade again moves nothing — so they depend neither on how many re-grades there
//! were nor on the order their jobs ran in.

use crate::questions::model::Difficulty;

/// The logistic function.
pub fn sigma(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

/// How far one answer moves an estimate that has taken in `n` answers.
pub fn k(n: u64) -> f64 {
    0.8 / (1.0 + 0.05 * n as f64)
}

/// The probability that a learner of ability `theta` answers a question of difficulty `d` right.
pub fn p_correct(theta: f64, d: f64) -> f64 {
    sigma(theta - d)
}

/// A question's difficulty before any answer.
pub fn prior(difficulty: Difficulty) -> f64 {
    match difficulty {
        Difficulty::Easy => -1.0,
        Difficulty::Medium => 0.0,
        Difficulty::Hard => 1.0,
    }
}

/// The estimates after one answer with mark `c`: `(θ, d)` from `(θ, nθ)` and `(d, nd)`.
pub fn update(theta: f64, n_theta: u64, d: f64, n_d: u64, c: f64) -> (f64, f64) {
    let surprise = c - p_correct(theta, d);
    (theta + k(n_theta) * surprise, d - k(n_d) * surprise)
}

/// The estimates after the mark of an answer, taken in as `was` when they had taken in `n_theta` and `n_d` answers,
/// is changed to `now` (see the module doc).
pub fn correct(theta: f64, n_theta: u64, d: f64, n_d: u64, was: f64, now: f64) -> (f64, f64) {
    let change = now - was;
    (theta + k(n_theta) * change, d - k(n_d) * change)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn a_right_answer_raises_ability_and_lowers_difficulty() {
        let (theta, d) = update(0.0, 0, 0.0, 0, 1.0);
        assert!(
            (theta - 0.4).abs() < 1e-12 && (d + 0.4).abs() < 1e-12,
            "{theta} {d}"
        );
        assert!((k(20) - 0.4).abs() < 1e-12, "K halves after 20 answers");
    }

    #[test]
    fn a_changed_grade_moves_the_estimates_by_its_own_step_and_changing_it_back_restores_them() {
        let (theta, d) = (0.3, -0.2);
        // Taken in as 0.2 when the learner had 4 answers and the question 20: corrected to 1.
        let (t1, d1) = correct(theta, 4, d, 20, 0.2, 1.0);
        assert!((t1 - (theta + k(4) * 0.8)).abs() < 1e-12, "{t1}");
        assert!((d1 - (d - k(20) * 0.8)).abs() < 1e-12, "{d1}");
        // The same as the update with the corrected mark would have been, from the same estimates.
        let (ta, da) = update(theta, 4, d, 20, 0.2);
        let (tb, db) = update(theta, 4, d, 20, 1.0);
        let (t2, d2) = correct(ta, 4, da, 20, 0.2, 1.0);
        assert!((t2 - tb).abs() < 1e-12 && (d2 - db).abs() < 1e-12);
        // In steps or at once, the same; back again, where it was; the same grade, no move.
        let (t3, d3) = correct(theta, 4, d, 20, 0.2, 0.5);
        let (t3, d3) = correct(t3, 4, d3, 20, 0.5, 1.0);
        assert!((t3 - t1).abs() < 1e-12 && (d3 - d1).abs() < 1e-12);
        let (t4, d4) = correct(t1, 4, d1, 20, 1.0, 0.2);
        assert!((t4 - theta).abs() < 1e-12 && (d4 - d).abs() < 1e-12);
        assert_eq!(correct(theta, 4, d, 20, 0.5, 0.5), (theta, d));
    }

    proptest! {
        #[test]
        fn estimates_move_toward_the_evidence_by_at_most_k(
            theta in -4f64..4.0, d in -4f64..4.0, nt in 0u64..500, nd in 0u64..500, c in 0f64..=1.0,
        ) {
            let (t2, d2) = update(theta, nt, d, nd, c);
            let surprise = c - p_correct(theta, d);
            prop_assert!((t2 - theta).abs() <= k(nt) + 1e-12);
            prop_assert!((d2 - d).abs() <= k(nd) + 1e-12);
            prop_assert!((t2 - theta) * surprise >= 0.0 && (d - d2) * surprise >= 0.0);
        }
    }
}
