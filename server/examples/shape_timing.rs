fn rss() -> String {
    let s = std::fs::read_to_string("/proc/self/status").unwrap();
    s.lines().filter(|l| l.starts_with("VmRSS") || l.starts_with("VmHWM")).collect::<Vec<_>>().join(" ")
}
fn main() {
    let path = std::env::args().nth(1).unwrap();
    let text = std::fs::read_to_string(path).unwrap();
    eprintln!("start {}", rss());
    let t = std::time::Instant::now();
    let tree = aiex::syntax::parse_str(&text).unwrap();
    eprintln!("parse {:?} {}", t.elapsed(), rss());
    let t = std::time::Instant::now();
    let chunks = aiex::chunks::extract(&tree, &text);
    eprintln!("extract {:?} modules {} {}", t.elapsed(), chunks.modules.len(), rss());
    let t = std::time::Instant::now();
    let s = aiex::features::symbols::document_symbols(&chunks);
    eprintln!("symbols {:?} {}", t.elapsed(), s.len());
    let t = std::time::Instant::now();
    let rope = ropey::Rope::from_str(&text);
    let f = aiex::features::folding::folding_ranges(&tree, &rope);
    eprintln!("folding {:?} {} {}", t.elapsed(), f.len(), rss());
}
