"""The sanitiser on hostile input: whatever the page, the output fetches nothing and keeps the text."""

from __future__ import annotations

import re

import lxml.html
import pytest

from evidence.sanitize import CSP, mask_values, sanitise

FETCHING_ATTRS = ("src", "srcset", "href", "action", "formaction", "poster", "data", "background", "xlink:href",
                  "ping", "manifest", "codebase", "cite", "longdesc", "lowsrc", "dynsrc")


def assert_inert(html: str) -> None:
    doc = lxml.html.document_fromstring(html)
    head = doc.find("head")
    assert head[1].get("http-equiv") == "Content-Security-Policy" and head[1].get("content") == CSP
    for el in doc.iter():
        if not isinstance(el.tag, str):
            continue
        assert el.tag not in ("script", "iframe", "frame", "object", "embed", "img", "link", "base", "video", "audio")
        assert not (el.tag == "meta" and el.get("http-equiv", "").lower() == "refresh")
        for attr in el.attrib:
            assert not attr.lower().startswith("on"), (el.tag, attr)
            if attr in FETCHING_ATTRS:
                assert el.tag == "a" and attr == "href" and el.get("href") == "#", (el.tag, attr)
        if el.tag == "style" or el.get("style"):
            css = (el.text or "") + (el.get("style") or "")
            assert not re.search(r"url\s*\(|@import|@font-face|\\", css, re.IGNORECASE), css


@pytest.mark.parametrize("page", [
    b'<meta http-equiv="REFRESH" content="0;url=http://x/">hi',
    b'<body background="http://x/b.png" onload="x()"><a href="javascript:alert(1)" onclick="y()">a</a>',
    b'<style>@import "http://x/a.css"; div{background:u\\72l(http://x/e.png)}</style><div>t</div>',
    b'<div style="background:URL( http://x/a.png )">t</div>',
    b'<svg><image xlink:href="http://x/s.png"/><use href="http://x/u.svg#a"/></svg>text after svg',
    b'<object data="http://x/o"><param name="movie" value="http://x/m"><embed src="http://x/e">fallback</object>',
    b'<form action="http://x/f"><input type="image" src="http://x/i.png"><button formaction="http://x/g">b</button></form>',
    b'<video poster="http://x/p.jpg"><source src="http://x/v.mp4"><track src="http://x/t.vtt"></video>',
    b'<link rel="dns-prefetch" href="//x"><link rel="prefetch" href="http://x/p"><base href="http://x/">',
    b'<img srcset="http://x/1.jpg 1x, http://x/2.jpg 2x" src="data:image/png;base64,iVBORw0KGgo=">',
    b'<iframe srcdoc="<img src=http://x/i>"></iframe><frameset><frame src="http://x/f"></frameset>',
    b'<math><mi xlink:href="http://x/m">m</mi></math><portal src="http://x/p"></portal>',
    b"<div>" * 5000 + b"deep" + b"</div>" * 5000,
    b"\xff\xfe<\x00h\x001\x00>\x00",  # UTF-16 without a declaration
    b'<meta charset="no-such-charset"><p>bogus charset</p>',
    b"",
])
def test_hostile_pages_come_out_inert(page: bytes) -> None:
    assert_inert(sanitise(page).html)


def test_text_survives_and_media_become_placeholders() -> None:
    out = sanitise(b'<h1>Title</h1><embed src="http://x/e"><p>after embed</p><img src="a.jpg" width="40" height="30">')
    assert "after embed" in out.html and "Title" in out.html
    assert out.html.count("ow-placeholder") >= 3 and "width:40px;height:30px" in out.html
    assert out.removed == {"embed": 1, "img": 1}


def test_plain_text_is_shown_as_text() -> None:
    out = sanitise(b"<script>alert(1)</script> user:pass", "text/plain")
    assert "&lt;script&gt;" in out.html and "<script>" not in out.html.split("</head>")[1]


def test_mask_values_across_elements_and_missing_reported() -> None:
    html = sanitise(b"<p>card <b>4111 1111</b> 1111 1111 and mail a.b@c.de</p>").html
    out, missing = mask_values(html, ["•••• •••• •••• 1111", "a••@c.de", "zz••zz"])
    assert "4111" not in out and "a.b@c.de" not in out and "1111</b>" not in out
    assert missing == ["zz••zz"]
