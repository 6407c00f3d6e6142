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
