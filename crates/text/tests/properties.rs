//! Properties of the text pipeline on arbitrary (including hostile) input: nothing panics, the
//! fold map always points at real characters of the original, normalization is idempotent.

use proptest::prelude::*;
use tidewatch_text::normalize::{display_text, fold, fold_with_map, html_to_text};
use tidewatch_text::snippet::highlight;
use tidewatch_text::{fingerprint, Segmenter};

fn messy() -> impl Strategy<Value = String> {
    // Mix of CJK, traditional, full-width, markup, entities, repost markers, control characters.
    let pieces = prop::sample::select(vec![
        "臺灣",
        "食堂",
        "学校",
        "ＡＢＣ",
        "１２３",
        "<p>",
        "</div>",
        "<script>x</script>",
        "&amp;",
        "&#x4E2D;",
        "&bogus;",
        "//@某人:",
        "RT @a:",
        "@b",
        "https://t.example/x?utm_source=1",
        " ",
        "\n",
        "\t",
        "\u{0}",
        "\u{200b}",
        "ﬁ",
        "é",
        "e\u{301}",
        "😀",
        "<",
        ">",
        "\"",
        "'",
        "。",
        "，",
        "!",
        "Canteen",
        "İ",
        "ß",
        "<!--",
        "<![CDATA[",
        "]]>",
    ]);
    prop::collection::vec(prop_oneof![pieces.prop_map(String::from), any::<String>()], 0..30).prop_map(|v| v.concat())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn fold_map_ranges_are_valid_char_boundaries(s in messy()) {
        let (folded, map) = fold_with_map(&s);
        for (i, _) in folded.char_indices() {
            let (a, b) = map.original_range(i, i + 1);
            prop_assert!(a <= b && b <= s.len());
            prop_assert!(s.is_char_boundary(a) && s.is_char_boundary(b));
        }
        prop_assert_eq!(fold(&folded), folded.clone(), "folding is idempotent");
    }

    #[test]
    fn html_and_display_never_panic(s in messy()) {
        let t = html_to_text(&s);
        prop_assert!(!t.contains("<script>"), "{}", t);
        let _ = display_text(&s);
    }

    #[test]
    fn snippets_are_escaped(s in messy(), q in messy()) {
        let h = highlight(&s, &[q], 80);
        let stripped = h.replace("<b>", "").replace("</b>", "");
        prop_assert!(!stripped.contains('<') && !stripped.contains('>'), "{}", h);
    }

    #[test]
    fn fingerprint_and_segmenter_never_panic(s in messy()) {
        let f = fold(&s);
        let fp = fingerprint::fingerprint(&f);
        prop_assert_eq!(fp, fingerprint::fingerprint(&f));
        let seg = Segmenter::shared_default();
        let mut toks = Vec::new();
        seg.index_tokens(&f, &mut toks);
        for t in &toks {
            prop_assert_eq!(&f[t.start..t.end], t.text);
        }
    }
}
