"""Real third-party web apps as lab onions (lab.apps, issue 13 item 7): pinnwand (pastebin)
and django-oscar (shop), installed from PyPI into venvs of their own, seeded from configs/lab,
published on the lab's Tor network and crawled through Tor into the index.

Fast tests check the seed content and the crawl profiles written for the apps. The slow ones
share one lab (the session's, with the apps added) and one crawl: every seeded item reached,
searchable and tagged, pagination ended, and — from each app's own request log — no form was
ever submitted (no POST) and no excluded action was requested.
"""

from __future__ import annotations

import json
import math
import re
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from lab import fake_onion
from lab.apps import content, load_apps, requests_of, resolve
from lab.specs import default_configs_dir

CONFIGS = default_configs_dir()
ROLES = ("app-pinnwand", "app-oscar", "app-mediawiki")


# -- fast: content and profiles -------------------------------------------------------------

def test_apps_are_defined_with_pinned_requirements_and_their_own_roles() -> None:
    apps = load_apps()
    assert {"pinnwand", "oscar", "mediawiki"} <= set(apps)
    for spec in apps.values():
        assert spec.role == f"app-{spec.name}"
        if spec.installer == "pip":  # Debian's packages come at the release's version
            assert spec.requirements and all(re.fullmatch(r"[A-Za-z0-9_.-]+==[0-9][^ ]*", r) for r in spec.requirements)
            assert spec.version, "the app's own package is in its pinned list"
    assert apps["mediawiki"].installer == "apt" and apps["mediawiki"].requirements[0] == "mediawiki"
    assert [s.name for s in resolve(["app-pinnwand,oscar"])] == ["pinnwand", "oscar"]
    with pytest.raises(KeyError, match="no lab app 'nope'"):
        resolve(["nope"])


def test_pastes_have_stable_slugs_and_hold_only_the_labs_synthetic_records() -> None:
    spec = load_apps()["pinnwand"]
    pastes = content.pastes(CONFIGS, spec.seed["pastes"], spec.seed["samples"])
    again = content.pastes(CONFIGS, spec.seed["pastes"], spec.seed["samples"])
    assert [p["slug"] for p in pastes] == [p["slug"] for p in again]
    assert len({p["slug"] for p in pastes} | {p["file_slug"] for p in pastes}) == 2 * len(pastes)
    assert all(re.fullmatch(r"[A-Z2-7]{12}", p["slug"]) for p in pastes)  # pinnwand's route alphabet
    leaks = [p for p in pastes if p["source"].startswith("leak/")]
    assert len(leaks) == len(list((CONFIGS / "leak" / "pastes").glob("*.yaml")))
    kinds = {p["source"].rsplit("/", 1)[1]: p["kind"] for p in leaks}
    assert kinds.pop("config-snippet.yaml") == "other", "a server config is not leaked personal data"
    assert set(kinds.values()) == {"leaked_data"}
    emails = {m for p in pastes for m in re.findall(r"[\w.+-]+@([\w-]+\.[\w.]+)", p["raw"])}
    assert emails and emails <= {"example.com", "example.org", "example.net"}


def test_products_link_every_paste_from_the_shop() -> None:
    pw, oscar = load_apps()["pinnwand"], load_apps()["oscar"]
    onion = fake_onion("app-pinnwand")
    products = content.products(CONFIGS, oscar.seed["listings"], paste_onion=onion, paste_seed=pw.seed)
    pastes = content.pastes(CONFIGS, pw.seed["pastes"], pw.seed["samples"])
    n_files = sum(len(list((CONFIGS / d).glob("*.yaml"))) for d in oscar.seed["listings"])
    assert len(products) == n_files and len({p["upc"] for p in products}) == n_files
    linked = {lk for p in products for lk in p["links"]}
    assert linked == {f"/{p['slug']}" for p in pastes}, "every paste is reachable from a product page"
    for p in products:
        for lk in p["links"]:
            assert f'href="http://{onion}{lk}"' in p["description"]
    kinds = {p["kind"] for p in products}
    assert {"drugs", "leaked_data", "wildlife"} <= kinds
    assert all(p["price"] is None or p["currency"] in content.FIAT for p in products)
    unlinked = content.products(CONFIGS, oscar.seed["listings"])  # the pastebin not in this lab
    assert not any(p["links"] for p in unlinked)


