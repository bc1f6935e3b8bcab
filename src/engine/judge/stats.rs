//! Anytime-valid inference for comparing a canary with its baseline.
//!
//! Everything here works on sufficient statistics ([`Moments`]: count, sum, sum of squares)
//! so a judge can fold in bucket after bucket of server counts without keeping raw data.
//!
//! The test is the anytime-valid t-test of Lindon, Ham, Tingley and Bojinov (2024),
//! *Anytime-valid linear models and regression adjusted causal inference in randomized
//! experiments* — the test the Python package `savvi` implements as `LinearRegression`. For
//! one coefficient `β` of a linear model it mixes the likelihood ratio over a Gaussian prior
//! `β ~ N(0, σ²/φ)`; the resulting Bayes factor is a test martingale under `β = β₀`, so by
//! Ville's inequality it exceeds `1/α` with probability at most `α` **however often, and
//! whenever, one looks**. Inverting it gives a confidence sequence: an interval that covers
//! `β` at every look at once with probability `1 − α`.
//!
//! Two models are provided:
//! - [`difference`]: canary minus baseline with one fixed effect per block (a block is a
//!   stretch served at one canary weight), so a change of weight or of the traffic mix
//!   between steps cannot masquerade as a difference between the arms. The estimate is the
//!   weighted mean of the within-block differences, weights `n_c·n_b/(n_c+n_b)`.
//! - [`mean`]: one arm's mean, for absolute guardrails.
//!
//! `φ` (the prior's precision in units of the residual variance) only tunes where the
//! interval is tightest: `φ = (σ/τ)²` centres the prior on effects of size `τ`.

/// Count, sum and sum of squares of some observations (0/1 for rates).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Moments {
    pub n: f64,
    pub sum: f64,
    pub sumsq: f64,
}

impl Moments {
    /// `hits` successes among `n` 0/1 observations.
    pub fn from_counts(n: u64, hits: u64) -> Moments {
        Moments {
            n: n as f64,
            sum: hits as f64,
            sumsq: hits as f64,
        }
    }

    /// `n` observations with this mean and sample standard deviation.
    pub fn from_mean_sd(n: u64, mean: f64, sd: f64) -> Moments {
        let nf = n as f64;
        Moments {
            n: nf,
            sum: nf * mean,
            sumsq: (nf - 1.0).max(0.0) * sd * sd + nf * mean * mean,
        }
    }

    pub fn add(&mut self, other: &Moments) {
        self.n += other.n;
        self.sum += other.sum;
        self.sumsq += other.sumsq;
    }

    pub fn mean(&self) -> Option<f64> {
        (self.n > 0.0).then(|| self.sum / self.n)
    }

    /// Sum of squared deviations from the mean.
    pub fn ss(&self) -> f64 {
        if self.n > 0.0 {
            (self.sumsq - self.sum * self.sum / self.n).max(0.0)
        } else {
            0.0
        }
    }
}

/// One coefficient of a least-squares fit, with what the anytime-valid test needs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Coefficient {
    /// The estimate `β̂`.
    pub estimate: f64,
    /// Residual standard deviation `σ̂` (with `n − p` degrees of freedom).
    pub sigma: f64,
    /// Effective sample size `z² = σ̂² / se²` (for a difference, `Σ n_c·n_b/(n_c+n_b)`).
    pub z2: f64,
    /// Observations in the fit.
    pub n: f64,
    /// Degrees of freedom of the test, `n − p − 1` (as in savvi).
    pub nu: f64,
}

impl Coefficient {
    /// Standard error of the estimate.
    pub fn se(&self) -> f64 {
        self.sigma / self.z2.sqrt()
    }

    /// The same fit with the residual standard deviation raised to at least `floor` (used
    /// for rates, where a run of zero events would otherwise claim certainty).
    pub fn with_sigma_floor(mut self, floor: f64) -> Coefficient {
        if self.sigma < floor {
            self.sigma = floor;
        }
        self
    }

    /// Half-width of the `1 − alpha` confidence sequence; infinite while there are too few
    /// degrees of freedom.
    pub fn radius(&self, alpha: f64, phi: f64) -> f64 {
        if self.nu <= 0.0 || self.z2 <= 0.0 || !self.sigma.is_finite() {
            return f64::INFINITY;
        }
        let r = phi / (phi + self.z2);
        let a = (r * alpha * alpha).powf(1.0 / (self.nu + 1.0));
        let denominator = (a - r).max(0.0);
        if denominator <= 0.0 {
            return f64::INFINITY;
        }
        self.se() * (self.nu * (1.0 - a) / denominator).sqrt()
    }

    /// The `1 − alpha` confidence sequence at this look: `(lower, upper)`.
    pub fn interval(&self, alpha: f64, phi: f64) -> (f64, f64) {
        let r = self.radius(alpha, phi);
        (self.estimate - r, self.estimate + r)
    }

    /// Log Bayes factor of the Gaussian mixture against `β = null`.
    pub fn log_bayes_factor(&self, phi: f64, null: f64) -> f64 {
        if self.nu <= 0.0 || self.z2 <= 0.0 {
            return 0.0;
        }
        let se = self.se();
        if se <= 0.0 {
            return 0.0;
        }
        let t2 = ((self.estimate - null) / se).powi(2);
        let r = phi / (phi + self.z2);
        0.5 * r.ln()
            + 0.5 * (self.nu + 1.0) * ((1.0 + t2 / self.nu).ln() - (1.0 + r * t2 / self.nu).ln())
    }

