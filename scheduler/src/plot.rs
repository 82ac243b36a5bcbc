//! SVG figures: the seed's Figs. 33–35 from an experiment, and a Gantt chart of one schedule.
//!
//! SVG keeps the build free of font and image libraries: text is written as SVG text.

use std::path::{Path, PathBuf};

use plotters::coord::ranged1d::SegmentValue;
use plotters::prelude::*;

use crate::algorithms::{Algorithm, Scheduler};
use crate::error::{Error, Result};
use crate::experiment::{ExperimentResults, SummaryRow};
use crate::problem::Problem;
use crate::schedule::{DownloadSource, Schedule};

const PALETTE: [RGBColor; 8] = [
    RGBColor(0xd6, 0x27, 0x28),
    RGBColor(0x1f, 0x77, 0xb4),
    RGBColor(0x2c, 0xa0, 0x2c),
    RGBColor(0xff, 0x7f, 0x0e),
    RGBColor(0x94, 0x67, 0xbd),
    RGBColor(0x8c, 0x56, 0x4b),
    RGBColor(0xe3, 0x77, 0xc2),
    RGBColor(0x7f, 0x7f, 0x7f),
];

fn plot_error(path: &Path) -> impl Fn(String) -> Error + '_ {
    move |message| Error::Plot {
        path: path.to_owned(),
        message,
    }
}

/// One line chart of a metric against |B|, one series per algorithm.
fn metric_chart(
    results: &ExperimentResults,
    predeploy: bool,
    path: &Path,
    title: &str,
    y_desc: &str,
    metric: fn(&SummaryRow) -> f64,
) -> Result<()> {
    let fail = plot_error(path);
    let series: Vec<(Algorithm, Vec<(f64, f64)>)> = Algorithm::EVERY
        .iter()
        .filter(|&&a| !results.series(predeploy, a).is_empty())
        .map(|&a| {
            let points = results
                .series(predeploy, a)
                .iter()
                .map(|s| (s.partitions as f64, metric(s)))
                .collect();
            (a, points)
        })
        .collect();
    let all = series.iter().flat_map(|(_, p)| p.iter());
    let (mut x0, mut x1, mut y0, mut y1) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
    for &(x, y) in all {
        x0 = x0.min(x);
        x1 = x1.max(x);
        y0 = y0.min(y);
        y1 = y1.max(y);
    }
    if x0 > x1 {
        return Err(fail("no data".to_owned()));
    }
    let pad = ((y1 - y0) * 0.08).max(0.05);
    let root = SVGBackend::new(path, (820, 520)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| fail(e.to_string()))?;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 20))
        .margin(14)
        .x_label_area_size(44)
        .y_label_area_size(64)
        .build_cartesian_2d((x0 - 0.3)..(x1 + 0.3), (y0 - pad).max(0.0)..(y1 + pad))
        .map_err(|e| fail(e.to_string()))?;
    chart
        .configure_mesh()
        .x_desc("|B| (partitions of SF B)")
        .y_desc(y_desc)
        .x_labels(((x1 - x0) as usize + 1).min(20))
        .x_label_formatter(&|x| format!("{x:.0}"))
        .draw()
        .map_err(|e| fail(e.to_string()))?;
    for (i, (algorithm, points)) in series.into_iter().enumerate() {
        let color = PALETTE[i % PALETTE.len()];
        let width = if algorithm == Algorithm::SfCuv { 3 } else { 2 };
        chart
            .draw_series(LineSeries::new(points.clone(), color.stroke_width(width)))
            .map_err(|e| fail(e.to_string()))?
            .label(algorithm.name())
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(3))
            });
        chart
            .draw_series(
                points
                    .into_iter()
                    .map(|p| Circle::new(p, 3, color.filled())),
            )
            .map_err(|e| fail(e.to_string()))?;
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .position(SeriesLabelPosition::UpperLeft)
        .draw()
        .map_err(|e| fail(e.to_string()))?;
    root.present().map_err(|e| fail(e.to_string()))?;
    Ok(())
}