def test_wiki_directory_lists_the_labs_onions_by_section() -> None:
    spec = load_apps()["mediawiki"]
    sites = [{"name": r, "role": r, "title": r.title(), "onion": fake_onion(r)}
             for r in ("market", "leak", "forum", "news", "hostile", "app-oscar", "app-pinnwand")]
    pages = content.wiki_pages(spec.seed["directory"], sites, {})
    assert set(pages) == {"Main_Page", "Marketplaces", "Leaks_and_dumps", "Forums", "News"}
    assert f"[http://{fake_onion('app-pinnwand')}/ " in pages["Leaks_and_dumps"]
    assert fake_onion("hostile") not in "".join(pages.values()), "only the roles a section names"
    assert all(f"[[{t.replace('_', ' ')}]]" in pages["Main_Page"] for t in pages if t != "Main_Page")


def test_app_profiles_keep_the_crawler_off_actions_sort_orders_and_duplicates(tmp_path: Path) -> None:
    import yaml

    from crawler.profiles import parse_profile

    for name, follows, refused in (
        ("oscar", ["/catalogue/", "/catalogue/?page=3", "/catalogue/category/drugs_1/?page=2",
                   "/catalogue/ketamine-crystal-bulk-10-g_7/", "/offers/"],
         ["/basket/add/7/", "/basket/", "/checkout/", "/accounts/login/", "/accounts/wishlists/add/7/",
          "/catalogue/ketamine_7/reviews/add/", "/catalogue/?sort_by=price-desc", "/search/?q=x",
          "/catalogue/?page=2&sort_by=title-asc", "/dashboard/", "/i18n/setlang/",
          "/catalogue/?selected_facets=product_class%3Alist", "/catalogue/?page=2&selected_facets=rating%3ANone"]),
        ("pinnwand", ["/", "/ABCDEFGHIJKL", "/about", "/expiry", "/dumps"],
         ["/remove/ABCDEF", "/repaste/ABCDEF", "/raw/ABCDEF", "/hex/ABCDEF", "/download/ABC",
          "/download-archive/ABC", "/ABCDEF/raw", "/json/show/ABC", "/api/v1/paste", "/create", "/curl"]),
    ):
        spec = load_apps()[name]
        raw = {"name": f"lab-app-{name}", "onions": [fake_onion(spec.role)], **spec.profile}
        path = tmp_path / f"app-{name}.yaml"
        path.write_text(yaml.safe_dump(raw))
        profile = parse_profile(raw, path)
        assert all(profile.follows(t) for t in follows), [t for t in follows if not profile.follows(t)]
        assert not any(profile.follows(t) for t in refused), [t for t in refused if profile.follows(t)]


def test_request_logs_of_both_servers_are_read() -> None:
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        log = Path(d) / "requests.log"
        log.write_text(
            "2026-11-30 07:33:42,620 200 GET /ABCDEFGH (127.0.0.1) 47.52ms\n"
            "2026-11-30 07:33:43,000 405 POST /create (127.0.0.1) 1.00ms\n"
            '127.0.0.1 - - [30/Nov/2026:07:35:44 +0000] "GET /catalogue/?page=2 HTTP/1.1" 200 7751 "-" "Mozilla"\n'
            '127.0.0.1 - - [30/Nov/2026:07:35:45 +0000] "POST /basket/add/1/ HTTP/1.1" 302 0 "-" "Mozilla"\n')
        assert requests_of({"request_log": str(log)}) == [
            ("GET", "/ABCDEFGH"), ("POST", "/create"), ("GET", "/catalogue/?page=2"), ("POST", "/basket/add/1/")]


# -- slow: the apps on the lab, crawled through Tor ---------------------------------------------

@pytest.fixture(scope="module")
def apps_lab(lab):
    """The session's lab with both apps added (installed first if the setup script did not)."""
    from lab import options
    from lab.apps import is_installed
    from lab.control import read_state

    missing = [s.name for s in resolve(["all"]) if not is_installed(s)]
    assert not missing, f"lab apps {missing} not installed: run scripts/setup_lab_apps.sh (the tests' namespace has no registry)"
    started = time.time()
    options.add(Path(lab["root"]), "app-pinnwand,oscar,mediawiki", timeout=300)
    state = dict(read_state(Path(lab["root"])), root=lab["root"])
    state["apps_added_seconds"] = round(time.time() - started, 1)
    print("lab apps:", json.dumps(state.get("apps")), "added in", state["apps_added_seconds"], "s")
    yield state
    for role in ROLES:
        options.remove(Path(lab["root"]), role)


