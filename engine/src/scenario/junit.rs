//! JUnit XML for CI systems: one `testsuite` per scenario file, one
//! `testcase` per scenario, a `failure` with the failed step in words, and
//! the step report as `system-out`. A file that cannot be loaded is a
//! `testsuite` with one `testcase` in `error`.

use std::fmt::Write;

use super::report::{Outcome, SuiteReport};

/// A scenario file that could not be loaded, with why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Broken {
    /// The file.
    pub file: String,
    /// Every problem, one per line.
    pub message: String,
}

/// The JUnit XML document of a run.
pub fn junit(reports: &[SuiteReport], broken: &[Broken]) -> String {
    let n_tests: usize = reports
        .iter()
        .map(|report| report.scenarios.len())
        .sum::<usize>()
        + broken.len();
    let n_failures: usize = reports.iter().map(SuiteReport::n_failed).sum();
    let seconds: f64 = reports
        .iter()
        .flat_map(|report| &report.scenarios)
        .map(|scenario| scenario.elapsed.as_secs_f64())
        .sum();
    let mut xml = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        xml,
        "<testsuites name=\"sesflow\" tests=\"{n_tests}\" failures=\"{n_failures}\" \
         errors=\"{}\" time=\"{seconds:.6}\">",
        broken.len()
    );
    for report in reports {
        suite(&mut xml, report);
    }
    for broken in broken {
        let name = escape(&broken.file);
        let _ = writeln!(
            xml,
            "  <testsuite name=\"{name}\" tests=\"1\" failures=\"0\" errors=\"1\" skipped=\"0\" \
             time=\"0\">\n    <testcase classname=\"{name}\" name=\"load\" time=\"0\">\n      \
             <error message=\"the file cannot be used\">{}</error>\n    </testcase>\n  \
             </testsuite>",
            escape(&broken.message)
        );
    }
    xml.push_str("</testsuites>\n");
    xml
}

fn suite(xml: &mut String, report: &SuiteReport) {
    let seconds: f64 = report
        .scenarios
        .iter()
        .map(|scenario| scenario.elapsed.as_secs_f64())
        .sum();
    let file = escape(&report.file);
    let _ = writeln!(
        xml,
        "  <testsuite name=\"{file}\" tests=\"{}\" failures=\"{}\" errors=\"0\" skipped=\"0\" \
         time=\"{seconds:.6}\">",
        report.scenarios.len(),
        report.n_failed()
    );
    for scenario in &report.scenarios {
        let _ = writeln!(
            xml,
            "    <testcase classname=\"{file}\" name=\"{}\" time=\"{:.6}\">",
            escape(&scenario.name),
            scenario.elapsed.as_secs_f64()
        );
        if let (Some((step, failure)), Some(text)) =
            (scenario.failure(), report.failure_text(scenario))
        {
            let message = format!("step {}: expected {}", step.n, failure.expected);
            let _ = writeln!(
                xml,
                "      <failure message=\"{}\" type=\"scenario\">{}</failure>",
                escape(&message),
                escape(&text)
            );
        }
        let mut out = String::new();
        for step in &scenario.steps {
            let mark = match step.outcome {
                Outcome::Passed => "ok",
                Outcome::Failed(_) => "FAILED",
                Outcome::Skipped => "skipped",
            };
            let _ = writeln!(out, "{mark} {} {}", step.n, step.text);
        }
        let _ = writeln!(xml, "      <system-out>{}</system-out>", escape(&out));
        xml.push_str("    </testcase>\n");
    }
    xml.push_str("  </testsuite>\n");
}

/// Escapes text for XML content and attribute values; characters XML 1.0
/// cannot carry become `?`.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\n' | '\t' => out.push(c),
            '\r' => out.push_str("&#13;"),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => out.push('?'),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::escape;

    #[test]
    fn escape_keeps_xml_well_formed() {
        assert_eq!(
            escape("a < b & \"c\" > 'd'\u{1}"),
            "a &lt; b &amp; &quot;c&quot; &gt; &apos;d&apos;?"
        );
    }
}
