//! The client's clock. Against a real server it is wall time; against `relcon sim --speed X`
//! the profile sets `clock_speed = X` so that every wait (polling intervals, Retry-After,
//! canary holds) lasts as long in simulator time as the server means.

use std::time::Duration;

/// A clock whose waits are divided by `speed`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Clock {
    speed: f64,
}

impl Default for Clock {
    fn default() -> Self {
        Clock::real()
    }
}

impl Clock {
    /// Wall time.
    pub fn real() -> Clock {
        Clock { speed: 1.0 }
    }

    /// A clock running `speed` times faster than wall time (speed <= 0 counts as 1).
    pub fn scaled(speed: f64) -> Clock {
        let speed = if speed.is_finite() && speed > 0.0 {
            speed
        } else {
            1.0
        };
        Clock { speed }
    }

    pub fn speed(&self) -> f64 {
        self.speed
    }

    /// How long `d` of server time lasts in wall time.
    pub fn to_wall(&self, d: Duration) -> Duration {
        d.div_f64(self.speed)
    }

    /// How much server time `d` of wall time is.
    pub fn to_server(&self, d: Duration) -> Duration {
        d.mul_f64(self.speed)
    }

    /// Wait `d` of server time.
    pub async fn sleep(&self, d: Duration) {
        tokio::time::sleep(self.to_wall(d)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scaled_clock_divides_waits() {
        let c = Clock::scaled(60.0);
        assert_eq!(c.to_wall(Duration::from_secs(60)), Duration::from_secs(1));
        assert_eq!(c.to_server(Duration::from_secs(1)), Duration::from_secs(60));
        assert_eq!(Clock::scaled(0.0).speed(), 1.0);
        assert_eq!(Clock::scaled(f64::NAN).speed(), 1.0);
    }
}
