//! File names that need encoding reach the API as browsers request them.

use cdnsync::model::{Area, JobKind};

use crate::util::*;

#[test]
fn chinese_and_space_names_are_percent_encoded() {
    let fake = fake();
    let site = TempSite::new(&fake, "", "index_aliases = [\"slash\", \"bare\"]");
    site.write("文档/中文 名.html", "v1");
    site.write("a b.html", "v1");
    site.write("100%.html", "v1");
    site.write("q#?.html", "v1");
    site.write("café/index.html", "v1");
    site.run(&["sync"]).expect(0);
    for f in ["文档/中文 名.html", "a b.html", "100%.html", "q#?.html", "café/index.html"] {
        site.write(f, "v2");
    }
    site.run(&["sync"]).expect(0);
    let want = set([
        "https://www.example.com/%E6%96%87%E6%A1%A3/%E4%B8%AD%E6%96%87%20%E5%90%8D.html",
        "https://www.example.com/a%20b.html",
        "https://www.example.com/100%25.html",
        "https://www.example.com/q%23%3F.html",
        "https://www.example.com/caf%C3%A9/index.html",
        "https://www.example.com/caf%C3%A9/",
        "https://www.example.com/caf%C3%A9",
    ]);
    assert_eq!(fake.urls(JobKind::PurgeUrls, Area::Mainland), want);
}