/// Writes the Figs. 33–35 equivalents into `dir`; returns the files written.
pub fn experiment_figures(results: &ExperimentResults, dir: &Path) -> Result<Vec<PathBuf>> {
    type Metric = fn(&SummaryRow) -> f64;
    let charts: [(&str, bool, &str, &str, Metric); 12] = [
        (
            "fig33_sharing_no_predeploy.svg",
            false,
            "Fig. 33: degree of SF sharing (no pre-deployment)",
            "tasks per SF instance",
            |s| s.sharing_degree,
        ),
        (
            "fig33_sharing_predeploy.svg",
            true,
            "Degree of SF sharing (SF pre-deployment)",
            "tasks per SF instance",
            |s| s.sharing_degree,
        ),
        (
            "fig34a_response_no_predeploy.svg",
            false,
            "Fig. 34(a): response time, no pre-deployment (SF-CUV = 1)",
            "normalised response time",
            |s| s.normalized_response_time,
        ),
        (
            "fig34b_efficiency_no_predeploy.svg",
            false,
            "Fig. 34(b): efficiency, no pre-deployment (SF-CUV = 1)",
            "normalised efficiency",
            |s| s.normalized_efficiency,
        ),
        (
            "fig35a_response_predeploy.svg",
            true,
            "Fig. 35(a): response time, SF pre-deployment (SF-CUV = 1)",
            "normalised response time",
            |s| s.normalized_response_time,
        ),
        (
            "fig35b_efficiency_predeploy.svg",
            true,
            "Fig. 35(b): efficiency, SF pre-deployment (SF-CUV = 1)",
            "normalised efficiency",
            |s| s.normalized_efficiency,
        ),
        // Absolute metrics beside the ratios, so that no single ratio decides.
        (
            "abs_response_no_predeploy.svg",
            false,
            "Response time (makespan), no pre-deployment",
            "seconds",
            |s| s.response_time,
        ),
        (
            "abs_vcpu_seconds_no_predeploy.svg",
            false,
            "vCPU-seconds (vCPUs used x response time), no pre-deployment",
            "vCPU-seconds",
            |s| s.vcpu_seconds,
        ),
        (
            "abs_instances_no_predeploy.svg",
            false,
            "SF instances, no pre-deployment",
            "instances",
            |s| s.instances,
        ),
        (
            "abs_downloaded_no_predeploy.svg",
            false,
            "Images and files downloaded, no pre-deployment",
            "GB",
            |s| s.mb_downloaded / 1000.0,
        ),
        (
            "abs_response_predeploy.svg",
            true,
            "Response time (makespan), SF pre-deployment",
            "seconds",
            |s| s.response_time,
        ),
        (
            "abs_vcpu_seconds_predeploy.svg",
            true,
            "vCPU-seconds (vCPUs used x response time), SF pre-deployment",
            "vCPU-seconds",
            |s| s.vcpu_seconds,
        ),
    ];
    let mut written = Vec::new();
    for (file, predeploy, title, y_desc, metric) in charts {
        let path = dir.join(file);
        metric_chart(results, predeploy, &path, title, y_desc, metric)?;
        written.push(path);
    }
    Ok(written)
}

