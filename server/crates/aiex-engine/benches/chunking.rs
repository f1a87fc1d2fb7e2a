//! Chunking throughput: parse and chunk extraction on generated Elixir, in process.
//! Run with `cargo bench --bench chunking`.

#[path = "../../../../tests/support/elixir_gen.rs"]
mod elixir_gen;

use std::time::{Duration, Instant};

use aiex_engine::features::symbols;
use aiex_syntax::chunks;
use aiex_syntax::syntax;

fn main() {
    let big = elixir_gen::file_of_lines(150_000);
    let megabytes = big.len() as f64 / (1024.0 * 1024.0);
    let parse = median_of(5, || {
        let started = Instant::now();
        let tree = syntax::parse_str(&big).expect("parse");
        (started.elapsed(), tree)
    });
    let tree = syntax::parse_str(&big).expect("parse");
    let extract = median_of(5, || {
        let started = Instant::now();
        let file = chunks::extract(&tree, &big);
        (started.elapsed(), file)
    });
    println!("input: {:.1} MB, {} lines", megabytes, big.lines().count());
    println!(
        "parse: {:.1} MB/s ({:.0} ms)",
        megabytes / parse.as_secs_f64(),
        ms(parse)
    );
    println!(
        "chunk extraction from a tree: {:.1} MB/s ({:.0} ms)",
        megabytes / extract.as_secs_f64(),
        ms(extract)
    );
    println!(
        "parse + extraction: {:.1} MB/s",
        megabytes / (parse + extract).as_secs_f64()
    );

    let file = elixir_gen::file_of_lines(7_000);
    let first_symbols = median_of(20, || {
        let started = Instant::now();
        let tree = syntax::parse_str(&file).expect("parse");
        let outline = symbols::document_symbols(&chunks::extract(&tree, &file));
        (started.elapsed(), outline)
    });
    println!(
        "time to first symbols, 7,000-line file (parse + chunks + outline): {:.1} ms",
        ms(first_symbols)
    );
}

/// Runs `f` `runs` times and returns the median of the durations it reports.
fn median_of<T>(runs: usize, mut f: impl FnMut() -> (Duration, T)) -> Duration {
    let mut times: Vec<Duration> = (0..runs).map(|_| f().0).collect();
    times.sort_unstable();
    times[runs / 2]
}

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}
