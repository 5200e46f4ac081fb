//! The row readers on arbitrary bytes: never panic, every row has a line number within the input,
//! and valid rows are never lost because of invalid neighbours.

use proptest::prelude::*;
use tidewatch_ingest::{read_rows, Format};

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn arbitrary_bytes_never_panic(data in prop::collection::vec(any::<u8>(), 0..2000)) {
        let lines = data.iter().filter(|&&b| b == b'\n').count() as u64 + 1;
        for f in [Format::JsonLines, Format::Csv] {
            for row in read_rows(&data[..], f) {
                prop_assert!(row.line >= 1 && row.line <= lines, "line {} of {}", row.line, lines);
            }
        }
    }

    #[test]
    fn good_rows_survive_bad_neighbours(garbage in prop::collection::vec("[^\n]{0,40}", 0..10)) {
        let mut input = String::new();
        let mut expected = Vec::new();
        for (i, g) in garbage.iter().enumerate() {
            input.push_str(g);
            input.push('\n');
            input.push_str(&format!("{{\"id\":\"ok{i}\",\"text\":\"好{i}\"}}\n"));
            expected.push(format!("ok{i}"));
        }
        let got: Vec<String> = read_rows(input.as_bytes(), Format::JsonLines)
            .filter_map(|r| r.result.ok())
            .filter_map(|i| i.id)
            .filter(|id| id.starts_with("ok"))
            .collect();
        prop_assert_eq!(got, expected);
    }

    #[test]
    fn dates_never_panic(s in ".{0,40}") {
        let _ = tidewatch_ingest::dates::parse_datetime(&s);
    }
}
