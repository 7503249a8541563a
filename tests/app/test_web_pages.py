"""The dashboard's HTML and static files: security headers, routes the emails link to, hashed assets."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pytest

from chalicelib.web import assets

VENDOR = Path(assets.ROOT) / "vendor"


@pytest.mark.parametrize("path", ["/", "/app", "/app/login", "/app/workspaces/ws_x",
                                  "/app/workspaces/ws_x/alerts", "/app/workspaces/ws_x/alerts/al_1"])
def test_pages_are_the_html_shell_with_security_headers(api, path):
    r = api.get(path)
    assert r.status == 200
    assert r.headers["content-type"].startswith("text/html")
    csp = r.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "'unsafe-inline'" not in csp and "frame-ancestors 'none'" in csp
    assert "default-src 'none'" in csp
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["referrer-policy"] == "strict-origin-when-cross-origin"
    assert r.headers["x-frame-options"] == "DENY"


def test_the_stripe_return_url_with_its_query_string_is_a_page(api):
    assert api.get("/?workspace=ws_x&checkout=success&session_id=cs_1").status == 200


def test_the_shell_has_no_inline_script_and_every_asset_it_names_is_served_cacheable(api):
    page = api.get("/").text
    scripts = re.findall(r"<script([^>]*)>(.*?)</script>", page, re.DOTALL)
    assert scripts and all('src="/static/' in attrs and not body.strip() for attrs, body in scripts)
    urls = re.findall(r'(?:src|href)="(/static/[^"]+)"', page)
    assert len(urls) >= 6
    for url in urls:
        r = api.get(url)
        assert r.status == 200, url
        assert r.headers["cache-control"] == "public, max-age=31536000, immutable"
        assert r.headers["x-content-type-options"] == "nosniff"


def test_asset_names_carry_the_hash_of_what_is_served(api):
    for asset in assets.manifest().values():
        digest = hashlib.sha256(asset.body.encode()).hexdigest()[:12]
        assert asset.file_name.split(".")[-2] == digest


def test_modules_import_each_other_by_hashed_name(api):
    main = assets.manifest()["main.js"]
    imported = re.findall(r'from "\./([^"]+)"', main.body)
    assert imported and all(assets.find(name) is not None for name in imported)
    assert api.get(f"/static/{imported[0]}").status == 200


def test_an_unknown_or_stale_asset_is_404_in_the_error_shape(api):
    for name in ("main.js", "main.000000000000.js", "..%2Fassets.py", "assets.py"):
        r = api.get(f"/static/{name}")
        assert r.status == 404 and r.json["error"]["code"] == "not_found"


def test_a_change_in_an_imported_module_changes_the_importer_name(tmp_path, monkeypatch):
    static = tmp_path / "static"
    static.mkdir()
    (tmp_path / "vendor").mkdir()
    (static / "a.js").write_text('import { b } from "./b.js";\nexport const a = b;\n')
    (static / "b.js").write_text("export const b = 1;\n")
    monkeypatch.setattr(assets, "FOLDERS", (static, tmp_path / "vendor"))
    assets.manifest.cache_clear()
    try:
        before = assets.manifest()["a.js"].file_name
        (static / "b.js").write_text("export const b = 2;\n")
        assets.manifest.cache_clear()
        after = assets.manifest()
        assert after["a.js"].file_name != before
        assert f'"./{after["b.js"].file_name}"' in after["a.js"].body
    finally:
        assets.manifest.cache_clear()


def test_vendored_files_match_their_checksums():
    lines = (VENDOR / "SHA256SUMS").read_text().split("\n")
    listed = dict(reversed(line.split()) for line in lines if line.strip())
    assert set(listed) == {p.name for p in VENDOR.iterdir() if p.suffix in (".js", ".css")}
    for name, digest in listed.items():
        assert hashlib.sha256((VENDOR / name).read_bytes()).hexdigest() == digest, name
