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

    #[test]
    fn feeds_never_panic_on_any_bytes(data in prop::collection::vec(any::<u8>(), 0..400)) {
        let _ = tidewatch_ingest::feed::parse_feed(&data, &Default::default());
    }

    #[test]
    fn feeds_never_panic_on_damaged_feeds(cut in 0usize..400, junk in "[<>&;\"'/!\\[\\]a-z ]{0,12}", at in 0usize..400) {
        // A real feed, cut short and with junk spliced in.
        let feed = "<?xml version=\"1.0\" encoding=\"gb2312\"?><rss version=\"2.0\" xmlns:dc=\"http://purl.org/dc/elements/1.1/\"><channel><title>T &amp; x</title><item><title><![CDATA[标题 <b>b</b>]]></title><link>/a?b=1&amp;c=2</link><description>&lt;p&gt;正文&lt;/p&gt; &nbsp;</description><pubDate>Thu, 01 Jan 2004 19:48:21 GMT</pubDate><dc:creator>X</dc:creator></item><entry xmlns=\"http://www.w3.org/2005/Atom\"><content type=\"xhtml\"><div><p>x</p></div></content></entry></channel></rss>";
        let mut s: String = feed.chars().take(cut.min(feed.chars().count())).collect();
        let at = s.char_indices().map(|(i, _)| i).nth(at).unwrap_or(s.len());
        s.insert_str(at, &junk);
        let f = tidewatch_ingest::feed::parse_feed(s.as_bytes(), &Default::default());
        prop_assert!(f.entries.len() <= 2);
    }

    #[test]
    fn feed_dates_never_panic(s in ".{0,40}") {
        let _ = tidewatch_ingest::feed::dates::parse_feed_date(&s, chrono_tz::UTC);
    }
}