@pytest.fixture(scope="module")
def apps_crawl(apps_lab, es_url, tmp_path_factory):
    from tests.fixtures_es import drop_prefix, make_client
    from tests.fixtures_lab import lab_env, run_onionwatch, site

    home = tmp_path_factory.mktemp("apps-home")
    prefix = "tlabapps"
    sites = f"{apps_lab['profiles']}:{CONFIGS.parent / 'sites'}"
    env = dict(lab_env(apps_lab, home), ONIONWATCH_ES_URL=es_url, ONIONWATCH_INDEX_PREFIX=prefix,
               ONIONWATCH_SITES=sites, ONIONWATCH_PII_KEY="lab-apps-pii-key")
    apps = [site(apps_lab, role) for role in ROLES]
    before = {s["role"]: len(requests_of(s)) for s in apps}
    started = time.time()
    # every app is a seed; discovery off, or the wiki's directory would take the crawl to the whole lab
    proc = run_onionwatch(["crawl", "--seeds", ",".join(s["onion"] for s in apps), "--summary-json",
                           "--timeout", "30", "-s", "ONIONWATCH_MAX_PAGES_PER_ONION=400",
                           "-s", "ONIONWATCH_DISCOVER=0"], env)
    seconds = time.time() - started
    assert proc.returncode == 0, proc.stderr[-3000:]
    summary = json.loads(proc.stdout[proc.stdout.index("{"):])
    pages = {}
    for s in apps:
        hits, after = [], None
        while True:
            args = ["search", "--onion", s["onion"], "--json", "--size", "500"] + (["--after", after] if after else [])
            res = run_onionwatch(args, env)
            assert res.returncode == 0, res.stderr[-2000:]
            out = json.loads(res.stdout)
            hits += out["hits"]
            after = out.get("next")
            if not after:
                break
        pages[s["role"]] = hits
    requests = {s["role"]: requests_of(s)[before[s["role"]]:] for s in apps}
    print("apps crawl:", round(seconds, 1), "s;", {r: len(h) for r, h in pages.items()}, "pages;",
          {r: len(q) for r, q in requests.items()}, "requests")
    yield {"env": env, "summary": summary, "pages": pages, "requests": requests, "seconds": seconds,
           "sites": {s["role"]: s for s in apps}}
    drop_prefix(make_client(es_url), prefix)


def _truth(site: dict) -> list[dict]:
    return json.loads(Path(site["truth"]).read_text())["items"]


def _path(url: str) -> str:
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


@pytest.mark.slow
def test_apps_are_listed_with_their_roles_and_request_logs(apps_lab) -> None:
    from tests.fixtures_lab import lab_env, run_onionwatch

    proc = run_onionwatch(["lab", "status", "--json"], lab_env(apps_lab, Path(apps_lab["root"])))
    status = json.loads(proc.stdout)
    by_role = {s["role"]: s for s in status["sites"]}
    for role, app in (("app-pinnwand", "pinnwand"), ("app-oscar", "oscar"), ("app-mediawiki", "mediawiki")):
        entry = by_role[role]
        assert entry["app"] == app and entry["onion"].endswith(".onion") and entry["local_url"].startswith("http://127.0.0.1:")
        assert Path(entry["profile"]).is_file() and Path(entry["truth"]).is_file() and entry["seeded"] > 0
    assert set(ROLES) <= set(status["options"])


