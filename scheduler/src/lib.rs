//! Placing the service functions (SFs) of a workflow on the vCPUs of heterogeneous hosts:
//! SF-CUV (seed 003 §4.2.2) and five baselines, a simulator that measures any schedule, and
//! the seed's evaluation (§4.2.4, Figs. 31–35) reproduced in simulation.
//!
//! Pure computation: no I/O except the experiment's and plots' output files, and no
//! dependency on the forwarder.
//!
//! ```
//! use nfwd_scheduler::{Algorithm, Problem, Scheduler, evaluate};
//! // The HEFT paper's classic example, given as a cost matrix.
//! let problem = nfwd_scheduler::classic_heft_example();
//! let schedule = Algorithm::Heft.schedule(&problem);
//! assert_eq!(schedule.makespan(), 80.0);
//! assert!(evaluate(&problem, &schedule).is_ok());
//! ```

#![forbid(unsafe_code)]

mod algorithms;
mod cost_matrix;
mod error;
pub mod experiment;
pub mod limits;
mod model;
pub mod plot;
mod problem;
mod schedule;
mod simulate;
mod timeline;
mod wfformat;

pub use algorithms::{
    Algorithm, CapBased, ComBased, ComReading, Heft, Peft, Scheduler, SfCuv, SfCuvParams, Sharing,
};
pub use cost_matrix::{CostEdge, CostMatrix, CostTask};
pub use error::{Error, Result};
pub use limits::read_input;
pub use model::{Edge, Host, Image, Infrastructure, InputFile, Network, Server, Task, Workflow};
pub use problem::{
    DownloadModel, FileId, HostId, HostInfo, Problem, SfTypeId, TaskId, Vcpu, VcpuId,
};
pub use schedule::{
    Assignment, Download, DownloadSource, Instance, Plan, PlanNode, PlanRoute, PlanTask, Route,
    Schedule,
};
pub use simulate::{Metrics, check, evaluate, simulate};
pub use wfformat::{WfFormatOptions, workflow_from_wfformat};

/// The classic 10-task, 3-processor example of the HEFT paper (Topcuoglu et al. 2002), whose
/// insertion-based HEFT schedule has a makespan of 80.
pub fn classic_heft_example() -> Problem {
    let exec = [
        [14.0, 16.0, 9.0],
        [13.0, 19.0, 18.0],
        [11.0, 13.0, 19.0],
        [13.0, 8.0, 17.0],
        [12.0, 13.0, 10.0],
        [13.0, 16.0, 9.0],
        [7.0, 15.0, 11.0],
        [5.0, 11.0, 14.0],
        [18.0, 12.0, 20.0],
        [21.0, 7.0, 16.0],
    ];
    let edges = [
        (1, 2, 18.0),
        (1, 3, 12.0),
        (1, 4, 9.0),
        (1, 5, 11.0),
        (1, 6, 14.0),
        (2, 8, 19.0),
        (2, 9, 16.0),
        (3, 7, 23.0),
        (4, 8, 27.0),
        (4, 9, 23.0),
        (5, 9, 13.0),
        (6, 8, 15.0),
        (7, 10, 17.0),
        (8, 10, 11.0),
        (9, 10, 13.0),
    ];
    let exec: Vec<Vec<f64>> = exec.iter().map(|row| row.to_vec()).collect();
    let edges: Vec<(usize, usize, f64)> =
        edges.iter().map(|&(a, b, c)| (a - 1, b - 1, c)).collect();
    match Problem::from_cost_matrix(&exec, &edges) {
        Ok(problem) => problem,
        // The matrix above is rectangular, finite and acyclic.
        Err(e) => unreachable!("the classic example is valid: {e}"),
    }
}
