#!/usr/bin/env python3
"""Every relative link in the built guide (target/guide) names a file that exists there.

tests/guide_links.rs checks the Markdown; this checks what mdBook made of it (a page it renames,
as its `index` preprocessor does with README.md, breaks links only on the site).
Usage: check_site.py SITE_DIR. Exits 1 and lists the broken links.
"""
import html.parser
import os
import sys
import urllib.parse


class Links(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.targets = []

    def handle_starttag(self, tag, attrs):
        for name, value in attrs:
            if name in ("href", "src") and value:
                self.targets.append(value)


def main(site):
    broken = []
    pages = 0
    for folder, _, files in os.walk(site):
        for name in files:
            if not name.endswith(".html"):
                continue
            pages += 1
            page = os.path.join(folder, name)
            parser = Links()
            with open(page, encoding="utf-8") as f:
                parser.feed(f.read())
            for target in parser.targets:
                parts = urllib.parse.urlsplit(target)
                if parts.scheme or parts.netloc or not parts.path:
                    continue  # external, or an anchor in the same page
                path = os.path.normpath(os.path.join(folder, urllib.parse.unquote(parts.path)))
                if not os.path.exists(path):
                    broken.append(f"{os.path.relpath(page, site)}: {target}")
    if pages == 0:
        print(f"no HTML page in {site}", file=sys.stderr)
        return 1
    for line in broken:
        print(f"broken link: {line}", file=sys.stderr)
    print(f"{pages} pages, {len(broken)} broken links", file=sys.stderr)
    return 1 if broken else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