/// A Gantt chart of one schedule: a row per used vCPU (bars coloured by SF type, labelled by
/// task), plus a row for the image repository's and one for the file server's downloads.
pub fn gantt_svg(problem: &Problem, schedule: &Schedule, path: &Path) -> Result<()> {
    let fail = plot_error(path);
    let mut used: Vec<usize> = schedule.assignments.iter().map(|a| a.vcpu).collect();
    used.sort_unstable();
    used.dedup();
    // Nearest-copy: a row for each forwarder cache that serves an image.
    let mut caches: Vec<usize> = schedule
        .image_downloads
        .iter()
        .filter_map(|d| match d.source {
            DownloadSource::Cache(cache) => Some(cache),
            DownloadSource::Origin => None,
        })
        .collect();
    caches.sort_unstable();
    caches.dedup();
    let mut labels: Vec<String> = vec!["file server".to_owned(), "image repo".to_owned()];
    labels.extend(caches.iter().map(|&c| {
        let network = problem.network_names.get(c).map_or("?", String::as_str);
        format!("cache {network}")
    }));
    labels.extend(used.iter().map(|&v| {
        let vcpu = &problem.vcpus[v];
        format!("{}/{}", problem.hosts[vcpu.host].name, vcpu.index_in_host)
    }));
    let rows = labels.len();
    let end = schedule
        .image_downloads
        .iter()
        .chain(&schedule.file_downloads)
        .map(|d| d.finish)
        .fold(schedule.makespan(), f64::max)
        .max(1e-6);
    let height = (80 + 34 * rows).min(4000) as u32;
    let root = SVGBackend::new(path, (1100, height)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| fail(e.to_string()))?;
    let title = format!(
        "{}: response time {:.1} s, {} instances",
        schedule.algorithm,
        schedule.makespan(),
        schedule.instances(problem).len()
    );
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 18))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(110)
        .build_cartesian_2d(0.0..end * 1.02, (0..rows - 1).into_segmented())
        .map_err(|e| fail(e.to_string()))?;
    chart
        .configure_mesh()
        .disable_y_mesh()
        .x_desc("time (s)")
        .y_labels(rows)
        .y_label_formatter(&|y| match y {
            SegmentValue::CenterOf(i) => labels.get(*i).cloned().unwrap_or_default(),
            _ => String::new(),
        })
        .draw()
        .map_err(|e| fail(e.to_string()))?;
    let row_of = |v: usize| used.binary_search(&v).map_or(0, |i| i + 2 + caches.len());
    let mut bars = Vec::new();
    let mut texts = Vec::new();
    for (task, a) in schedule.assignments.iter().enumerate() {
        let sf = problem.task_type[task];
        bars.push((
            a.start,
            a.finish,
            row_of(a.vcpu),
            PALETTE[sf % PALETTE.len()],
        ));
        texts.push((a.start, row_of(a.vcpu), problem.task_names[task].clone()));
    }
    for d in &schedule.image_downloads {
        let row = match d.source {
            DownloadSource::Origin => 1,
            DownloadSource::Cache(cache) => caches.binary_search(&cache).map_or(1, |i| i + 2),
        };
        bars.push((d.start, d.finish, row, PALETTE[d.item % PALETTE.len()]));
        texts.push((
            d.start,
            row,
            format!(
                "{}→{}",
                problem.type_names[d.item], problem.hosts[d.host].name
            ),
        ));
    }
    for d in &schedule.file_downloads {
        bars.push((d.start, d.finish, 0, PALETTE[7]));
        let file = problem.file_names.get(d.item).map_or("?", String::as_str);
        texts.push((d.start, 0, format!("{file}→{}", problem.hosts[d.host].name)));
    }
    chart
        .draw_series(bars.iter().map(|&(s, f, row, color)| {
            Rectangle::new(
                [
                    (s, SegmentValue::Exact(row)),
                    (f, SegmentValue::Exact(row + 1)),
                ],
                color.mix(0.75).filled(),
            )
        }))
        .map_err(|e| fail(e.to_string()))?;
    chart
        .draw_series(bars.iter().map(|&(s, f, row, _)| {
            Rectangle::new(
                [
                    (s, SegmentValue::Exact(row)),
                    (f, SegmentValue::Exact(row + 1)),
                ],
                BLACK.stroke_width(1),
            )
        }))
        .map_err(|e| fail(e.to_string()))?;
    chart
        .draw_series(texts.into_iter().map(|(s, row, text)| {
            Text::new(
                text,
                (s + end * 0.003, SegmentValue::CenterOf(row)),
                ("sans-serif", 11),
            )
        }))
        .map_err(|e| fail(e.to_string()))?;
    root.present().map_err(|e| fail(e.to_string()))?;
    Ok(())
}

/// Schedules `problem` with `algorithm` and draws its Gantt chart.
pub fn gantt_of(problem: &Problem, algorithm: Algorithm, path: &Path) -> Result<Schedule> {
    let schedule = algorithm.schedule(problem);
    gantt_svg(problem, &schedule, path)?;
    Ok(schedule)
}
