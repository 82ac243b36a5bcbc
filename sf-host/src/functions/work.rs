//! `work`: a stand-in for a compute-bound SF whose cost is known — it keeps one core busy for
//! `ms` milliseconds and returns its input. With `ms = 1000 · workload / speed` a request
//! takes what the scheduler's model says a task takes on a vCPU (`docs/scheduler.md` §1), so
//! a plan's predicted response time can be set beside a measured one.

use std::time::{Duration, Instant};

use super::{Args, parse_num};
use crate::error::{Error, Result};
use crate::sdk::{Function, FunctionError, FunctionInfo, Input, Output};

/// Longest work one request may ask for (10 minutes): a parameter comes from the network.
pub(super) const MAX_WORK_MS: u64 = 600_000;

pub(super) fn work_info() -> FunctionInfo {
    FunctionInfo::new("/sf/work", "1", "*/*", "*/*").describe(
        "keeps a core busy for ms= milliseconds (default 0, at most 600000), then returns its \
         input; id= is ignored (it tells otherwise equal requests apart, past the caches)",
    )
}

/// Busy for `ms`, then the identity.
#[derive(Debug)]
pub(super) struct Work {
    ms: u64,
}

impl Work {
    pub(super) fn from_args(args: &Args) -> Result<Self> {
        let ms = parse_num(args, "ms", 0u64)?;
        if ms > MAX_WORK_MS {
            return Err(Error::Spec(format!(
                "work ms={ms} is more than {MAX_WORK_MS}"
            )));
        }
        Ok(Self { ms })
    }
}

impl Function for Work {
    fn info(&self) -> FunctionInfo {
        work_info()
    }

    fn apply(&self, input: Input) -> Result<Output, FunctionError> {
        let until = Instant::now() + Duration::from_millis(self.ms);
        if until > input.deadline {
            return Err(FunctionError::Timeout(format!(
                "work ms={} does not fit before the request's deadline",
                self.ms
            )));
        }
        // Spinning, not sleeping: the point is to occupy a core as a real task would.
        while Instant::now() < until {
            std::hint::spin_loop();
        }
        Ok(Output::new(input.content))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn works_for_as_long_as_asked_and_returns_its_input() {
        let args: Args = [("ms".to_string(), "30".to_string())].into();
        let w = Work::from_args(&args).unwrap();
        let out = w.apply(Input::new("x", "/p".parse().unwrap())).unwrap();
        assert_eq!(&out.content[..], b"x");
    }

    #[test]
    fn refuses_too_much_work_and_non_numbers() {
        let big: Args = [("ms".to_string(), "600001".to_string())].into();
        assert!(Work::from_args(&big).is_err());
        let nan: Args = [("ms".to_string(), "soon".to_string())].into();
        assert!(Work::from_args(&nan).is_err());
    }

    #[test]
    fn work_past_the_deadline_is_a_timeout_not_a_hang() {
        let args: Args = [("ms".to_string(), "60000".to_string())].into();
        let w = Work::from_args(&args).unwrap();
        let mut input = Input::new("x", "/p".parse().unwrap());
        input.deadline = Instant::now() + Duration::from_millis(10);
        assert!(matches!(w.apply(input), Err(FunctionError::Timeout(_))));
    }
}