    /// Anytime-valid p-value against `β = null` at this look (`min(1, 1/BF)`); the running
    /// minimum over looks is itself valid.
    pub fn p_value(&self, phi: f64, null: f64) -> f64 {
        (-self.log_bayes_factor(phi, null)).exp().min(1.0)
    }
}

/// Canary minus baseline with one fixed effect per block; `blocks` holds each block's
/// `(canary, baseline)` moments. `None` until some block has both arms.
pub fn difference(blocks: &[(Moments, Moments)]) -> Option<Coefficient> {
    let mut w_total = 0.0;
    let mut weighted = 0.0;
    let mut n = 0.0;
    let mut params = 1.0; // the treatment coefficient
    let mut ss_within = 0.0;
    for (c, b) in blocks {
        if c.n + b.n <= 0.0 {
            continue;
        }
        params += 1.0; // the block's intercept
        n += c.n + b.n;
        ss_within += c.ss() + b.ss();
        if let (Some(mc), Some(mb)) = (c.mean(), b.mean()) {
            let w = c.n * b.n / (c.n + b.n);
            w_total += w;
            weighted += w * (mc - mb);
        }
    }
    if w_total <= 0.0 {
        return None;
    }
    let estimate = weighted / w_total;
    // Residuals of the cell means around the additive fit.
    let ss_between: f64 = blocks
        .iter()
        .filter_map(|(c, b)| {
            let (mc, mb) = (c.mean()?, b.mean()?);
            let w = c.n * b.n / (c.n + b.n);
            Some(w * (mc - mb - estimate).powi(2))
        })
        .sum();
    let df = n - params;
    let sigma = if df > 0.0 {
        ((ss_within + ss_between) / df).sqrt()
    } else {
        f64::NAN
    };
    Some(Coefficient {
        estimate,
        sigma,
        z2: w_total,
        n,
        nu: n - params - 1.0,
    })
}

/// The mean of one arm. `None` without observations.
pub fn mean(m: &Moments) -> Option<Coefficient> {
    let estimate = m.mean()?;
    let sigma = if m.n > 1.0 {
        (m.ss() / (m.n - 1.0)).sqrt()
    } else {
        f64::NAN
    };
    Some(Coefficient {
        estimate,
        sigma,
        z2: m.n,
        n: m.n,
        nu: m.n - 2.0,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(values: &[f64]) -> Moments {
        let mut s = Moments::default();
        for v in values {
            s.add(&Moments {
                n: 1.0,
                sum: *v,
                sumsq: v * v,
            });
        }
        s
    }

    #[test]
    fn moments_round_trip_mean_and_sd() {
        let x = m(&[1.0, 2.0, 3.0, 4.0]);
        let sd = (x.ss() / 3.0).sqrt();
        let y = Moments::from_mean_sd(4, 2.5, sd);
        assert!((x.sumsq - y.sumsq).abs() < 1e-9);
        assert_eq!(Moments::from_counts(10, 3).ss(), 3.0 - 0.9);
    }

    #[test]
    fn one_block_difference_is_the_difference_of_means() {
        let c = m(&[3.0, 4.0, 5.0]);
        let b = m(&[1.0, 2.0, 3.0, 2.0]);
        let d = difference(&[(c, b)]).unwrap();
        assert!((d.estimate - 2.0).abs() < 1e-12);
        // Pooled variance: (2 + 2) / (7 - 2); z² = 3·4/7.
        assert!((d.sigma.powi(2) - 4.0 / 5.0).abs() < 1e-12);
        assert!((d.z2 - 12.0 / 7.0).abs() < 1e-12);
        assert_eq!(d.nu, 7.0 - 2.0 - 1.0);
    }

    #[test]
    fn a_shift_between_blocks_is_not_a_difference() {
        // Both arms move up by 10 in the second block; the arms never differ.
        let b1 = (m(&[1.0, 2.0, 3.0]), m(&[1.0, 2.0, 3.0, 2.0]));
        let b2 = (m(&[11.0, 12.0, 13.0, 12.0]), m(&[11.0, 13.0]));
        let d = difference(&[b1, b2]).unwrap();
        assert!(d.estimate.abs() < 1e-12, "{}", d.estimate);
    }

    #[test]
    fn intervals_shrink_with_data_and_cover_the_truth() {
        let small = Coefficient {
            estimate: 0.1,
            sigma: 1.0,
            z2: 50.0,
            n: 200.0,
            nu: 197.0,
        };
        let big = Coefficient {
            z2: 5000.0,
            n: 20000.0,
            nu: 19997.0,
            ..small
        };
        assert!(big.radius(0.01, 1.0) < small.radius(0.01, 1.0));
        // Anytime-valid intervals are wider than a fixed-n z interval (2.576 se).
        assert!(big.radius(0.01, 1.0) > 2.576 * big.se());
        let none = Coefficient { nu: 0.0, ..small };
        assert!(none.radius(0.01, 1.0).is_infinite());
    }
}
