//! The scheduling literature's problem statement as a TOML file: a DAG whose every task has an
//! execution time on every processor, and whose every edge has a communication cost paid only
//! between different processors (HEFT, PEFT and DAG-scheduling benchmarks state inputs so).
//!
//! ```toml
//! name = "heft-2002"
//! processors = ["P1", "P2", "P3"]
//! [[task]]
//! name = "T1"
//! costs = [14.0, 16.0, 9.0]      # one per processor, in the order above
//! [[edge]]
//! from = "T1"
//! to = "T2"
//! cost = 18.0                    # paid when T1 and T2 run on different processors
//! ```

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::problem::Problem;

/// A cost-matrix problem file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CostMatrix {
    /// A free-form name.
    #[serde(default)]
    pub name: String,
    /// Processor names; each becomes a host with one vCPU (the next hop in routes).
    pub processors: Vec<String>,
    /// The tasks, each with its execution time on every processor.
    #[serde(rename = "task")]
    pub tasks: Vec<CostTask>,
    /// The dependencies.
    #[serde(default, rename = "edge")]
    pub edges: Vec<CostEdge>,
}

/// One task of a cost-matrix problem.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CostTask {
    /// Unique task name.
    pub name: String,
    /// Execution time on each processor, seconds, in the order of `processors`.
    pub costs: Vec<f64>,
}

/// One dependency of a cost-matrix problem.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CostEdge {
    /// The producing task.
    pub from: String,
    /// The consuming task.
    pub to: String,
    /// Communication time when the two run on different processors, seconds (0 on one).
    #[serde(default)]
    pub cost: f64,
}

impl CostMatrix {
    /// Parses a cost-matrix file (structure only; [`CostMatrix::to_problem`] checks content).
    pub fn from_toml_str(text: &str) -> Result<Self> {
        toml::from_str(text).map_err(|source| Error::Parse {
            what: "cost-matrix",
            source,
        })
    }

    /// Checks the file and builds the problem every algorithm schedules.
    pub fn to_problem(&self) -> Result<Problem> {
        let names: Vec<String> = self.tasks.iter().map(|t| t.name.clone()).collect();
        let exec: Vec<Vec<f64>> = self.tasks.iter().map(|t| t.costs.clone()).collect();
        let edges: Vec<(String, String, f64)> = self
            .edges
            .iter()
            .map(|e| (e.from.clone(), e.to.clone(), e.cost))
            .collect();
        Problem::from_named_costs(&names, &self.processors, &exec, &edges)
    }
}