@pytest.mark.slow
def test_every_seeded_item_is_crawled_through_tor_and_pagination_ends(apps_crawl) -> None:
    for role, site in apps_crawl["sites"].items():
        got = {_path(h["url"]) for h in apps_crawl["pages"][role]}
        want = {i["path"] for i in _truth(site)}
        assert want <= got, f"{role}: not reached {sorted(want - got)[:5]}"
    oscar = apps_crawl["sites"]["app-oscar"]
    n = len(_truth(oscar))
    got = {_path(h["url"]) for h in apps_crawl["pages"]["app-oscar"]}
    pages = sorted(int(m[1]) for p in got if (m := re.fullmatch(r"/catalogue/\?page=(\d+)", p)))
    last = math.ceil(n / 20)
    assert pages and max(pages) == last, f"catalogue pages {pages}: pagination ends at {last}"
    requested = [p for m, p in apps_crawl["requests"]["app-oscar"]]
    assert not [p for p in requested if re.search(r"[?&]page=(\d+)", p) and
                int(re.search(r"[?&]page=(\d+)", p)[1]) > last], "no page past the last"
    # bounded: every page the crawler stored on the shop is a product, a category/catalogue page or one of
    # a handful of fixed pages, and each catalogue/category page at most once
    assert len(apps_crawl["pages"]["app-oscar"]) <= n + 60
    assert len(requested) <= n + 80
    assert len(apps_crawl["pages"]["app-pinnwand"]) <= len(_truth(apps_crawl["sites"]["app-pinnwand"])) + 10
    # the wiki: its articles only, not the edit/history/diff/special pages around every one of them
    assert len(apps_crawl["pages"]["app-mediawiki"]) <= len(_truth(apps_crawl["sites"]["app-mediawiki"])) + 3


@pytest.mark.slow
def test_no_form_was_submitted_and_no_action_followed(apps_crawl) -> None:
    for role, reqs in apps_crawl["requests"].items():
        assert reqs, f"{role}: its request log saw the crawl"
        methods = {m for m, _ in reqs}
        assert methods <= {"GET", "HEAD"}, f"{role}: {methods - {'GET', 'HEAD'}} requests in its own log"
    oscar = [p for _, p in apps_crawl["requests"]["app-oscar"]]
    assert not [p for p in oscar if re.match(r"/(basket|checkout|accounts|dashboard)/", p) or "sort_by=" in p
                or "selected_facets=" in p or "/reviews/add/" in p], "excluded actions, sort orders, facets never requested"
    pw = [p for _, p in apps_crawl["requests"]["app-pinnwand"]]
    assert not [p for p in pw if re.match(r"/(remove|repaste|create|hex|download|raw)\b", p)]
    wiki = [p for _, p in apps_crawl["requests"]["app-mediawiki"]]
    assert not [p for p in wiki if re.search(r"[?&](action|oldid|diff|feed|days|limit)=|/(Special|Talk|User):", p)]


@pytest.mark.slow
def test_listings_and_pastes_are_searchable_and_tagged(apps_crawl) -> None:
    from tests.fixtures_lab import run_onionwatch

    env = apps_crawl["env"]
    for role, site in apps_crawl["sites"].items():
        hits = {_path(h["url"]): h for h in apps_crawl["pages"][role]}
        for kind in ("drugs", "leaked_data"):
            items = [i for i in _truth(site) if i["kind"] == kind]
            if not items:
                continue
            tagged = [i for i in items if kind in hits[i["path"]]["categories"]]
            print(f"{role} {kind}: {len(tagged)}/{len(items)} tagged; not: "
                  f"{[(i['source'], hits[i['path']]['categories']) for i in items if i not in tagged]}")
            assert len(tagged) >= 0.8 * len(items), f"{role}: {len(tagged)}/{len(items)} {kind} items tagged {kind}"
        if role == "app-pinnwand":  # a paste with no personal data (a server config) is no leak
            others = [i for i in _truth(site) if i["kind"] == "other" and "leaked_data" in hits[i["path"]]["categories"]]
            assert not others, f"{role}: not leaked data, tagged so: {others}"
    oscar = apps_crawl["sites"]["app-oscar"]
    proc = run_onionwatch(["search", "ketamine", "--onion", oscar["onion"], "--category", "drugs", "--json"], env)
    result = json.loads(proc.stdout)
    assert result["total"] >= 2 and all("/catalogue/" in h["url"] for h in result["hits"])
    pw = apps_crawl["sites"]["app-pinnwand"]
    proc = run_onionwatch(["search", "--onion", pw["onion"], "--category", "leaked_data",
                           "--entity", "EMAIL_ADDRESS", "--json"], env)
    result = json.loads(proc.stdout)
    assert result["total"] >= 3
    leaked = run_onionwatch(["search", "--pii-value", "anong.s@example.com", "--pii-label", "EMAIL_ADDRESS", "--json"], env)
    lookup = json.loads(leaked.stdout)["pii"]
    assert lookup["found"] and pw["onion"] in {o["onion"] for o in lookup["onions"]}
