"""Runs django-oscar (the PyPI e-commerce framework) as a lab onion's shop, in Oscar's own venv.

Not part of the `lab` package: `lab.apps` starts it as
``<venv>/bin/python oscar_lab.py --config app.json`` with this directory on PYTHONPATH (the
Django project `oscar_lab_site`). It copies the migrated empty database made once per install
(``--prepare``: `migrate` takes a while, a lab start should not), inserts the seeded catalogue
once (categories, one partner per vendor, products with a stock record and a price), then
replaces itself with gunicorn bound to 127.0.0.1, writing its access log (request line,
status) to the app's request log. Prints one JSON line with the seeded URLs before serving.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
from decimal import Decimal
from pathlib import Path

HERE = Path(__file__).resolve().parent


def _django(cfg_path: Path) -> None:
    os.environ["OSCAR_LAB_CONFIG"] = str(cfg_path.resolve())
    os.environ["DJANGO_SETTINGS_MODULE"] = "oscar_lab_site.settings"
    sys.path.insert(0, str(HERE))
    import django

    django.setup()


def prepare(template: Path) -> None:
    """Migrate an empty database once (the install's template for every lab start)."""
    from django.core.management import call_command

    call_command("migrate", interactive=False, verbosity=0)
    print(json.dumps({"template": str(template)}), flush=True)


def _category(path: list[str]):
    from oscar.core.loading import get_model

    category = get_model("catalogue", "Category")
    node = None
    for name in path:
        kids = category.objects.get_root_nodes() if node is None else node.get_children()
        found = kids.filter(name=name).first()
        if found is None:
            new = category(name=name)  # treebeard 7: nodes are added as unsaved instances
            found = category.objects.add_root(instance=new) if node is None else node.add_child(instance=new)
        node = found
    return node


def seed(cfg: dict) -> dict:
    """Insert the catalogue (once: a product whose UPC is there already is skipped)."""
    from django.contrib.sites.models import Site
    from django.db import transaction
    from oscar.core.loading import get_model

    product_class = get_model("catalogue", "ProductClass")
    product = get_model("catalogue", "Product")
    product_category = get_model("catalogue", "ProductCategory")
    partner = get_model("partner", "Partner")
    stock_record = get_model("partner", "StockRecord")

    Site.objects.update_or_create(id=1, defaults={"domain": cfg.get("domain") or "localhost",
                                                  "name": cfg.get("shop_name", "Oscar")})
    kind, _ = product_class.objects.get_or_create(name="Listing", defaults={"requires_shipping": True,
                                                                             "track_stock": False})
    added = 0
    with transaction.atomic():
        for item in cfg.get("products") or []:
            if product.objects.filter(upc=item["upc"]).exists():
                continue
            p = product.objects.create(product_class=kind, title=item["title"][:255], upc=item["upc"],
                                       description=item["description"], is_public=True,
                                       structure="standalone")
            product_category.objects.create(product=p, category=_category(item["category"]))
            seller, _ = partner.objects.get_or_create(name=item["vendor"][:128])
            stock_record.objects.create(product=p, partner=seller, partner_sku=item["upc"],
                                        price=None if item["price"] is None else Decimal(str(item["price"])),
                                        price_currency=item["currency"],
                                        num_in_stock=item.get("stock", 50))
            added += 1
    if added or not (Path(cfg["database"]).parent / "whoosh").exists():
        from django.core.management import call_command

        call_command("update_index", verbosity=0)  # the catalogue pages list what the search index has
    urls = {p.upc: p.get_absolute_url() for p in product.objects.all()}
    return {"added": added, "products": urls}


def serve(cfg: dict, cfg_path: Path) -> None:
    gunicorn = Path(sys.executable).parent / "gunicorn"
    args = [str(gunicorn), "oscar_lab_site.wsgi:application", "--bind", f"127.0.0.1:{cfg['port']}",
            "--workers", str(cfg.get("workers", 1)), "--threads", str(cfg.get("threads", 4)),
            "--worker-class", "gthread", "--access-logfile", cfg["request_log"],
            "--error-logfile", "-", "--log-level", "warning", "--chdir", str(HERE), "--timeout", "60",
            "--no-control-socket"]
    os.environ["PYTHONPATH"] = str(HERE)
    os.execv(args[0], args)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--config", required=True, type=Path)
    ap.add_argument("--prepare", action="store_true", help="only migrate the template database")
    ns = ap.parse_args()
    cfg = json.loads(ns.config.read_text(encoding="utf-8"))
    _django(ns.config)
    if ns.prepare:
        prepare(Path(cfg["database"]))
        return
    Path(cfg["media_root"]).mkdir(parents=True, exist_ok=True)
    missing = Path(cfg["media_root"]) / "image_not_found.jpg"
    if not missing.exists():  # Oscar's placeholder for products without an image (its sandbox does the same)
        import oscar

        shutil.copy(Path(oscar.__file__).parent / "static" / "oscar" / "img" / "image_not_found.jpg", missing)
    result = seed(cfg)
    print(json.dumps({"listening": f"127.0.0.1:{cfg['port']}", "seeded": result["added"],
                      "products": result["products"]}), flush=True)
    serve(cfg, ns.config)


if __name__ == "__main__":
    main()
